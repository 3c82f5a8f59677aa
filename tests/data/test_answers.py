"""GSM8K's '####' final-answer line (boxed answers: tests/reward_fns/test_math_answer.py)."""

from __future__ import annotations

import pytest

from srpo.data.answers import gsm8k_final_answer


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
