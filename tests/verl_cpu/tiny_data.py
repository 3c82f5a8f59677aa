"""Tiny verl-format math datasets (docs/data_format.md) for CPU runs of verl's trainer."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd


def arithmetic_rows(n: int, split: str, seed: int = 0) -> list[dict]:
    """``n`` two-operand addition prompts, one row each, with stable ``prompt_id``s."""
    rng = random.Random(f"{seed}-{split}")
    rows = []
    for index in range(n):
        a, b = rng.randrange(30), rng.randrange(30)
        rows.append(
            {
                "data_source": "srpo/arith",
                "prompt": [{"role": "user", "content": f"What is {a} + {b}? Answer:"}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": str(a + b)},
                "extra_info": {
                    "prompt_id": f"arith-{split}-{seed}-{index}",
                    "domain": "math",
                    "split": split,
                    "index": index,
                },
            }
        )
    return rows


def write_arithmetic_parquet(path: str | Path, n: int, split: str, seed: int = 0) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(arithmetic_rows(n, split, seed)).to_parquet(path)
    return path
