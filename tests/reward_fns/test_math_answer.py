"""The one boxed-answer extractor (rewards and data conversion both use it)."""

from __future__ import annotations

import time

import pytest

from reward_fns.math_answer import boxed_answer, last_boxed, last_boxed_group


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so \boxed{4}", "4"),
        (r"\boxed{1} then \boxed{2}", "2"),
        (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt{3}}{2}"),
        (r"\boxed{\{1,2\}}", r"\{1,2\}"),
        (r"\boxed 7.", "7"),
        (r"$\boxed 7$", "7"),
        (r"\fbox{8}", "8"),
        (r"\boxed{1} and \fbox{9}", "9"),
        (r"\boxed{3} then \boxed{4", "3"),  # the last *complete* box
        (r"\boxed{4", None),
        ("no box at all", None),
        (r"\boxedfoo{3}", None),
        (r"\boxed {x+1}", "x+1"),
        (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"),
        (r"\boxed{\boxed{5}}", r"\boxed{5}"),  # the outer box is the answer
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    ("text", "group"),
    [
        (r"So \boxed{-2} and \boxed{1}.", ["-2", "1"]),
        ("\\[\n\\boxed{(1, 2)}, \\boxed{(2, 1)}\n\\]", ["(1, 2)", "(2, 1)"]),
        (r"$x = \boxed{3}$ or $x = \boxed{5}$", ["3", "5"]),
        (r"we get \boxed{3}, so the area is \boxed{5}", ["5"]),  # prose: an intermediate box
        (r"\(\boxed{1}\) \text{ and } \(\boxed{-2}\)", ["1", "-2"]),
        (r"First \boxed{32}, then the answer is \boxed{1024}", ["1024"]),
        (r"\fbox{3} and later \boxed{4}", ["4"]),
        ("no box", []),
    ],
)
def test_last_boxed_group(text, group):
    assert last_boxed_group(text) == group


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        (r"so $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        (r"\boxed{-2} and \boxed{1}", "-2, 1"),
        (r"empty \boxed{}", None),
        (r"unbalanced \boxed{5\sqrt{2}$", None),
        (r"the set \boxed{\{-3, 3\}}", r"\{-3, 3\}"),
    ],
)
def test_boxed_answer(text, answer):
    assert boxed_answer(text) == answer


def test_extraction_is_linear_on_hostile_text():
    text = r"\boxed{" * 200_000 + r"\boxed{3}"
    start = time.monotonic()
    assert last_boxed(text) == "3"
    assert boxed_answer(r"\boxed{1} " * 100_000) == "1, " * 99_999 + "1"
    assert time.monotonic() - start < 2.0
