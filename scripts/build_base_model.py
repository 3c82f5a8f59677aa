"""Build (or fetch from the cache) the tiny base model of the embedded default, and print its path.

python scripts/build_base_model.py                      # warm-up included, cached
python scripts/build_base_model.py --out DIR --skip-warmup   # random init, a few seconds
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

from srpo.embedded.build import MANIFEST, BuildSettings, cached_build, default_cache_dir
from srpo.embedded.warmup import WarmupSettings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = WarmupSettings()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="also copy the model directory here (replaced if present)")
    p.add_argument("--cache-dir", type=Path, default=None, help=f"default: {default_cache_dir()}")
    p.add_argument("--seed", type=int, default=0, help="seeds the corpus, the init and the warm-up")
    p.add_argument("--skip-warmup", action="store_true", help="random-init model (fast; for bring-up)")
    p.add_argument("--steps", type=int, default=defaults.steps, help="warm-up optimiser steps")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="warm-up batch size")
    p.add_argument("--lr", type=float, default=defaults.lr, help="warm-up peak learning rate")
    p.add_argument("--threads", type=int, default=BuildSettings().threads, help="torch CPU threads")
    p.add_argument("--force", action="store_true", help="rebuild even when the cache has this model")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = BuildSettings(
        seed=args.seed,
        skip_warmup=args.skip_warmup,
        threads=args.threads,
        warmup=dataclasses.replace(
            WarmupSettings(), steps=args.steps, batch_size=args.batch_size, lr=args.lr
        ),
    )
    path = cached_build(settings, cache_dir=args.cache_dir, force=args.force, progress=not args.quiet)
    if args.out is not None:
        if args.out.resolve() != path.resolve():
            if args.out.exists():
                shutil.rmtree(args.out)
            shutil.copytree(path, args.out)
        path = args.out
    manifest = json.loads((path / MANIFEST).read_text())
    print(
        f"model: {path}  ({manifest['parameters']:,} parameters, vocab {manifest['vocab_size']}, "
        f"built in {manifest['build_seconds']} s)",
        file=sys.stderr,
    )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
