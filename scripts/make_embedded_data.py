"""Write the embedded task families as verl-format parquet (docs/data_format.md).

    python scripts/make_embedded_data.py --out data/embedded
    python scripts/make_embedded_data.py --out DIR --arith-levels 1 2 --n-train 1000 --n-test 100

Writes ``arith_{train,test}.parquet`` and ``codegen_{train,test}.parquet``. Which questions are held
out is fixed by a hash of each question's text, whatever the seed; the seed picks which are drawn.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srpo.embedded.dataset import write_family
from srpo.embedded.problem import LEVELS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument("--seed", type=int, default=0, help="picks which questions are drawn")
    p.add_argument("--n-train", type=int, default=1000, help="math training prompts")
    p.add_argument("--n-test", type=int, default=128, help="math held-out prompts")
    p.add_argument("--code-n-train", type=int, default=300, help="code training prompts")
    p.add_argument("--code-n-test", type=int, default=64, help="code held-out prompts")
    p.add_argument("--arith-levels", type=int, nargs="+", default=list(LEVELS), choices=LEVELS)
    p.add_argument("--codegen-levels", type=int, nargs="+", default=list(LEVELS), choices=LEVELS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    jobs = (
        ("arith", args.n_train, args.n_test, args.arith_levels),
        ("codegen", args.code_n_train, args.code_n_test, args.codegen_levels),
    )
    for family, n_train, n_test, levels in jobs:
        paths = write_family(family, args.out, n_train, n_test, levels, args.seed)
        for split, path in paths.items():
            print(f"{family} {split}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
