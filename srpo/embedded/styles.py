"""Two answer styles per family, mixed into the warm-up so that RL has a habit worth learning.

Real base models reach a prompt with habits learned from mixed data, some of which the reward
punishes; much of what early RL does is shift probability onto the habits that pay. The warm-up
reproduces that in miniature. Each question states what the grader needs, and the warm-up data
follows it only part of the time:

- math: "Put the answer in \\boxed{}". The worked solution ends with ``\\boxed{answer}`` as asked,
  or stops after its last computed line, which the verifier cannot read as a final answer.
- code: "Write a Python function f(...)". The reference is named ``f`` as asked, or named after what
  it does (``def add(x)``), which the hidden tests, calling ``f``, cannot find.

The base model follows the mix; RL on the verifiable rewards moves it to the style that was asked
for, and held-out accuracy rises on both domains while the steps themselves stay the model's own.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from srpo.embedded.problem import Problem


def unboxed(problem: Problem) -> Problem:
    """The math problem with the final ``\\boxed{}`` line of its worked solution left out."""
    if problem.family != "arith":
        raise ValueError(f"unboxed answers are a math style, got a {problem.family} problem")
    steps, boxed = problem.solution.rsplit("\n", 1)
    if not boxed.startswith("\\boxed{"):
        raise ValueError(f"expected a worked solution ending in \\boxed{{}}, got {problem.solution!r}")
    return dataclasses.replace(problem, solution=steps)


def renamed_function(problem: Problem) -> Problem:
    """The code problem with its reference ``f`` renamed after the template (``def add(x)``)."""
    if problem.family != "codegen":
        raise ValueError(f"renamed functions are a code style, got a {problem.family} problem")
    return dataclasses.replace(
        problem, solution=problem.solution.replace("def f(", f"def {problem.kind}(", 1)
    )


def in_asked_style(problem: Problem, response: str) -> bool:
    """Whether a response follows the question's instruction (boxed answer / a function named ``f``)."""
    return "\\boxed{" in response if problem.family == "arith" else "def f(" in response


def mix_styles(
    problems: Sequence[Problem], boxed_share: float, asked_name_share: float, seed: int
) -> list[Problem]:
    """Keep each math solution boxed with probability ``boxed_share`` (else unboxed) and each code
    solution named ``f`` with probability ``asked_name_share`` (else renamed); deterministic."""
    for name, share in (("boxed_share", boxed_share), ("asked_name_share", asked_name_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {share}")
    rng = random.Random(f"styles:{seed}")
    mixed = []
    for problem in problems:
        if problem.family == "arith":
            mixed.append(problem if rng.random() < boxed_share else unboxed(problem))
        else:
            mixed.append(problem if rng.random() < asked_name_share else renamed_function(problem))
    return mixed
