"""The plain-data codec between a program and its test: exact round trips, and nothing else decodes."""

from __future__ import annotations

import collections
import enum
import math

import pytest

from sandbox import plain

VALUES = [
    None,
    True,
    0,
    -(10**400),  # big ints travel as hex
    3 ** (3**8),
    1.5,
    -0.0,
    math.inf,
    "",
    "é\udcff\n\x00",
    b"\x00\xff",
    bytearray(b"ab"),
    complex(1, -2),
    [1, [2, (3, 4)]],
    (),
    {"a": 1, 2: "b", (1, 2): None, None: [], False: 0.5},
    {1, (2, 3), frozenset({4})},
    frozenset(),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_round_trip_is_exact(value):
    back = plain.decode(plain.encode(value))
    assert type(back) is type(value)
    assert back == value and repr(back) == repr(value)


def test_nan_and_nested_types_survive():
    back = plain.decode(plain.encode([math.nan, {"k": (1, {2})}]))
    assert math.isnan(back[0]) and type(back[1]["k"]) is tuple and type(back[1]["k"][1]) is set


def test_subclasses_cross_as_their_base_value():
    class Liar(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    class Color(enum.IntEnum):
        RED = 2

    sent = [Liar(7), Color.RED, collections.Counter("aab"), collections.OrderedDict(x=1)]
    back = plain.decode(plain.encode(sent))
    assert back == [7, 2, {"a": 2, "b": 1}, {"x": 1}]
    assert [type(v) for v in back] == [int, int, dict, dict]


@pytest.mark.parametrize(
    "value", [object(), iter([]), (x for x in ()), len, type, range(3), [1, object()], {1: object()}]
)
def test_anything_else_is_refused(value):
    with pytest.raises(plain.NotPlainData):
        plain.encode(value)


def test_cycles_and_deep_nesting_are_refused():
    loop: list = []
    loop.append(loop)
    with pytest.raises(plain.NotPlainData):
        plain.encode(loop)
    deep: list = []
    for _ in range(1000):
        deep = [deep]
    with pytest.raises(plain.NotPlainData):
        plain.encode(deep)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[1,",
        '{"a": 1}',  # an untagged object
        '{"tuple": [1], "set": [2]}',
        '{"tuple": "12"}',
        '{"int": [1]}',
        '{"set": [[1]]}',  # unhashable member
        '{"dict": [[[1], 2]]}',  # unhashable key
        '{"dict": [[1]]}',
        '{"bytes": "zz"}',
        "[" * 100_000 + "]" * 100_000,
        b"\xff\xfe",
    ],
)
def test_malformed_text_is_a_value_error(text):
    with pytest.raises(ValueError, match="malformed plain data"):
        plain.decode(text)
