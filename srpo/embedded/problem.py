"""One generated problem, shared by both task families, and the stable id and split derived from it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

FAMILIES = {"arith": "math", "codegen": "code"}
SPLITS = ("train", "test")
LEVELS = (1, 2, 3)


@dataclass(frozen=True)
class Problem:
    """A prompt with its ground truth and a reference response (the latter feeds only the warm-up)."""

    family: str  # "arith" or "codegen"
    kind: str  # the template that made it, e.g. "two_step"
    level: int  # difficulty level, 1 (easiest) to 3
    question: str  # the user message
    ground_truth: str  # math: plain integer or fraction; code: a JSON test spec
    solution: str  # a correct response in the format the rewards expect

    @property
    def domain(self) -> str:
        return FAMILIES[self.family]

    @property
    def prompt_id(self) -> str:
        """Stable across seeds, runs and machines: History Resampling keys on it."""
        digest = hashlib.sha1(self.question.encode("utf-8")).hexdigest()[:12]
        return f"{self.family}-{digest}"


def split_of(question: str, test_percent: int) -> str:
    """Assign a question to a split by a hash of its text.

    The split depends only on the text, never on the seed or on generation order, so a question is
    held out under every seed and the warm-up, which draws only "train" questions, never sees one.
    """
    if not 0 <= test_percent <= 100:
        raise ValueError(f"test_percent must be in [0, 100], got {test_percent}")
    bucket = int(hashlib.sha256(question.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "test" if bucket < test_percent else "train"


def check_level(level: int) -> int:
    if level not in LEVELS:
        raise ValueError(f"difficulty level must be one of {LEVELS}, got {level!r}")
    return level
