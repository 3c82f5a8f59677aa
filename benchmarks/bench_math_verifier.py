"""Our math reward vs math-verify, side by side in one run, on real labelled pairs and hostile inputs.

    python -m benchmarks.bench_math_verifier [--repeats 3] [--hostile-cap 10] [--write benchmarks/results/rewards.md]

Measured, per split of ``benchmarks/data/math_pairs.jsonl`` (dev / held-out; every pair has its
source and label):

* accuracy, recall (correct answers scored 1) and false-positive rate (wrong answers scored 1),
  separately: ours ``strict`` on the responses with a ``\\boxed{}`` answer, ours ``lenient`` on all
  responses, and math-verify used the standard way, ``verify(parse("$" + gold + "$"),
  parse(response))``, on both;
* throughput over the whole set: ours through the entry points verl calls (``compute_score_async``,
  one coroutine per response as our configs and verl's reward loop use it, and
  ``compute_score_batch``, verl's batch reward manager), so through the process-wide bounded pool
  with its default worker count, format and language parts included; against math-verify in this
  process. Both warm as in training (one long-lived pool; one untimed pass each first), the
  verifiers alternating passes;
* latency of every hostile input (``tests/reward_fns/hostile.py``) through ``compute_score`` in both
  modes (default 1.5 s bound), and math-verify with its own signal timeouts in a child process
  killed after ``--hostile-cap`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks.harness import REPO
from reward_fns.bounded import BoundedPool, close_shared_pools
from reward_fns.config import RewardConfig
from reward_fns.dispatch import compute_score, compute_score_async, compute_score_batch
from reward_fns.math_grade import grade_math_answer
from tests.reward_fns.hostile import hostile_cases

PAIRS = REPO / "benchmarks" / "data" / "math_pairs.jsonl"
MODES = ("strict", "lenient")


def mv_verdict(response: str, gold: str) -> bool:
    """math-verify the standard way (main thread: its signal timeouts are on)."""
    from math_verify import parse, verify

    return bool(verify(parse(f"${gold}$"), parse(response)))


def has_box(response: str) -> bool:
    return "\\boxed" in response or "\\fbox" in response


def _opts(mode: str) -> dict:
    return {**asdict(RewardConfig().math), "mode": mode}


def ours_verdicts(pool: BoundedPool, rows: list[dict], mode: str) -> list[bool]:
    args = [(r["response"], r["ground_truth"], _opts(mode)) for r in rows]
    return [b.ok and b.value["acc"] == 1.0 for b in pool.map(grade_math_answer, args)]


def scores(rows: list[dict], verdicts: list[bool]) -> dict:
    pos = [v for r, v in zip(rows, verdicts, strict=True) if r["label"]]
    neg = [v for r, v in zip(rows, verdicts, strict=True) if not r["label"]]
    right = sum(v == r["label"] for r, v in zip(rows, verdicts, strict=True))
    return {
        "n": len(rows),
        "accuracy": right / len(rows),
        "recall": sum(pos) / max(1, len(pos)),
        "false_positives": sum(neg),
        "negatives": len(neg),
        "wrong": [r["id"] for r, v in zip(rows, verdicts, strict=True) if v != r["label"]],
    }


def accuracy(rows: list[dict], workers: int) -> dict:
    """{split: {"boxed": {verifier: scores}, "all": {...}}}."""
    pool = BoundedPool(workers=workers, timeout_s=RewardConfig().math.timeout_s)
    verdicts = {
        "math-verify": [mv_verdict(r["response"], r["ground_truth"]) for r in rows],
        **{f"ours {m}": ours_verdicts(pool, rows, m) for m in MODES},
    }
    pool.close()
    out: dict = {}
    for split in ("dev", "held_out"):
        idx = [i for i, r in enumerate(rows) if r["split"] == split]
        boxed = [i for i in idx if has_box(rows[i]["response"])]
        out[split] = {}
        for subset, which, names in (
            ("boxed", boxed, ("ours strict", "ours lenient", "math-verify")),
            ("all", idx, ("ours lenient", "ours strict", "math-verify")),
        ):
            out[split][subset] = {
                n: scores([rows[i] for i in which], [verdicts[n][i] for i in which]) for n in names
            }
    return out


#: Our entry points timed for throughput: (name, mode, how verl calls it).
ENTRY_POINTS = tuple((f"ours {m} ({how})", m, how) for m in MODES for how in ("async", "batch"))


def _ours_pass(rows: list[dict], mode: str, how: str) -> None:
    """One pass over the set the way verl calls the reward: ``async`` = one ``compute_score_async``
    coroutine per response, all awaited together (verl's reward loop, our configs); ``batch`` = one
    ``compute_score_batch`` call (verl's batch reward manager)."""
    math = {"mode": mode}
    info = {"domain": "math"}
    if how == "batch":
        compute_score_batch(
            ["math"] * len(rows),
            [r["response"] for r in rows],
            [r["ground_truth"] for r in rows],
            [info] * len(rows),
            math=math,
        )
        return

    async def all_rows() -> None:
        await asyncio.gather(
            *(compute_score_async("math", r["response"], r["ground_truth"], info, math=math) for r in rows)
        )

    asyncio.run(all_rows())


def throughput(rows: list[dict], repeats: int) -> dict:
    """Items per second over the whole set, both sides warm as in training: math-verify in this
    process, ours through verl's entry points and the process-wide pool they share. One untimed pass
    each first (imports, parser tables, math-verify's and our caches), then ``repeats`` timed passes
    in alternating order."""
    names = ["math-verify", *(name for name, _, _ in ENTRY_POINTS)]
    how = {name: (mode, kind) for name, mode, kind in ENTRY_POINTS}
    elapsed = dict.fromkeys(names, 0.0)

    def one_pass(name: str) -> float:
        start = time.perf_counter()
        if name == "math-verify":
            for r in rows:
                mv_verdict(r["response"], r["ground_truth"])
        else:
            _ours_pass(rows, *how[name])
        return time.perf_counter() - start

    for name in names:
        one_pass(name)
    for rep in range(repeats):
        for name in names if rep % 2 == 0 else reversed(names):
            elapsed[name] += one_pass(name)
    close_shared_pools()
    return {name: repeats * len(rows) / s for name, s in elapsed.items()}


def _mv_child(response: str, gold: str, conn) -> None:
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    conn.send(mv_verdict(response, gold))


def _mv_capped(response: str, gold: str, cap_s: float) -> tuple[float, str]:
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_mv_child, args=(response, gold, child))
    start = time.perf_counter()
    proc.start()
    got = parent.poll(cap_s)
    elapsed = time.perf_counter() - start
    result = str(parent.recv()) if got else f"killed at {cap_s:g} s"
    proc.kill()
    proc.join()
    return elapsed, result


def hostile_latency(cap_s: float) -> list[dict]:
    compute_score("gsm8k", r"\boxed{1}", "1")  # the pool starts outside the timed part
    results = []
    for name, response, gold, expected in hostile_cases():
        row = {"name": name, "chars": len(response), "expected": "-" if expected is None else str(expected)}
        for mode in MODES:
            start = time.perf_counter()
            r = compute_score("gsm8k", response, gold, math={"mode": mode})
            row[mode] = (time.perf_counter() - start, r["reason"])
        row["math-verify"] = _mv_capped(response, gold, cap_s)
        results.append(row)
    return results


def _pct(x: float) -> str:
    return f"{x:.3f}"


def render(acc: dict, speed: dict, hostile: list[dict], args: argparse.Namespace, rows: list[dict]) -> str:
    n_dev = sum(r["split"] == "dev" for r in rows)
    lines = [
        "# Rewards: math verifier benchmark",
        "",
        f"Command: `python -m benchmarks.bench_math_verifier --repeats {args.repeats} --hostile-cap "
        f"{args.hostile_cap:g} --write benchmarks/results/rewards.md` (from the repository root; about "
        f"{args.wall_min:.0f} min here).",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"load average {args.load:.1f} at start, {args.load_end:.1f} at the end (shared by other jobs: timings are noisy). Versions: "
        + ", ".join(f"{p} {_version(p)}" for p in ("math-verify", "latex2sympy2_extended", "sympy"))
        + f". Pool: {args.workers} workers.",
        "",
        f"Labelled set: `benchmarks/data/math_pairs.jsonl`, {len(rows)} pairs ({n_dev} dev, "
        f"{len(rows) - n_dev} held-out; split by a hash of the id), each with its source: Math-Verify's own "
        "regression cases, Qwen2.5-Math outputs from a public evaluation example, MATH-500 reference "
        "solutions against the dataset's answers (and against another problem's answer), GSM8K worked "
        "answers, and hand-written adversarial pairs. Labels are mathematical truth (3 of Math-Verify's "
        "expectations are relabelled, with a note).",
        "",
        "math-verify is called the standard way: `verify(parse('$' + gold + '$'), parse(response))`. "
        "Ours: strict (training: the last `\\boxed{}` group) and lenient (evaluation: the library's own "
        "extraction from free text), through the bounded pool.",
        "",
    ]
    for split, title in (("dev", "Dev"), ("held_out", "Held-out")):
        for subset, what in (("boxed", "responses with a `\\boxed{}` answer"), ("all", "all responses")):
            block = acc[split][subset]
            first = next(iter(block.values()))
            lines += [
                f"## {title}: {what} ({first['n']} pairs, {first['negatives']} wrong answers)",
                "",
                "| verifier | accuracy | recall | false positives | false-positive rate |",
                "| --- | ---: | ---: | ---: | ---: |",
            ]
            for name, s in block.items():
                fpr = s["false_positives"] / max(1, s["negatives"])
                lines.append(
                    f"| {name} | {_pct(s['accuracy'])} | {_pct(s['recall'])} | "
                    f"{s['false_positives']}/{s['negatives']} | {_pct(fpr)} |"
                )
            lines.append("")
    lines += ["## Pairs each verifier gets wrong", ""]
    for split in ("dev", "held_out"):
        for name in ("ours strict", "ours lenient", "math-verify"):
            subset = "boxed" if name == "ours strict" else "all"
            wrong = acc[split][subset][name]["wrong"]
            lines.append(f"- {split}, {name} ({subset}): {', '.join(wrong) or 'none'}")
    mv = speed["math-verify"]
    lines += [
        "",
        f"## Throughput (all {len(rows)} pairs, {args.repeats} timed passes per verifier after one warm-up "
        "pass each, alternating; one long-lived pool, as in training)",
        "",
        "Ours through verl's entry points, format and language parts included: `async` = one "
        "`compute_score_async` coroutine per response, all awaited together (verl's reward loop, our "
        "configs); `batch` = one `compute_score_batch` call (verl's batch reward manager).",
        "",
        "| verifier | items/s | ratio to math-verify |",
        "| --- | ---: | ---: |",
    ]
    for name, rate in speed.items():
        where = "in-process" if name == "math-verify" else f"pool of {args.workers} workers"
        lines.append(f"| {name}, {where} | {rate:.1f} | {rate / mv:.2f}x |")
    lines += [
        "",
        "## Hostile inputs (`tests/reward_fns/hostile.py`), seconds and verdict",
        "",
        "Ours: `compute_score` (bound `math.timeout_s` = 1.5 s of CPU: a call in Python code is stopped "
        "inside its worker, one stuck in C code gets its worker killed at 1.7 s of CPU and replaced). "
        f"math-verify: main thread with its 5 s signal timeouts, in a child killed after {args.hostile_cap:g} s.",
        "",
        "| input | chars | expected | ours strict | ours lenient | math-verify |",
        "| --- | ---: | --- | --- | --- | --- |",
    ]
    for h in hostile:
        cells = [f"{h[m][0]:.2f} {h[m][1]}" for m in (*MODES, "math-verify")]
        lines.append(f"| {h['name']} | {h['chars']} | {h['expected']} | " + " | ".join(cells) + " |")
    worst = {m: max(h[m][0] for h in hostile) for m in (*MODES, "math-verify")}
    lines += [
        "",
        f"Worst: ours strict {worst['strict']:.2f} s, ours lenient {worst['lenient']:.2f} s, "
        f"math-verify {worst['math-verify']:.2f} s.",
        "",
    ]
    return "\n".join(lines)


def _version(dist: str) -> str:
    from importlib.metadata import version

    try:
        return version(dist)
    except Exception:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the set per verifier")
    parser.add_argument("--hostile-cap", type=float, default=10.0, help="kill math-verify after this many s")
    parser.add_argument("--write", type=Path, help="also write the markdown report here")
    args = parser.parse_args()
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # it logs whole megabyte inputs on timeout
    args.load, args.workers = os.getloadavg()[0], RewardConfig().math_workers()
    start = time.perf_counter()
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    acc = accuracy(rows, args.workers)
    speed = throughput(rows, args.repeats)
    hostile = hostile_latency(args.hostile_cap)
    args.load_end = os.getloadavg()[0]
    args.wall_min = (time.perf_counter() - start) / 60
    report = render(acc, speed, hostile, args, rows)
    print(report)
    if args.write:
        args.write.write_text(report)


if __name__ == "__main__":
    main()
