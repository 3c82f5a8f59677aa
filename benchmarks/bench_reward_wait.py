"""How long the steps of a real training run wait for code rewards, from timestamps of every reward call.

Usage::

    # run the embedded default, short and in stage 2 from step 2, then analyse it
    python benchmarks/bench_reward_wait.py [--out runs/reward_wait] [--steps 16] [--switch-step 2] \\
        [--report benchmarks/results/reward_wait.md] [-- EXTRA_HYDRA_OVERRIDES...]
    # only analyse a run folder that has draws.jsonl, metrics-*.jsonl and reward_timeline.jsonl
    python benchmarks/bench_reward_wait.py --from-run runs/reward_wait [--report PATH]

The first form runs ``python -m srpo.main output_dir=OUT`` (configs/embedded.yaml) with
``srpo.curriculum.switch_step``, ``trainer.total_training_steps``, validation and checkpoints off
(``trainer.val_before_train=false trainer.test_freq=-1 trainer.save_freq=-1``; neither adds to a
training step's own time, but validation calls the reward function too) and
``SRPO_REWARD_TIMELINE=OUT/reward_timeline.jsonl``, so every reward call made by verl's reward-loop
workers appends its pid, domain and start/end time (reward_fns/timeline.py).

What it measures. verl 0.9.1's v1 trainer scores each rollout as soon as its generation ends,
overlapped with the generation of the others, all inside the ``gen`` timer; a step waits for
rewards only in its tail, after the last response is handed to the reward worker. Step k's window
is [t of its draw in draws.jsonl, t of step k+1's draw) (the last step: open-ended); a reward call
belongs to the step whose window holds its start. Per step:

* busy time of a domain: the union of its calls' intervals (an upper bound on its cost: most of it
  overlaps generation);
* tail of a domain: ``max(0, max t_end of its calls - max t_start of all calls of the step)``, the
  time the step still waited for that domain after the last response was handed over (a ``mixed``
  batch call counts for both domains);
* after-reward: ``t_draw + timing_s/gen - max t_end`` (about: the replay buffer's poll delay plus
  putting the rollout engine to sleep; it is not reward time). It takes the draw as the start of
  ``gen``, which holds from step 2 on; step 1's submission also starts the agent loop (seconds), so
  its after-reward comes out negative. The tails do not depend on it.

The summary gives, over stage-2 steps, the median of tail/step and the total share
(sum of tails / sum of step times), beside the busy share. Target: code tail share < 5%.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIMELINE = "reward_timeline.jsonl"
DEFAULT_REPORT = ROOT / "benchmarks" / "results" / "reward_wait.md"
DOMAINS = ("code", "math")


@dataclass(frozen=True)
class Call:
    """One reward call from the timeline."""

    pid: int
    domain: str
    n: int
    t_start: float
    t_end: float

    def counts_for(self, domain: str) -> bool:
        return self.domain == domain or self.domain == "mixed"


@dataclass(frozen=True)
class StepWait:
    """What one trained step waited for."""

    step: int
    stage: int
    step_s: float | None
    gen_s: float | None
    calls: dict[str, int]
    busy_s: dict[str, float]
    tail_s: dict[str, float]
    after_reward_s: float | None
    pids: int


# ------------------------------------------------------------------ reading


def read_jsonl(path: Path) -> list[dict]:
    """JSON lines of a file (blank lines skipped, a torn last line ignored)."""
    out = []
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if i != len(lines) - 1:
                raise
    return out


def parse_calls(records: Iterable[dict]) -> list[Call]:
    return [
        Call(int(r["pid"]), str(r["domain"]), int(r["n"]), float(r["t_start"]), float(r["t_end"]))
        for r in records
    ]


def step_starts(draws: Iterable[dict]) -> dict[int, tuple[float, int]]:
    """Step -> (time of its first draw, stage). Later draws of a step (DAPO refills) are ignored."""
    starts: dict[int, tuple[float, int]] = {}
    for d in draws:
        if "t" not in d:
            raise ValueError("draws.jsonl has no 't' field: the run predates srpo.trainer's draw timestamps")
        starts.setdefault(int(d["step"]), (float(d["t"]), int(d.get("stage", 0))))
    return dict(sorted(starts.items()))


# ------------------------------------------------------------------ pure analysis


def union_length(intervals: Iterable[tuple[float, float]]) -> float:
    """Total length covered by the intervals (overlaps counted once)."""
    total, cur_lo, cur_hi = 0.0, None, None
    for lo, hi in sorted(intervals):
        if cur_hi is None or lo > cur_hi:
            if cur_hi is not None:
                total += cur_hi - cur_lo
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    if cur_hi is not None:
        total += cur_hi - cur_lo
    return total


def windows(starts: dict[int, float]) -> dict[int, tuple[float, float]]:
    """Step -> [its start, the next step's start); the last step's window is open-ended."""
    steps = sorted(starts)
    return {
        s: (starts[s], starts[steps[i + 1]] if i + 1 < len(steps) else math.inf) for i, s in enumerate(steps)
    }


def step_calls(calls: Sequence[Call], lo: float, hi: float) -> list[Call]:
    return [c for c in calls if lo <= c.t_start < hi]


def tails(calls: Sequence[Call]) -> dict[str, float]:
    """Per domain: how long after the last call started (the last response handed over) its calls ran."""
    if not calls:
        return dict.fromkeys(DOMAINS, 0.0)
    last_start = max(c.t_start for c in calls)
    out = {}
    for d in DOMAINS:
        ends = [c.t_end for c in calls if c.counts_for(d)]
        out[d] = max(0.0, max(ends) - last_start) if ends else 0.0
    return out


def busy(calls: Sequence[Call]) -> dict[str, float]:
    """Per domain: the union of its calls' intervals."""
    return {d: union_length((c.t_start, c.t_end) for c in calls if c.counts_for(d)) for d in DOMAINS}


def analyse(
    metrics: dict[int, dict[str, float]], starts: dict[int, tuple[float, int]], calls: Sequence[Call]
) -> list[StepWait]:
    """One row per step of draws.jsonl."""
    rows = []
    for step, (lo, hi) in windows({s: t for s, (t, _) in starts.items()}).items():
        mine = step_calls(calls, lo, hi)
        m = metrics.get(step, {})
        gen = m.get("timing_s/gen")
        after = lo + gen - max(c.t_end for c in mine) if (gen is not None and mine) else None
        rows.append(
            StepWait(
                step=step,
                stage=starts[step][1],
                step_s=m.get("timing_s/step"),
                gen_s=gen,
                calls={d: sum(c.counts_for(d) for c in mine) for d in DOMAINS},
                busy_s=busy(mine),
                tail_s=tails(mine),
                after_reward_s=after,
                pids=len({c.pid for c in mine}),
            )
        )
    return rows


def summarize(rows: Sequence[StepWait], stage: int = 2) -> dict[str, float]:
    """Over the steps of ``stage`` with a step time: median and total shares of step time."""
    sel = [r for r in rows if r.stage == stage and r.step_s]
    out: dict[str, float] = {"steps": float(len(sel))}
    if not sel:
        return out
    total_step = sum(r.step_s for r in sel)
    out["step_median_s"] = statistics.median(r.step_s for r in sel)
    out["gen_median_s"] = statistics.median(r.gen_s or 0.0 for r in sel)
    for d in DOMAINS:
        out[f"{d}_tail_median_s"] = statistics.median(r.tail_s[d] for r in sel)
        out[f"{d}_tail_max_s"] = max(r.tail_s[d] for r in sel)
        out[f"{d}_tail_share_median"] = statistics.median(r.tail_s[d] / r.step_s for r in sel)
        out[f"{d}_tail_share_total"] = sum(r.tail_s[d] for r in sel) / total_step
        out[f"{d}_busy_share_total"] = sum(r.busy_s[d] for r in sel) / total_step
    return out


# ------------------------------------------------------------------ report


def _f(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _load(load: tuple[float, float, float]) -> str:
    return f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"


def render(
    command: str,
    load: tuple[float, float, float],
    rows: Sequence[StepWait],
    outside: int,
    load_before: tuple[float, float, float] | None = None,
) -> str:
    before = f"before the run {_load(load_before)}, " if load_before is not None else ""
    lines = [
        "## Code-reward waiting inside a training run (`benchmarks/bench_reward_wait.py`)",
        "",
        f"Command: `{command}`",
        "",
        f"Load average (1/5/15 min): {before}when the report was written {_load(load)} "
        f"({os.cpu_count()} CPUs).",
        "",
        "Tail = how long after the step's last reward call started (its last response was handed to the "
        "reward worker) that domain's calls still ran; busy = union of that domain's call intervals "
        "(mostly overlapped with generation, an upper bound); after-reward = draw time + gen - last reward "
        "end (replay-buffer poll and engine sleep, not reward time).",
        "",
        "| step | stage | step s | gen s | code calls | math calls | code busy s | math busy s "
        "| code tail s | math tail s | code tail / step | after-reward s | reward pids |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        share = r.tail_s["code"] / r.step_s if r.step_s else None
        lines.append(
            f"| {r.step} | {r.stage} | {_f(r.step_s)} | {_f(r.gen_s)} | {r.calls['code']} | {r.calls['math']} "
            f"| {r.busy_s['code']:.2f} | {r.busy_s['math']:.2f} | {r.tail_s['code']:.3f} "
            f"| {r.tail_s['math']:.3f} | {_f(share, '{:.1%}')} | {_f(r.after_reward_s)} | {r.pids} |"
        )
    lines += ["", "### Summary", ""]
    if outside:
        lines += [f"{outside} reward calls started outside every step window (e.g. validation).", ""]
    for stage in sorted({r.stage for r in rows}):
        s = summarize(rows, stage)
        if not s.get("steps"):
            continue
        lines.append(
            f"Stage {stage}: {int(s['steps'])} steps, median step {s['step_median_s']:.2f} s "
            f"(gen {s['gen_median_s']:.2f} s)."
        )
        lines.append("")
        lines += [
            "| domain | median tail s | max tail s | median tail / step | total tail / total step "
            "| busy / step (upper bound) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for d in DOMAINS:
            lines.append(
                f"| {d} | {s[f'{d}_tail_median_s']:.3f} | {s[f'{d}_tail_max_s']:.3f} "
                f"| {s[f'{d}_tail_share_median']:.1%} | {s[f'{d}_tail_share_total']:.1%} "
                f"| {s[f'{d}_busy_share_total']:.1%} |"
            )
        lines.append("")
    s2 = summarize(rows, 2)
    if s2.get("steps"):
        verdict = "meets" if s2["code_tail_share_total"] < 0.05 else "misses"
        lines.append(
            f"Stage-2 code waiting: {s2['code_tail_share_total']:.1%} of step time in total "
            f"(median per step {s2['code_tail_share_median']:.1%}); {verdict} the < 5% target."
        )
    return "\n".join(lines) + "\n"


def report_for(run_dir: Path, command: str, load_before: tuple[float, float, float] | None = None) -> str:
    from srpo.report import load_metrics

    metrics = load_metrics(run_dir.glob("metrics-*.jsonl"))
    starts = step_starts(read_jsonl(run_dir / "draws.jsonl"))
    timeline = run_dir / TIMELINE
    if not timeline.exists():
        raise SystemExit(f"{timeline} does not exist: was the run made with SRPO_REWARD_TIMELINE set?")
    calls = parse_calls(read_jsonl(timeline))
    rows = analyse(metrics, starts, calls)
    first = min((t for t, _ in starts.values()), default=math.inf)
    outside = sum(c.t_start < first for c in calls)
    return render(command, os.getloadavg(), rows, outside, load_before)


# ------------------------------------------------------------------ running


def run_overrides(out: Path, steps: int, switch_step: int, extra: Sequence[str]) -> list[str]:
    return [
        f"output_dir={out}",
        f"trainer.total_training_steps={steps}",
        f"srpo.curriculum.switch_step={switch_step}",
        "trainer.val_before_train=false",
        "trainer.test_freq=-1",
        "trainer.save_freq=-1",
        "trainer.resume_mode=disable",
        *extra,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "reward_wait", help="run folder (mode A)")
    ap.add_argument("--from-run", type=Path, help="analyse this run folder instead of running (mode B)")
    ap.add_argument("--steps", type=int, default=16, help="trainer.total_training_steps (mode A)")
    ap.add_argument("--switch-step", type=int, default=2, help="first stage-2 step (mode A)")
    ap.add_argument("--report", type=Path, default=DEFAULT_REPORT, help="markdown report to write")
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides for the run (after --)")
    args = ap.parse_args(argv)
    command = "python benchmarks/bench_reward_wait.py " + shlex.join(
        list(argv if argv is not None else sys.argv[1:])
    )

    load_before = None
    if args.from_run is not None:
        run_dir = args.from_run
    else:
        load_before = os.getloadavg()
        run_dir = args.out.resolve()
        run_dir.mkdir(parents=True, exist_ok=True)
        for old in [run_dir / TIMELINE, run_dir / "draws.jsonl", *run_dir.glob("metrics-*.jsonl")]:
            old.unlink(missing_ok=True)  # a fresh run: no stale lines in any of the files we read
        cmd = [
            sys.executable,
            "-m",
            "srpo.main",
            *run_overrides(run_dir, args.steps, args.switch_step, args.overrides),
        ]
        env = {**os.environ, "SRPO_REWARD_TIMELINE": str(run_dir / TIMELINE)}
        print("running:", shlex.join(cmd), flush=True)
        t0 = time.time()
        rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        print(f"srpo.main exited {rc} after {time.time() - t0:.0f} s", flush=True)
        if rc != 0:
            return rc

    text = report_for(run_dir, command.strip(), load_before)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text)
    print(text)
    print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
