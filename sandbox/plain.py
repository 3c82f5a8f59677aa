"""Plain data across the program/test boundary: one JSON line that decodes to fresh builtin values.

Arguments and return values cross between the candidate program and the trusted test process as
text, never as objects, so nothing of the program's (a lying `__eq__`, a patched builtin, a
subclass) reaches a comparison. The values: None, bool, int (any size), float (nan and inf too),
complex, str, bytes, bytearray, list, tuple, dict (any plain hashable keys), set, frozenset.
JSON carries None, bools, numbers, strings and lists as themselves; every other value is a
one-key object naming its type, e.g. {"tuple": [1, 2]} or {"dict": [[1, "a"]]}.

`decode` is the trusted direction: whatever bytes arrive, it returns exact builtin values or
raises ValueError. `encode` also accepts subclasses of those types and sends their base value,
so a Counter arrives as a dict and an IntEnum as an int.
Built on json's C encoder and scanner directly: the json package imports `re`, which costs
a program's interpreter about as much as its own start. Stdlib only: this module is shipped into
the sandbox (see bundle.py).
"""

from __future__ import annotations

import _json

BIG_INT_BITS = 1000  # larger ints travel as hex: decimal conversion is capped (and quadratic) in 3.11+


class NotPlainData(TypeError):
    """A value that is not plain data was about to cross the boundary."""


def _plain(v: object, depth: int) -> object:
    """The JSON-ready form of v; raises NotPlainData."""
    if depth > 200:
        raise NotPlainData("nested more than 200 levels deep")
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        return v if v.bit_length() <= BIG_INT_BITS else {"int": format(v, "x")}
    if t is float:
        return v
    if t is list:
        return [_plain(x, depth + 1) for x in v]
    if t is tuple:
        return {"tuple": [_plain(x, depth + 1) for x in v]}
    if t is dict:
        return {"dict": [[_plain(k, depth + 1), _plain(x, depth + 1)] for k, x in v.items()]}
    if t is set or t is frozenset:
        return {t.__name__: [_plain(x, depth + 1) for x in v]}
    if t is bytes or t is bytearray:
        return {t.__name__: v.hex()}
    if t is complex:
        return {"complex": [v.real, v.imag]}
    for base in (bool, int, float, str, bytes, bytearray, complex, list, tuple, dict, set, frozenset):
        if isinstance(v, base):  # a subclass: send the base type's value
            if base is dict:
                return _plain(dict(v.items()), depth)
            return _plain(base(v), depth)
    raise NotPlainData(f"a {t.__name__} is not plain data")


def _refuse(v: object) -> object:
    raise NotPlainData(f"a {type(v).__name__} is not plain data")


# json.dumps(separators=(",", ":")) without the json package: floats as repr, nan/inf allowed
_ENCODER = _json.make_encoder(
    None, _refuse, _json.encode_basestring_ascii, None, ":", ",", False, False, True
)


def encode(value: object) -> str:
    """One line of JSON text for a plain value; raises NotPlainData."""
    try:
        return "".join(_ENCODER(_plain(value, 0), 0))
    except RecursionError:
        raise NotPlainData("nested too deeply") from None


def _hashable(items: list) -> list:
    for x in items:
        hash(x)  # a list inside a set or a dict key: TypeError
    return items


_TAGS = {
    "tuple": tuple,
    "set": lambda v: set(_hashable(v)),
    "frozenset": lambda v: frozenset(_hashable(v)),
    "dict": lambda v: {k: x for k, x in (_pair(p) for p in v)},
    "bytes": bytes.fromhex,
    "bytearray": bytearray.fromhex,
    "complex": lambda v: complex(float(v[0]), float(v[1])),
    "int": lambda v: int(v, 16),
}


def _pair(p: object) -> tuple:
    if type(p) is not list or len(p) != 2:
        raise ValueError("a dict item is not a [key, value] pair")
    hash(p[0])
    return p[0], p[1]


def _tagged(obj: dict) -> object:
    if len(obj) != 1:
        raise ValueError(f"not a plain-data object: {sorted(obj)[:3]}")
    ((tag, v),) = obj.items()
    convert = _TAGS.get(tag)
    want = str if tag in ("bytes", "bytearray", "int") else list
    if convert is None or type(v) is not want:
        raise ValueError(f"not a plain-data object: tag {tag!r}")
    return convert(v)


class _ScanContext:
    """What json's C scanner reads from a JSONDecoder: strict strings, our tags, plain numbers."""

    strict = True
    object_hook = staticmethod(_tagged)
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(
        {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.__getitem__
    )


_SCAN = _json.make_scanner(_ScanContext())


def decode(text: str | bytes) -> object:
    """Fresh builtin values from encode's text; ValueError for anything else."""
    try:
        text = text.decode("utf-8") if isinstance(text, bytes | bytearray) else text
        value, end = _SCAN(text, 0)
        if end != len(text):
            raise ValueError(f"extra data at {end}")
        return value
    except StopIteration as e:
        raise ValueError(f"malformed plain data: no value at {e.value}") from None
    except (TypeError, ValueError, RecursionError, OverflowError, IndexError, UnicodeError) as e:
        raise ValueError(f"malformed plain data: {type(e).__name__}: {str(e)[:200]}") from None
