"""Generate a family's fixed train / held-out splits and write them as verl-format parquet.

Rows follow docs/data_format.md. Questions are de-duplicated and assigned to a split by a hash of
their text (``problem.split_of``), so the splits are disjoint by construction and a held-out question
stays held out under every seed; the seed only decides which questions are drawn and in what order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from srpo.data.rows import ROW_ARROW_SCHEMA
from srpo.embedded.arith import make_arith
from srpo.embedded.codegen import make_codegen
from srpo.embedded.problem import FAMILIES, SPLITS, Problem, check_level, split_of

DATA_SOURCES = {"arith": "srpo/arith", "codegen": "srpo/codegen"}
TEST_PERCENT = 20
_MAKERS = {"arith": make_arith, "codegen": make_codegen}


def _check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ValueError(f"unknown task family {family!r}; expected one of {sorted(FAMILIES)}")
    return family


def generate(family: str, split: str, count: int, levels: Sequence[int], seed: int) -> list[Problem]:
    """``count`` distinct problems of one split, levels drawn uniformly from ``levels``.

    Fails with a clear message when the levels cannot supply that many distinct questions.
    """
    _check_family(family)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    if not levels:
        raise ValueError("levels must name at least one difficulty level")
    levels = [check_level(level) for level in levels]
    # The split name is part of the stream's seed so the two splits are drawn independently.
    rng = random.Random(f"{family}:{split}:{seed}")
    make = _MAKERS[family]
    return draw_distinct(lambda: make(rng, rng.choice(levels)), split, count, f"{family} levels {levels}")


def draw_distinct(draw: Callable[[], Problem], split: str, count: int, what: str) -> list[Problem]:
    """``count`` problems from ``draw`` with distinct questions that hash into ``split``.

    Many draws in a row bringing nothing new means the question space is used up: fail with a
    message naming ``what`` was asked for, instead of looping forever.
    """
    seen: set[str] = set()
    problems: list[Problem] = []
    patience, stale = 3000, 0
    while stale < patience:
        problem = draw()
        stale += 1
        if problem.question in seen or split_of(problem.question, TEST_PERCENT) != split:
            continue
        seen.add(problem.question)
        problems.append(problem)
        stale = 0
        if len(problems) == count:
            return problems
    raise ValueError(
        f"{what} hold fewer than {count} distinct {split} questions "
        f"(found {len(problems)}; {patience} draws in a row brought none new); ask for fewer or add levels"
    )


def to_row(problem: Problem, split: str, index: int, source: str | None = None) -> dict[str, Any]:
    """One verl-format row (docs/data_format.md) for a problem; ``source`` defaults to its family's."""
    return {
        "data_source": source or DATA_SOURCES[problem.family],
        "prompt": [{"role": "user", "content": problem.question}],
        "ability": problem.domain,
        "reward_model": {"style": "rule", "ground_truth": problem.ground_truth},
        "extra_info": {
            "prompt_id": problem.prompt_id,
            "domain": problem.domain,
            "split": split,
            "index": index,
            "difficulty": str(problem.level),
        },
    }


def write_parquet(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write rows with the fixed schema above (so files of both families can be concatenated)."""
    if not rows:
        raise ValueError(f"refusing to write an empty dataset to {path}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=ROW_ARROW_SCHEMA), str(path))
    return path


def write_family(
    family: str, out_dir: str | Path, n_train: int, n_test: int, levels: Sequence[int], seed: int
) -> dict[str, Path]:
    """Write ``<out_dir>/<family>_train.parquet`` and ``<family>_test.parquet``; return their paths."""
    paths = {}
    for split, count in (("train", n_train), ("test", n_test)):
        problems = generate(family, split, count, levels, seed)
        rows = [to_row(p, split, i) for i, p in enumerate(problems)]
        paths[split] = write_parquet(rows, Path(out_dir) / f"{family}_{split}.parquet")
    return paths
