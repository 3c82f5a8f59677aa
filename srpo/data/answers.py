"""GSM8K's final-answer line (``#### 72``). A MATH solution's ``\\boxed{}`` answer is read by the
project's one box extractor, :func:`reward_fns.math_answer.boxed_answer`, the one the reward uses."""

from __future__ import annotations

import re

_NUMBER_WITH_COMMAS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")


def gsm8k_final_answer(solution: str) -> str | None:
    """The text after the last ``####``; thousands separators dropped (``1,000`` -> ``1000``).

    None when the marker is missing or nothing follows it.
    """
    if "####" not in solution:
        return None
    answer = solution.rsplit("####", 1)[1].strip()
    if _NUMBER_WITH_COMMAS.match(answer):
        answer = answer.replace(",", "")
    return answer or None
