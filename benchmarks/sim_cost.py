"""How the sampler's bookkeeping cost grows with the prompt pool, before/after side by side.

Times the public calls a training run makes on the real ``SRPOSampler`` (stage 2, math + code,
History Resampling on), at several pool sizes, for this checkout and for the ``srpo/`` package of an
earlier commit (``git archive``), each in its own subprocess:

* set-up: ``SRPOSampler(ids, domains, config)``;
* step: one ``draw(256)`` plus ``record`` of its 256 x 32 outcomes (mean of 20 steps; building the
  rollouts' id list, the trainer's work, is not timed);
* epoch start: the first ``draw`` of a run, which orders the epoch;
* epoch end: ``history.end_epoch()`` after every prompt of the pool was seen once.

    python -m benchmarks.sim_cost                          # table: this checkout vs BEFORE_REF
    python -m benchmarks.sim_cost --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# The commit before this branch's bookkeeping speed-ups (domain codes instead of strings).
BEFORE_REF = "fd347fe"
SIZES = (10_000, 100_000, 1_000_000)
BATCH, GROUP, STEPS = 256, 32, 20
PHASES = ("setup_s", "step_ms", "epoch_start_s", "epoch_end_s")


def sampler_api() -> tuple[Path, Any, Any, Any]:
    """The first ``srpo`` on the path (the subprocesses put the version they measure there): its
    folder, ``CurriculumConfig``, ``SRPOConfig`` and ``SRPOSampler``.

    Imported from that folder's own layout (``srpo/algorithm/`` since fce3d43, flat before): asking an
    old tree for ``srpo.algorithm.*`` would be answered by the editable install's finder, silently
    timing this checkout as "before"."""
    import srpo

    root = Path(srpo.__file__).resolve().parent
    prefix = "srpo.algorithm" if (root / "algorithm").is_dir() else "srpo"
    config = importlib.import_module(f"{prefix}.config")
    sampler = importlib.import_module(f"{prefix}.sampler")
    for module in (config, sampler):
        if not Path(module.__file__).resolve().is_relative_to(root):
            raise RuntimeError(f"sim_cost: {module.__name__} came from {module.__file__}, not from {root}")
    return root, config.CurriculumConfig, config.SRPOConfig, sampler.SRPOSampler


def measure(sizes: list[int]) -> dict[int, dict[str, float]]:
    """Seconds (ms for a step) of each phase per pool size, with whichever ``srpo`` is importable."""
    _, CurriculumConfig, SRPOConfig, SRPOSampler = sampler_api()
    out = {}
    for n in sizes:
        ids = [f"p{i}" for i in range(n)]
        domains = ["math"] * (3 * n // 4) + ["code"] * (n - 3 * n // 4)
        cfg = SRPOConfig(seed=0, curriculum=CurriculumConfig(switch_step=1)).validate()
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        sampler = SRPOSampler(ids, domains, cfg)
        setup = time.perf_counter() - t0
        sampler.set_step(1)
        t0 = time.perf_counter()
        sampler.draw(BATCH)
        epoch_start = time.perf_counter() - t0
        step_s = 0.0
        for step in range(2, STEPS + 2):
            sampler.set_step(step)
            t0 = time.perf_counter()
            rows = sampler.draw(BATCH)
            step_s += time.perf_counter() - t0
            rollout_ids = [ids[r] for r in rows for _ in range(GROUP)]  # the trainer's job: not timed
            t0 = time.perf_counter()
            sampler.record(rollout_ids, rng.random(BATCH * GROUP) < 0.5)
            step_s += time.perf_counter() - t0
        step_ms = step_s / STEPS * 1e3
        sampler.history.record(ids, rng.random(n) < 0.5)  # the whole pool seen once, as in an epoch
        t0 = time.perf_counter()
        sampler.history.end_epoch()
        epoch_end = time.perf_counter() - t0
        out[n] = dict(zip(PHASES, (setup, step_ms, epoch_start, epoch_end), strict=True))
    return out


def measure_in_subprocess(srpo_root: Path, sizes: list[int]) -> dict[int, dict[str, float]]:
    """``measure`` in a fresh interpreter that imports ``srpo`` from ``srpo_root``."""
    env = dict(os.environ, PYTHONPATH=str(srpo_root))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", "--sizes", *map(str, sizes)]
    done = subprocess.run(cmd, env=env, cwd=srpo_root, capture_output=True, text=True, check=True)
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    measured = Path(reply["srpo"])
    if measured != (srpo_root / "srpo").resolve():
        raise RuntimeError(f"sim_cost: meant to time the srpo in {srpo_root}, but {measured} was imported")
    return {int(k): v for k, v in reply["phases"].items()}


def export_srpo(ref: str, dest: Path) -> Path:
    """The ``srpo/`` package as it was at ``ref``, unpacked under ``dest``."""
    archive = dest / "srpo.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(REPO), "archive", ref, "srpo"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def cost_table(sizes: list[int], before_ref: str = BEFORE_REF) -> str:
    """Markdown table: each phase per pool size, before (``before_ref``) / after (this checkout)."""
    with tempfile.TemporaryDirectory() as tmp:
        before = measure_in_subprocess(export_srpo(before_ref, Path(tmp)), sizes)
    after = measure_in_subprocess(REPO, sizes)
    header = "| prompts | " + " | ".join(f"{p} before / after (x)" for p in PHASES) + " |"
    lines = [header, "|" + " --- |" * (len(PHASES) + 1)]
    for n in sizes:
        cells = []
        for p in PHASES:
            b, a = before[n][p], after[n][p]
            cells.append(f"{b:.3g} / {a:.3g} ({b / a:.1f}x)" if a > 0 else f"{b:.3g} / {a:.3g}")
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    note = (
        f"Before: `srpo/` at {before_ref}; after: this checkout. Stage 2 (75% math, 25% code), History "
        "Resampling on; `benchmarks/sim_cost.py`."
    )
    return "\n".join([*lines, "", note])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--before-ref", default=BEFORE_REF)
    parser.add_argument(
        "--measure", action="store_true", help="internal: measure with the srpo on PYTHONPATH"
    )
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps({"srpo": str(sampler_api()[0]), "phases": measure(args.sizes)}))
    else:
        print(cost_table(args.sizes, args.before_ref))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
