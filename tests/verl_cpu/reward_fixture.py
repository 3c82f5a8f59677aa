"""A reward function for CPU runs of verl's trainer, in verl's ``compute_score`` signature.

1.0 when the reference answer appears as a whole token in the response, else 0.0. It stands in
for ``reward_fns.dispatch.compute_score`` so that these tests need neither sympy nor Docker.
"""

from __future__ import annotations

import re
from typing import Any


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: Any = None, **_: Any
) -> float:
    return 1.0 if re.search(rf"(?<!\d){re.escape(str(ground_truth))}(?!\d)", solution_str) else 0.0
