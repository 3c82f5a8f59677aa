"""Code-reward waiting as a share of step time, measured inside a real run of the embedded default.

    python -m benchmarks.bench_reward_tail [--out runs/reward_tail] [-- HYDRA_OVERRIDES...]
    python -m benchmarks.bench_reward_tail --from-run runs/reward_tail

The first form runs ``python -m srpo.main output_dir=OUT`` (the embedded default: 40 steps, stage 2
from step 20) and then reads its metrics; the second only reads an existing run. The SRPO trainer logs,
per step, ``srpo/reward_wait/tail_s/<domain>``: how long after the last response of the step was
generated that domain's rewards were still running (``srpo/verl_glue/reward_wait.py``; verl scores rollouts as
they finish, overlapped with generation, so only this tail adds to the step). The report gives, per
stage, the median step and generation times, the median and total code and math tails, and the
share of step time spent waiting for code rewards (target: under 5%).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import REPO as ROOT
from srpo.tools.report import load_metrics

TAIL = "srpo/reward_wait/tail_s/{}"
SCORE = "srpo/reward_wait/score_mean_s/{}"


def stage_rows(metrics: dict[int, dict[str, float]]) -> dict[int, list[dict[str, float]]]:
    """Trained steps that logged the reward tail, grouped by curriculum stage."""
    stages: dict[int, list[dict[str, float]]] = {}
    for _, m in sorted(metrics.items()):
        if "srpo/reward_wait/tail_s" in m and "timing_s/step" in m:
            stages.setdefault(int(m.get("srpo/stage", 1)), []).append(m)
    return stages


def summarize(rows: list[dict[str, float]], domain: str) -> dict[str, float]:
    """Medians and totals of one stage's steps; missing domain keys count as no tail."""
    steps = [r["timing_s/step"] for r in rows]
    tails = [r.get(TAIL.format(domain), 0.0) for r in rows]
    scores = [r[SCORE.format(domain)] for r in rows if SCORE.format(domain) in r]
    return {
        "steps": len(rows),
        "step_median_s": statistics.median(steps),
        "gen_median_s": statistics.median(r.get("timing_s/gen", 0.0) for r in rows),
        "tail_median_s": statistics.median(tails),
        "tail_max_s": max(tails),
        "score_mean_s": statistics.fmean(scores) if scores else 0.0,
        "share_total": sum(tails) / sum(steps),
    }


def report(run_dir: Path, command: str) -> str:
    metrics = load_metrics(run_dir.glob("metrics-*.jsonl"))
    stages = stage_rows(metrics)
    if not stages:
        raise SystemExit(
            f"{run_dir}: no step logged srpo/reward_wait/tail_s (a run from before this metric?)"
        )
    load = os.getloadavg()
    lines = [
        "## Reward waiting inside a run (`benchmarks/bench_reward_tail.py`)",
        "",
        f"Command: `{command}`; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, "
        f"{os.cpu_count()} cpus.",
        "",
        "| stage | domain | steps | median step s | median gen s | mean scoring s per rollout "
        "| median tail s | max tail s | tail / step time (all steps) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for stage, rows in sorted(stages.items()):
        for domain in ("math", "code"):
            if not any(SCORE.format(domain) in r for r in rows):
                continue
            s = summarize(rows, domain)
            lines.append(
                f"| {stage} | {domain} | {s['steps']} | {s['step_median_s']:.2f} | {s['gen_median_s']:.2f} "
                f"| {s['score_mean_s']:.3f} | {s['tail_median_s']:.3f} | {s['tail_max_s']:.3f} "
                f"| {100 * s['share_total']:.1f}% |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "reward_tail", help="run folder to create")
    ap.add_argument("--from-run", type=Path, help="only read this existing run folder")
    ap.add_argument("--write", type=Path, default=ROOT / "benchmarks" / "results" / "reward_tail.md")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides for the run (after --)")
    args = ap.parse_args()
    if args.from_run is not None:
        run_dir, command = args.from_run, " ".join(["python", *sys.argv])
    else:
        run_dir = args.out
        cmd = [sys.executable, "-m", "srpo.main", f"output_dir={run_dir}", *args.overrides]
        start = time.monotonic()
        if subprocess.run(cmd, cwd=ROOT).returncode != 0:
            raise SystemExit(f"the run failed: {' '.join(cmd)}")
        print(f"run finished in {time.monotonic() - start:.0f} s", file=sys.stderr)
        command = " ".join(["python", *sys.argv])
    text = report(run_dir, command)
    print(text)
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
