"""Final-answer extraction."""

from __future__ import annotations

import time

import pytest

from reward_fns.config import DEFAULT_ANSWER_PATTERNS
from reward_fns.math_answer import extract_answer, last_boxed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so \boxed{4}", "4"),
        (r"\boxed{1} then \boxed{2}", "2"),
        (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt{3}}{2}"),
        (r"\boxed{\{1,2\}}", r"\{1,2\}"),
        (r"\boxed 7.", "7"),
        (r"\fbox{8}", "8"),
        (r"\boxed{1} and \fbox{9}", "9"),
        (r"\boxed{3} then \boxed{4", "3"),  # the last *complete* box
        (r"\boxed{4", None),
        ("no box at all", None),
        (r"\boxedfoo{3}", None),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    ("text", "expected", "source"),
    [
        (r"x \boxed{5} and the answer is 6", "5", "boxed"),
        ("The answer is 17.", "17", "pattern:4"),
        ("the answer is $\\frac{2}{3}$.", "\\frac{2}{3}", "pattern:3"),
        ("Final answer: 12", "12", "pattern:2"),
        ("The final answer is: $x=3$", "x=3", "pattern:1"),
        ("work\nAnswer: 12\n", "12", "pattern:5"),
        ("Natalia sold 24 clips.\n#### 72", "72", "pattern:6"),
        ("<think>hm</think><answer>\n 4 \n</answer>", "4", "pattern:0"),
    ],
)
def test_extract_answer_patterns(text, expected, source):
    found = extract_answer(text, DEFAULT_ANSWER_PATTERNS)
    assert found is not None and (found.text, found.source) == (expected, source)


def test_configured_pattern_and_boxed_off():
    found = extract_answer(r"\boxed{1} RESULT=[42]", [r"RESULT=\[(\d+)\]"], use_boxed=False)
    assert found is not None and found.text == "42"
    assert extract_answer("nothing here", [r"RESULT=(\d+)"]) is None


def test_extraction_is_linear_on_hostile_text():
    text = r"\boxed{" * 200_000 + r"\boxed{3}"
    start = time.monotonic()
    assert last_boxed(text) == "3"
    assert time.monotonic() - start < 2.0
