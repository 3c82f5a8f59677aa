"""Sandbox benchmark: per-test overhead of a warm container vs a bare subprocess, and throughput
of the warm pool vs `docker run` per test.

    python benchmarks/bench_sandbox.py [--rounds 5] [--reps 40] [--out benchmarks/results/sandbox.md]

Every variant runs the same program (read two numbers, print their sum) on the same input with
the same interpreter build (Debian bookworm's python3 on the host and in the image), one test
case at a time, timed end to end from the caller (spawn, feed stdin, collect stdout, compare).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import DEFAULT_IMAGE, SandboxConfig, TestSpec, make_sandbox  # noqa: E402

PROGRAM = "a, b = map(int, input().split())\nprint(a + b)\n"
STDIN = "20 22\n"
EXPECTED = "42\n"


def bare_subprocess(python: str) -> float:
    start = time.perf_counter()
    out = subprocess.run(
        [python, "-I", "-c", PROGRAM], input=STDIN, capture_output=True, text=True, timeout=30
    )
    elapsed = time.perf_counter() - start
    assert out.stdout == EXPECTED, out
    return elapsed


def docker_run(image: str) -> float:
    start = time.perf_counter()
    out = subprocess.run(
        ["docker", "run", "--rm", "-i", "--network", "none", "--memory", "640m", "--pids-limit", "64",
         "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", image,
         "python3", "-I", "-c", PROGRAM],
        input=STDIN, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    assert out.stdout == EXPECTED, out
    return elapsed


def docker_exec(container: str) -> float:
    start = time.perf_counter()
    out = subprocess.run(
        ["docker", "exec", "-i", container, "python3", "-I", "-c", PROGRAM],
        input=STDIN, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    assert out.stdout == EXPECTED, out
    return elapsed


def timed(fn, reps: int) -> list[float]:
    fn()  # warm caches
    return [fn() for _ in range(reps)]


def throughput(fn, n: int, concurrency: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as ex:
        list(ex.map(lambda _: fn(), range(n)))
    return n / (time.perf_counter() - start)


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.1f} ms (p90 {sorted(xs)[int(0.9 * len(xs))] * 1000:.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds; figures are medians over rounds"
    )
    ap.add_argument("--reps", type=int, default=40, help="tests per variant per round")
    ap.add_argument("--docker-run-reps", type=int, default=8, help="docker run tests per round")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--image", default=DEFAULT_IMAGE)
    ap.add_argument("--out", default=None, help="also write the markdown here")
    args = ap.parse_args()

    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    spec = TestSpec.from_dict(
        {"format": "stdio", "compare": "exact", "cases": [{"input": STDIN, "output": EXPECTED}]}
    )
    # latency: one warm container (sequential tests); throughput: `concurrency` containers.
    # Both use the default recycling policy (recycle_after), which these run counts stay under.
    latency_config = SandboxConfig(image=args.image, pool_size=1, label="srpo.sandbox.bench")
    pool_config = SandboxConfig(image=args.image, pool_size=args.concurrency, label="srpo.sandbox.bench")
    load_before = os.getloadavg()
    cid = subprocess.run(
        ["docker", "run", "-d", "--rm", "--network", "none", "--label", "srpo.sandbox.bench=1", args.image,
         "sleep", "3600"], capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    t_bare, t_warm, t_exec, t_run, ratios, speedups, warm_tps, run_tps = [], [], [], [], [], [], [], []
    pings: list[float] = []
    outside: list[float] = []  # per warm test: caller's time minus the program's own wall time
    try:
        start = time.perf_counter()
        with make_sandbox(latency_config) as sb, make_sandbox(pool_config) as pool:
            cold_start = time.perf_counter() - start

            def warm(sandbox=sb) -> float:
                start = time.perf_counter()
                result = sandbox.run(PROGRAM, spec)
                elapsed = time.perf_counter() - start
                assert result.all_passed, result
                outside.append(elapsed - result.tests[0].wall_time_s)
                return elapsed

            worker = sb._pool.acquire()  # round trip host <-> supervisor, no program
            for _ in range(100):
                start = time.perf_counter()
                worker.ping(5.0)
                pings.append(time.perf_counter() - start)
            sb._pool.release(worker, dirty=False)

            for _ in range(args.rounds):
                bare_subprocess(python), warm()  # warm caches
                bare_r, warm_r = [], []
                for _ in range(args.reps):  # alternate, so both see the same load on a shared machine
                    bare_r.append(bare_subprocess(python))
                    warm_r.append(warm())
                t_bare += bare_r
                t_warm += warm_r
                ratios.append(statistics.median(warm_r) / statistics.median(bare_r))
                t_exec += timed(lambda: docker_exec(cid), max(args.reps // 4, 5))
                t_run += timed(lambda: docker_run(args.image), max(args.docker_run_reps // 2, 3))
                warm_tps.append(throughput(lambda: warm(pool), args.reps, args.concurrency))
                run_tps.append(
                    throughput(lambda: docker_run(args.image), args.docker_run_reps, args.concurrency)
                )
                speedups.append(warm_tps[-1] / run_tps[-1])
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    load_after = os.getloadavg()

    docker_version = subprocess.run(
        ["docker", "version", "-f", "{{.Server.Version}}"], capture_output=True, text=True
    ).stdout.strip()
    med = statistics.median
    pairs = [w / b for w, b in zip(t_warm, t_bare, strict=True)]
    lines = [
        "# Sandbox benchmark",
        "",
        f"Command: `python benchmarks/bench_sandbox.py --rounds {args.rounds} --reps {args.reps} "
        f"--docker-run-reps {args.docker_run_reps} --concurrency {args.concurrency}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}, Docker {docker_version}; "
        f"`{python}` (the interpreter the image also has) for the bare baseline.  ",
        f"Load average (1 min) before / after: {load_before[0]:.1f} / {load_after[0]:.1f} "
        "(the machine was shared: bare and warm tests alternate one by one, and the throughput runs of "
        "each round are back to back, so each ratio compares like with like).",
        "",
        "One test case (stdin -> stdout, exact compare) per call, timed end to end by the caller; "
        "latencies are sequential (one warm container), median (p90) over all rounds. Throughput uses "
        f"a pool of {args.concurrency} containers. Default config (a container is replaced after "
        f"{pool_config.recycle_after} runs, which these counts stay under).",
        "",
        "| variant | per test |",
        "| --- | --- |",
        f"| bare subprocess (`{python} -I -c prog`) | {ms(t_bare)} |",
        f"| **warm pool** (`Sandbox.run`, container already running) | {ms(t_warm)} |",
        f"| `docker exec -i` into a running container (reference) | {ms(t_exec)} |",
        f"| `docker run --rm -i` per test | {ms(t_run)} |",
        "",
        "| figure (median over rounds; min - max) | value | goal |",
        "| --- | --- | --- |",
        f"| warm pool / bare subprocess, per test | **{med(ratios):.2f}x** ({min(ratios):.2f} - {max(ratios):.2f}) "
        "| <= 1.3x |",
        f"| warm pool / bare subprocess, median of paired tests | {med(pairs):.2f}x | |",
        f"| host <-> supervisor round trip (ping, no program) | {med(pings) * 1000:.2f} ms | |",
        f"| warm test time outside the program's own process (transport, files, judging) | "
        f"{med(outside) * 1000:.1f} ms | |",
        f"| start of both sandboxes (1 + {args.concurrency} containers, created in parallel) | "
        f"{cold_start:.2f} s | |",
        f"| warm pool throughput at concurrency {args.concurrency} | {med(warm_tps):.1f} tests/s | |",
        f"| `docker run` throughput at concurrency {args.concurrency} | {med(run_tps):.1f} tests/s | |",
        f"| warm pool vs `docker run` throughput | **{med(speedups):.1f}x** ({min(speedups):.1f} - "
        f"{max(speedups):.1f}) | >= 5x |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
