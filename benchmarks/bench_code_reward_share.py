"""Code-reward waiting as a share of a stage-2 step of the embedded default run (an upper bound).

    python -m benchmarks.bench_code_reward_share [--prompts 8] [--k 8] [--repeats 3] [--run runs/study/srpo-s0] [--out FILE]

What it measures. The embedded default (``python -m srpo.main``, configs/embedded.yaml) draws 16
prompts x 8 rollouts per step; in stage 2 some of them are code, and each code rollout's reward runs
the program against the row's hidden tests in the Docker sandbox through ``reward_fns.dispatch``.
verl 0.9.1 computes each rollout's reward right after its generation inside the agent loop (so it
overlaps with the generation of other rollouts) and its v1 trainer does not log reward timing. This
script therefore measures the reward work of one step directly, in this process:

1. the embedded base model (``cached_build(BuildSettings())``) samples real responses (temperature
   1.0, 64 new tokens, as the run does) for ``--prompts`` code prompts of the embedded training split
   and as many arithmetic prompts, ``--k`` rollouts each (default 8 x 8 = 64 of each: the code half
   of a stage-2 batch, and the math half);
2. the responses are graded with verl-format calls of ``reward_fns.dispatch`` (data_source,
   ground_truth, extra_info with prompt_id/domain, and the run's ``reward_kwargs`` read from
   configs/embedded.yaml), timed over ``--repeats`` rounds (medians): every code reward one after
   another through ``compute_score``; the same from verl's executor threads at once (the coalescing
   path); the whole code half through ``compute_score_batch`` (the bounded sandbox pool); the math
   half both ways; and the sandbox start (first call of a fresh grader), which happens once per run;
3. with ``--run DIR``, the median ``timing_s/step`` of the run's stage-2 steps (verl's file logger,
   ``DIR/metrics-*.jsonl``) and the ratio reward time / step time.

Why an upper bound. The serial figure is the time the code rewards of one step would take if none of
them overlapped with generation or with each other, and if every reward waited for the previous one.
In the run they are computed in the agent loop as rollouts finish, from several executor threads,
and coalesced into sandbox batches, so the step waits for at most the rewards that finish after the
last generation. The responses come from the base model, not the policy at that step (program run
times depend on the programs; the reasons table shows what they did).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO, add_out_argument, emit, span, table, timed

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_reward_kwargs(config: Path) -> dict[str, Any]:
    """``reward.custom_reward_function.reward_kwargs`` of a run config (srpo_base.yaml sets none)."""
    import yaml

    node: Any = yaml.safe_load(config.read_text())
    for key in ("reward", "custom_reward_function", "reward_kwargs"):
        node = (node or {}).get(key)
    return dict(node or {})


def verl_calls(family: str, problems, responses) -> list[dict[str, Any]]:
    """Keyword arguments of ``compute_score`` as verl's reward loop builds them, one per response."""
    from srpo.embedded.dataset import DATA_SOURCES

    calls = []
    for index, (problem, group) in enumerate(zip(problems, responses, strict=True)):
        for response in group:
            extra_info = {
                "prompt_id": problem.prompt_id,
                "domain": problem.domain,
                "split": "train",
                "index": index,
                "difficulty": str(problem.level),
                # verl's reward loop adds these two before calling the function
                "num_turns": 2,
                "rollout_reward_scores": {},
            }
            calls.append(
                {
                    "data_source": DATA_SOURCES[family],
                    "solution_str": response,
                    "ground_truth": problem.ground_truth,
                    "extra_info": extra_info,
                }
            )
    return calls


def stage2_step_times(run_dir: Path) -> tuple[list[float], list[float]]:
    """``(timing_s/step, timing_s/gen)`` of every stage-2 step in the run's metrics (last record wins)."""
    from srpo.tools.report import load_metrics

    by_step = load_metrics(run_dir.glob("metrics-*.jsonl"))
    steps = [d for _, d in sorted(by_step.items()) if d.get("srpo/stage") == 2 and "timing_s/step" in d]
    return [float(d["timing_s/step"]) for d in steps], [float(d.get("timing_s/gen", 0.0)) for d in steps]


def code_rollouts_per_step(run_dir: Path, n: int) -> list[int]:
    """Code rollouts of each stage-2 step, from the sampler's ``draws.jsonl`` (code prompts x n)."""
    path = run_dir / "draws.jsonl"
    if not path.is_file():
        return []
    counts = []
    with open(path) as fh:
        for line in fh:
            if line.strip():
                d = json.loads(line)
                if d.get("stage") == 2:
                    counts.append(n * sum(str(p).startswith("codegen-") for p in d.get("prompt_ids", [])))
    return counts


def wait_for(path: Path, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while not path.exists():
        if time.monotonic() >= deadline:
            return False
        log(f"waiting for {path} ...")
        time.sleep(min(30.0, max(1.0, deadline - time.monotonic())))
    return True


med = statistics.median


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=8, help="code prompts (and as many math prompts)")
    ap.add_argument("--k", type=int, default=8, help="rollouts per prompt (configs/embedded.yaml: 8)")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds; figures are medians")
    ap.add_argument("--startup-repeats", type=int, default=3, help="sandbox restarts timed")
    ap.add_argument(
        "--executor-threads",
        type=int,
        default=min(32, (os.cpu_count() or 1) + 4),
        help="threads for the concurrent compute_score path (asyncio's default executor size)",
    )
    ap.add_argument("--mixed", action="store_true", help="also time code + math as one batch")
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "embedded.yaml")
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--run", type=Path, action="append", default=[], help="run dir with metrics-*.jsonl")
    ap.add_argument(
        "--wait-s", type=float, default=0.0, help="wait up to this long for each run's summary.json"
    )
    add_out_argument(ap)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.torch_threads)

    from reward_fns import dispatch
    from reward_fns.code_reward import close_shared_graders
    from srpo.embedded.build import BuildSettings, cached_build
    from srpo.embedded.dataset import generate
    from srpo.embedded.probe import sample
    from srpo.embedded.problem import LEVELS

    kwargs = run_reward_kwargs(args.config)
    # Every round must run the programs: results reused from round 1 would time nothing.
    kwargs = {**kwargs, "code": {**dict(kwargs.get("code") or {}), "reuse_results": 0}}
    log(f"reward_kwargs from {args.config.relative_to(REPO)}: {kwargs}")
    model_dir = cached_build(BuildSettings())
    log(f"model: {model_dir}")

    calls: dict[str, list[dict[str, Any]]] = {}
    gen_s: dict[str, float] = {}
    for family in ("codegen", "arith"):
        problems = generate(family, "train", args.prompts, LEVELS, args.seed)
        secs, responses = timed(
            lambda problems=problems: sample(
                model_dir, problems, args.k, args.temperature, args.max_new_tokens, args.seed
            )
        )
        gen_s[family] = secs
        calls[family] = verl_calls(family, problems, responses)
        log(f"{family}: {len(calls[family])} responses sampled in {secs:.1f} s")
    code, math = calls["codegen"], calls["arith"]

    # The same rewards with every case run (the sandbox's fail_fast off), for a side-by-side ratio.
    code_kw = dict(kwargs.get("code") or {})
    all_cases = {
        **kwargs,
        "code": {**code_kw, "sandbox": {**dict(code_kw.get("sandbox") or {}), "fail_fast": False}},
    }

    def serial(rows, kw=kwargs):
        return [dispatch.compute_score(**c, **kw) for c in rows]

    def threaded(rows, kw=kwargs):
        with ThreadPoolExecutor(args.executor_threads) as ex:
            return list(ex.map(lambda c: dispatch.compute_score(**c, **kw), rows))

    def batch(rows, kw=kwargs):
        return dispatch.compute_score_batch(
            [c["data_source"] for c in rows],
            [c["solution_str"] for c in rows],
            [c["ground_truth"] for c in rows],
            [c["extra_info"] for c in rows],
            **kw,
        )

    # (d) start-up: the first call of the process starts the verifier pool and the sandbox pool; a
    # closed grader's next call starts only the sandbox pool (what a run pays once per reward process).
    first_s, _ = timed(lambda: serial(code[:1]))
    log(f"first code reward of the process: {first_s:.2f} s")
    restart: list[float] = []
    for _ in range(args.startup_repeats):
        close_shared_graders()
        secs, _ = timed(lambda: serial(code[:1]))
        restart.append(secs)
    warm_one = [timed(lambda: serial(code[:1]))[0] for _ in range(5)]
    log(f"sandbox start (first call of a new grader): {[round(s, 2) for s in restart]} s")

    variants: dict[str, tuple[Callable, list]] = {
        "code_serial": (serial, code),
        "code_threads": (threaded, code),
        "code_batch": (batch, code),
        "code_serial_all_cases": (lambda rows: serial(rows, all_cases), code),
        "code_batch_all_cases": (lambda rows: batch(rows, all_cases), code),
        "math_serial": (serial, math),
        "math_batch": (batch, math),
        "mixed_batch": (batch, code + math),
    }
    if not args.mixed:
        del variants["mixed_batch"]
    # The pools are warm after (d); round 1 is timed too and its results are the reference.
    results: dict[str, list[dict]] = {}
    flips: dict[str, int] = {}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.repeats):
        for name, (fn, rows) in variants.items():
            secs, out = timed(lambda fn=fn, rows=rows: fn(rows))
            times[name].append(secs)
            log(f"round {r + 1}: {name} {secs:.2f} s")
            ref = results.setdefault(name, out)
            # under heavy load a program near its time limit can flip verdict: count, do not fail
            moved = sum(a["acc"] != b["acc"] for a, b in zip(out, ref, strict=True))
            flips[name] = flips.get(name, 0) + moved
        log(f"round {r + 1}/{args.repeats}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()))

    n_code, n_math = len(code), len(math)
    load = os.getloadavg()
    report = [
        f"Load average (1/5/15 min) at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; cpus {os.cpu_count()}",
        "",
        f"Responses: base model, temperature {args.temperature:g}, {args.max_new_tokens} new tokens; "
        f"sampling took {gen_s['codegen']:.1f} s (code) and {gen_s['arith']:.1f} s (math) on {args.torch_threads} thread(s).",
    ]
    say = report.append
    say("")
    for name, rows in (("code", results["code_serial"]), ("math", results["math_serial"])):
        acc = sum(o["acc"] for o in rows) / len(rows)
        reasons = Counter(str(o["reason"]).split(":")[-1].strip() for o in rows)
        say(f"- {name}: acc {acc:.3f}; reasons {dict(reasons.most_common(6))}")
    say("")
    labels = {
        "code_serial": "(a) code, `compute_score` one after another",
        "code_threads": f"(b1) code, `compute_score` from {args.executor_threads} threads (coalesced)",
        "code_batch": "(b2) code, `compute_score_batch` (one sandbox batch)",
        "code_serial_all_cases": "(a') as (a), every case run (`fail_fast: false`)",
        "code_batch_all_cases": "(b2') as (b2), every case run (`fail_fast: false`)",
        "math_serial": "(c1) math, `compute_score` one after another",
        "math_batch": "(c2) math, `compute_score_batch` (bounded pool)",
        "mixed_batch": "code + math, one `compute_score_batch`",
    }
    counts = {name: n_code for name in variants if name.startswith("code_")}
    counts |= {"math_serial": n_math, "math_batch": n_math, "mixed_batch": n_code + n_math}
    rows: list[tuple] = [
        (
            label,
            counts[name],
            f"{med(times[name]):.2f}",
            span(times[name], ".2f"),
            f"{1000 * med(times[name]) / counts[name]:.1f}",
        )
        for name, label in labels.items()
        if name in times
    ]
    rows += [
        (
            "(d) first code reward of the process (verifier + sandbox pools start)",
            1,
            f"{first_s:.2f}",
            "",
            "",
        ),
        (
            f"(d) sandbox start: first call of a new grader ({len(restart)}x)",
            1,
            f"{med(restart):.2f}",
            span(restart, ".2f"),
            "",
        ),
        ("(d) warm single code reward (5x)", 1, f"{med(warm_one):.3f}", span(warm_one, ".2f"), ""),
    ]
    report += table(
        (f"what ({args.repeats} rounds)", "rewards", "median s", "min - max s", "per reward ms"), rows
    )
    say("")
    for fast, full in (("code_serial", "code_serial_all_cases"), ("code_batch", "code_batch_all_cases")):
        say(f"fail_fast speed-up, {fast}: {med(times[full]) / med(times[fast]):.2f}x (all cases / fail_fast)")
        differ = sum(x["acc"] != y["acc"] for x, y in zip(results[fast], results[full], strict=True))
        say(f"  rewards that differ between the two: {differ} of {n_code}")
    changed = {k: v for k, v in flips.items() if v}
    if changed:
        say("")
        say(f"Verdicts that differed from round 1 (acc changed; time limits under load): {changed}")

    serial_code = med(times["code_serial"])
    per_code = serial_code / n_code
    for run_dir in args.run:
        say("")
        summary = run_dir / "summary.json"
        if args.wait_s > 0 and not wait_for(summary, args.wait_s):
            say(f"{run_dir}: no summary.json after {args.wait_s:.0f} s; using the steps logged so far")
        steps, gens = stage2_step_times(run_dir)
        if not steps:
            say(f"{run_dir}: no stage-2 steps with timing_s/step in metrics-*.jsonl")
            continue
        step = med(steps)
        rollouts = code_rollouts_per_step(run_dir, args.k)
        say(
            f"Run `{run_dir}` ({'finished' if summary.exists() else 'not finished'}): {len(steps)} stage-2 steps, "
            f"median timing_s/step {step:.2f} s (min - max {span(steps, '.2f')}), median timing_s/gen {med(gens):.2f} s"
        )
        if rollouts:
            say(
                f"code rollouts per stage-2 step (draws.jsonl): median {med(rollouts):g}, "
                f"min - max {min(rollouts)} - {max(rollouts)}"
            )
        say("")
        shares = [
            (f"(a) {n_code} code rewards serially (upper bound)", serial_code),
            (f"(b1) {n_code} code rewards from executor threads", med(times["code_threads"])),
            (f"(b2) {n_code} code rewards as one batch", med(times["code_batch"])),
            (
                f"(a)+(c1) {n_code} code + {n_math} math rewards serially",
                serial_code + med(times["math_serial"]),
            ),
        ]
        if rollouts:
            shares.append(
                (f"(a) scaled to the run's median {med(rollouts):g} code rollouts", per_code * med(rollouts))
            )
            shares.append(
                (f"(a) scaled to the run's largest {max(rollouts)} code rollouts", per_code * max(rollouts))
            )
        report += table(
            ("reward time of one stage-2 step", "s", "share of median step"),
            [(label, f"{secs:.2f}", f"{100 * secs / step:.1f}%") for label, secs in shares],
        )
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
