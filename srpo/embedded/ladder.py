"""The ladder task: arithmetic chains of 1 to 6 steps, one data source per rung.

A rung-``k`` problem chains ``k`` table facts, alternating an addition of a digit with the inverse of
an addition (a subtraction whose result is a digit), e.g. rung 4: ``Compute 3 + 8 - 6 + 4 - 7.``
worked as ``3 + 8 = 11``, ``11 - 6 = 5``, ``5 + 4 = 9``, ``9 - 7 = 2``, ``\\boxed{2}``. Every step is
a fact the embedded base model learned in its warm-up, and rungs 1-3 are exactly the warm-up's
``add`` / ``add_sub`` / ``add_sub_add`` templates; rungs 4-6 are longer than anything it saw. So the
short rungs are solved once the answer style is fixed, and the long rungs need a skill (carrying a
chain past three lines) that only RL on the long rungs can teach: the headroom the default task lacks.

Each rung is its own ``data_source`` (``srpo/ladder/r<k>``), so verl's validation reports held-out
accuracy per rung, and ``extra_info.difficulty`` holds the rung. Splits are disjoint by a hash of the
question text as in ``srpo.embedded.dataset``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from srpo.embedded.arith import INSTRUCTION
from srpo.embedded.dataset import draw_distinct, to_row, write_parquet
from srpo.embedded.problem import SPLITS, Problem

MAX_RUNG = 6
SOURCE_PREFIX = "srpo/ladder/r"


def check_rung(rung: int) -> int:
    if not isinstance(rung, int) or not 1 <= rung <= MAX_RUNG:
        raise ValueError(f"ladder rung must be an integer in 1..{MAX_RUNG}, got {rung!r}")
    return rung


def data_source(rung: int) -> str:
    """The per-rung data source, e.g. ``srpo/ladder/r3``."""
    return f"{SOURCE_PREFIX}{check_rung(rung)}"


def make_chain(rng: random.Random, rung: int) -> Problem:
    """One rung-``rung`` chain: odd steps add a digit, even steps subtract back down to a digit."""
    check_rung(rung)
    value = rng.randint(0, 9)
    question, steps = [str(value)], []
    for step in range(1, rung + 1):
        if step % 2:  # value is a digit: adding a digit is an addition fact
            operand = rng.randint(0, 9)
            result, sign = value + operand, "+"
        else:  # value <= 18: subtract so that the result is a digit (an inverse addition fact)
            operand = rng.randint(max(0, value - 9), min(9, value))
            result, sign = value - operand, "-"
        question.append(f"{sign} {operand}")
        steps.append(f"{value} {sign} {operand} = {result}")
        value = result
    return Problem(
        family="arith",
        kind=f"chain{rung}",
        level=rung,
        question=f"Compute {' '.join(question)}. {INSTRUCTION}",
        ground_truth=str(value),
        solution="\n".join([*steps, f"\\boxed{{{value}}}"]),
    )


def generate_rung(rung: int, split: str, count: int, seed: int) -> list[Problem]:
    """``count`` distinct problems of one rung and split (fails clearly when the rung has too few)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    rng = random.Random(f"ladder:{rung}:{split}:{seed}")
    return draw_distinct(lambda: make_chain(rng, rung), split, count, f"ladder rung {rung}")


def generate_ladder(rungs: Sequence[int], split: str, per_rung: int, seed: int) -> list[Problem]:
    """``per_rung`` problems of every rung, interleaved rung by rung (so any prefix spans the ladder)."""
    if not rungs:
        raise ValueError("the ladder needs at least one rung")
    if len(set(rungs)) != len(rungs):
        raise ValueError(f"ladder rungs repeat: {list(rungs)}")
    by_rung = [generate_rung(check_rung(r), split, per_rung, seed) for r in rungs]
    return [group[i] for i in range(per_rung) for group in by_rung]


def write_ladder(
    out_dir: str | Path, rungs: Sequence[int], n_train_per_rung: int, n_test_per_rung: int, seed: int
) -> dict[str, Path]:
    """Write ``<out_dir>/ladder_train.parquet`` and ``ladder_test.parquet``; return their paths."""
    paths = {}
    for split, count in (("train", n_train_per_rung), ("test", n_test_per_rung)):
        problems = generate_ladder(rungs, split, count, seed)
        rows = [to_row(p, split, i, data_source(p.level)) for i, p in enumerate(problems)]
        paths[split] = write_parquet(rows, Path(out_dir) / f"ladder_{split}.parquet")
    return paths
