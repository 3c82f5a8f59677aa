"""Final-answer extraction: GSM8K's '####' line and MATH's last \\boxed{}."""

from __future__ import annotations

import pytest

from srpo.data.answers import gsm8k_final_answer, last_boxed_answer


@pytest.mark.parametrize(
    ("solution", "answer"),
    [
        ("12 * 4 = 48\n#### 48", "48"),
        ("#### 1,250", "1250"),
        ("#### -3,000.5", "-3000.5"),
        ("a #### 1 then #### 2", "2"),
        ("#### 3/4", "3/4"),
        ("no marker here", None),
        ("ends with ####   ", None),
    ],
)
def test_gsm8k_final_answer(solution, answer):
    assert gsm8k_final_answer(solution) == answer


@pytest.mark.parametrize(
    ("solution", "answer"),
    [
        (r"so $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        (r"first \boxed{32}, then \boxed{1024}", "1024"),
        (r"the set \boxed{\{-3, 3\}}", r"\{-3, 3\}"),
        (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"),
        (r"$\boxed 7$", "7"),
        (r"\fbox{3} and later \boxed{4}", "4"),
        (r"\boxed{4} and later \fbox{3}", "3"),
        (r"\boxed {x+1}", "x+1"),
        (r"unbalanced \boxed{5\sqrt{2}$", None),
        (r"empty \boxed{}", None),
        ("no box at all", None),
        (r"\boxedtext{9}", None),
    ],
)
def test_last_boxed_answer(solution, answer):
    assert last_boxed_answer(solution) == answer
