"""A reward for CPU runs of verl's trainer, in verl's ``compute_score`` signature.

The share of digit characters in the response: a graded score that differs between the rollouts of a
prompt even for a random-init model, so the group advantages, and hence the actor update, are non-zero.
The end-to-end test relies on that to check that updated weights reach vLLM.
"""

from __future__ import annotations

from typing import Any


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: Any = None, **_: Any
) -> float:
    text = solution_str.strip()
    return sum(ch.isdigit() for ch in text) / len(text) if text else 0.0
