"""The comparison study: SRPO vs GRPO vs DAPO dynamic sampling (and variants) on the embedded tasks.

Every method is an overlay in configs/baselines/ over configs/embedded.yaml, so all runs share the
model, data, rollout engine, reward, step budget and seeds; only the way prompts are chosen differs.
Runs go one after another (this machine has 2 cores), each a ``python -m srpo.main`` subprocess:

    python -m benchmarks.study --seeds 0 1 2 --out runs/study            # run everything, then report
    python -m benchmarks.study --dry-run                                 # print the commands only
    python -m benchmarks.study --from-runs runs/study --target 0.5       # only aggregate existing runs

What is read back from each run folder:

* ``draws.jsonl`` (the SRPO prompt loader: every batch of prompts drawn, with its step). Rollouts per
  step = prompts drawn x ``rollout.n``; DAPO's refills are draws too, so its over-sampling counts.
  Prompts that ``grpo_skip`` skips before rollout are never drawn, so they (rightly) count nothing.
* ``metrics-*.jsonl`` (verl's file logger): held-out accuracy per data source
  (``val-core/<source>/acc/mean@N``), ``response_length/mean``, ``srpo/zero_adv_group_frac`` and
  DAPO's ``training/filter_groups/evicted_samples``.
* ``study_run.json`` (written here): method, seed, command, exit code, wall time, rollout.n, batch.

Generated tokens per step are estimated as ``response_length/mean`` x rollouts of that step: verl logs
the mean length of the trained batch only, so DAPO's evicted groups are assumed to be as long.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO, table, write_json
from srpo.tools.report import load_metrics, save_figure

METHODS = ("srpo", "grpo", "dapo", "srpo_drop_all_wrong", "srpo_one_stage", "grpo_skip")
ZERO_ADV_KEY = "srpo/zero_adv_group_frac"
EVICTED_KEY = "training/filter_groups/evicted_samples"
LENGTH_KEY = "response_length/mean"
RUN_RECORD = "study_run.json"


# ---------------------------------------------------------------- running


def run_dir(out: Path, method: str, seed: int) -> Path:
    return out / f"{method}-s{seed}"


def run_command(
    method: str, seed: int, out: Path, rollout_n: int, batch: int, steps: int | None, extra: list[str]
) -> list[str]:
    """The exact training command of one (method, seed) run; assets are shared across runs."""
    cmd = [
        sys.executable,
        "-m",
        "srpo.main",
        f"+baselines={method}",
        f"output_dir={run_dir(out, method, seed)}",
        f"srpo.seed={seed}",
        f"embedded.data_dir={out / 'data'}",
        f"actor_rollout_ref.rollout.n={rollout_n}",
        f"data.train_batch_size={batch}",
        "trainer.resume_mode=disable",
    ]
    if steps is not None:
        cmd.append(f"trainer.total_training_steps={steps}")
    return cmd + extra


def run_all(args: argparse.Namespace) -> None:
    """Run methods x seeds sequentially, recording each run's command, exit code and wall time."""
    for seed in args.seeds:
        for method in args.methods:
            cmd = run_command(method, seed, args.out, args.rollout_n, args.batch, args.steps, args.overrides)
            print(shlex.join(cmd), flush=True)
            if args.dry_run:
                continue
            folder = run_dir(args.out, method, seed)
            folder.mkdir(parents=True, exist_ok=True)
            start = time.monotonic()
            with open(folder / "study.log", "ab") as log:
                try:
                    rc = subprocess.run(
                        cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, timeout=args.run_timeout
                    ).returncode
                except subprocess.TimeoutExpired:
                    rc = 124
            record = {
                "method": method,
                "seed": seed,
                "command": shlex.join(cmd),
                "returncode": rc,
                "wall_s": time.monotonic() - start,
                "rollout_n": args.rollout_n,
                "train_batch_size": args.batch,
            }
            write_json(folder / RUN_RECORD, record)
            print(f"  -> exit {rc} in {record['wall_s']:.0f} s", flush=True)


# ---------------------------------------------------------------- reading one run


@dataclass
class RunResult:
    """What one run measured, step by step and at the end."""

    method: str
    seed: int
    wall_s: float | None
    steps: list[int] = field(default_factory=list)
    rollouts: dict[int, int] = field(default_factory=dict)  # per step
    tokens: dict[int, float] = field(default_factory=dict)  # per step (estimate)
    zero_adv: dict[int, float] = field(default_factory=dict)  # share of generated groups with no signal
    held_out: dict[int, dict[str, float]] = field(default_factory=dict)  # step -> source -> accuracy

    def cumulative(self, per_step: dict[int, float], through: int) -> float:
        return float(sum(v for s, v in per_step.items() if s <= through))

    def first_step_reaching(self, target: float, source: str | None = None) -> int | None:
        """First validated step whose held-out accuracy is >= target: the mean over data sources, or
        that of ``source`` alone."""
        for step in sorted(self.held_out):
            accs = self.held_out[step]
            if source is not None:
                accs = {source: accs[source]} if source in accs else {}
            if accs and statistics.fmean(accs.values()) >= target:
                return step
        return None


def _held_out(metrics: dict[int, dict[str, float]]) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for step, data in metrics.items():
        for key, value in data.items():
            if key.startswith("val-core/") and "/acc/mean@" in key:
                source = key[len("val-core/") : key.index("/acc/mean@")]
                out.setdefault(step, {})[source] = float(value)
    return out


def _draws(path: Path) -> dict[int, int]:
    per_step: dict[int, int] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                per_step[int(rec["step"])] = per_step.get(int(rec["step"]), 0) + len(rec["prompt_ids"])
    return per_step


def read_run(folder: Path) -> RunResult:
    """One run folder -> RunResult; fails with the folder's name when it holds no metrics."""
    record_path = folder / RUN_RECORD
    if not record_path.is_file():
        raise FileNotFoundError(f"{folder}: no {RUN_RECORD} (not a study run folder)")
    record = json.loads(record_path.read_text())
    metrics = load_metrics(folder.glob("metrics-*.jsonl"))
    if not metrics:
        raise FileNotFoundError(
            f"{folder}: no metrics-*.jsonl (did the run start? see {folder / 'study.log'})"
        )
    n, batch = int(record["rollout_n"]), int(record["train_batch_size"])
    result = RunResult(
        record["method"], int(record["seed"]), record.get("wall_s"), held_out=_held_out(metrics)
    )
    drawn = _draws(folder / "draws.jsonl")
    train_steps = [s for s, d in metrics.items() if LENGTH_KEY in d]
    result.steps = train_steps
    for step in train_steps:
        data = metrics[step]
        evicted = float(data.get(EVICTED_KEY, 0.0))
        prompts = drawn.get(step, batch + evicted)  # without draws.jsonl: the batch plus DAPO's evictions
        result.rollouts[step] = int(prompts * n)
        result.tokens[step] = float(data[LENGTH_KEY]) * prompts * n
        if ZERO_ADV_KEY in data:
            # DAPO trains only on groups with signal: evicted groups count as zero-advantage ones.
            result.zero_adv[step] = (evicted + float(data[ZERO_ADV_KEY]) * batch) / (evicted + batch)
    return result


# ---------------------------------------------------------------- the comparison


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{statistics.fmean(values):.3g} ± {statistics.stdev(values):.2g}"


def summarize(runs: list[RunResult], target: float, source: str | None = None) -> list[dict[str, Any]]:
    """One row per method: means ± sample standard deviation over its seeds."""
    rows = []
    for method in sorted(
        {r.method for r in runs}, key=lambda m: (METHODS.index(m) if m in METHODS else 99, m)
    ):
        group = [r for r in runs if r.method == method]
        reached = [(r, r.first_step_reaching(target, source)) for r in group]
        hit = [(r, s) for r, s in reached if s is not None]
        finals: dict[str, list[float]] = {}
        for r in group:
            if r.held_out:
                for name, acc in r.held_out[max(r.held_out)].items():
                    finals.setdefault(name, []).append(acc)
        rows.append(
            {
                "method": method,
                "seeds": sorted(r.seed for r in group),
                "reached": f"{len(hit)}/{len(group)}",
                "rollouts_to_target": [r.cumulative(r.rollouts, s) for r, s in hit],
                "tokens_to_target": [r.cumulative(r.tokens, s) for r, s in hit],
                "total_rollouts": [r.cumulative(r.rollouts, max(r.steps, default=0)) for r in group],
                "final_acc": finals,
                "zero_adv_mean": [statistics.fmean(r.zero_adv.values()) for r in group if r.zero_adv],
                "wall_s": [r.wall_s for r in group if r.wall_s is not None],
            }
        )
    return rows


def markdown_table(rows: list[dict[str, Any]], target: float) -> str:
    sources = sorted({s for row in rows for s in row["final_acc"]})
    head = [
        "method",
        "seeds",
        f"reached {target:g}",
        "rollouts to target",
        "gen. tokens to target",
        "rollouts (all steps)",
        *[f"final acc {s}" for s in sources],
        "zero-adv groups",
        "wall s",
    ]
    cells = [
        [
            row["method"],
            ",".join(map(str, row["seeds"])),
            row["reached"],
            _mean_sd(row["rollouts_to_target"]),
            _mean_sd(row["tokens_to_target"]),
            _mean_sd(row["total_rollouts"]),
            *[_mean_sd(row["final_acc"].get(s, [])) for s in sources],
            _mean_sd(row["zero_adv_mean"]),
            _mean_sd(row["wall_s"]),
        ]
        for row in rows
    ]
    return "\n".join(table(head, cells)) + "\n"


def plot(runs: list[RunResult], out: Path) -> list[Path]:
    """held-out accuracy vs cumulative rollouts, and zero-advantage share per step, one colour per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = sorted({r.method for r in runs})
    colours = {m: f"C{i}" for i, m in enumerate(methods)}
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in runs:
        steps = sorted(r.held_out)
        xs = [r.cumulative(r.rollouts, s) for s in steps]
        ys = [statistics.fmean(r.held_out[s].values()) for s in steps]
        label = r.method if r.seed == min(x.seed for x in runs if x.method == r.method) else None
        ax.plot(xs, ys, marker="o", color=colours[r.method], alpha=0.7, label=label)
    ax.set_xlabel("rollouts generated")
    ax.set_ylabel("held-out accuracy (mean over sources)")
    ax.legend(fontsize=8)
    paths.append(save_figure(fig, out / "study_accuracy_vs_rollouts.png"))
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in methods:
        per_step: dict[int, list[float]] = {}
        for r in runs:
            if r.method == m:
                for s, v in r.zero_adv.items():
                    per_step.setdefault(s, []).append(v)
        steps = sorted(per_step)
        ax.plot(steps, [statistics.fmean(per_step[s]) for s in steps], color=colours[m], label=m)
    ax.set_xlabel("step")
    ax.set_ylabel("zero-advantage share of generated groups")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    paths.append(save_figure(fig, out / "study_zero_adv.png"))
    return paths


def aggregate(runs_dir: Path, target: float, source: str | None = None) -> str:
    """Read every study run under ``runs_dir``; write study.md, study.json and the PNGs there."""
    folders = sorted(p.parent for p in runs_dir.glob(f"*/{RUN_RECORD}"))
    if not folders:
        raise SystemExit(f"study: no run folders with {RUN_RECORD} under {runs_dir}")
    runs, skipped = [], []
    for folder in folders:
        try:
            runs.append(read_run(folder))
        except FileNotFoundError as err:
            skipped.append(str(err))
    if not runs:
        raise SystemExit("study: no readable runs:\n  " + "\n  ".join(skipped))
    rows = summarize(runs, target, source)
    report = markdown_table(rows, target)
    notes = "".join(f"\nSkipped: {s}" for s in skipped)
    what = f"{source} held-out accuracy" if source else "held-out accuracy (mean over data sources)"
    suffix = f"-{source.replace('/', '_')}" if source else ""
    (runs_dir / f"study{suffix}.md").write_text(f"Target {what}: {target:g}\n\n{report}{notes}\n")
    write_json(runs_dir / f"study{suffix}.json", {"target": target, "source": source, "methods": rows})
    plot(runs, runs_dir)
    print(report + notes)
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", nargs="+", default=list(METHODS), help="overlays in configs/baselines/")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--out", type=Path, default=REPO / "runs" / "study")
    p.add_argument(
        "--steps", type=int, default=None, help="trainer.total_training_steps (default: embedded's)"
    )
    p.add_argument("--rollout-n", type=int, default=8, help="rollouts per prompt, the same for every method")
    p.add_argument("--batch", type=int, default=16, help="prompts per step, the same for every method")
    p.add_argument("--target", type=float, default=0.5, help="held-out accuracy to reach")
    p.add_argument(
        "--target-source",
        default=None,
        help="data source whose accuracy must reach the target (default: mean)",
    )
    p.add_argument("--run-timeout", type=float, default=4 * 3600, help="seconds before a run is killed")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--from-runs", type=Path, default=None, help="only aggregate the runs in this folder")
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run (after --)")
    args = p.parse_args(argv)
    unknown = [m for m in args.methods if not (REPO / "configs" / "baselines" / f"{m}.yaml").is_file()]
    if unknown:
        p.error(f"unknown method(s) {unknown}: no configs/baselines/<method>.yaml")
    if not 0 < args.target <= 1 or not math.isfinite(args.target):
        p.error(f"--target {args.target}: must be in (0, 1]")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.from_runs is not None:
        aggregate(args.from_runs, args.target, args.target_source)
        return
    run_all(args)
    if not args.dry_run:
        aggregate(args.out, args.target, args.target_source)


if __name__ == "__main__":
    main()
