"""Sandbox benchmark: per-test overhead of a warm container vs a bare subprocess, and throughput
of the warm pool vs `docker run` per test.

    python benchmarks/bench_sandbox.py [--reps 200] [--concurrency 2] [--out benchmarks/results/sandbox.md]

Every variant runs the same program (read two numbers, print their sum) on the same input with
the same interpreter build (Debian bookworm's python3 on the host and in the image), one test
case at a time, timed end to end from the caller (spawn, feed stdin, collect stdout, compare).
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--docker-run-reps", type=int, default=30)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--image", default=DEFAULT_IMAGE)
    ap.add_argument("--out", default=None, help="also write the markdown here")
    args = ap.parse_args()

    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    spec = TestSpec.from_dict(
        {"format": "stdio", "compare": "exact", "cases": [{"input": STDIN, "output": EXPECTED}]}
    )
    config = SandboxConfig(image=args.image, pool_size=args.concurrency, label="srpo.sandbox.bench")
    with make_sandbox(config) as sb:

        def warm() -> float:
            start = time.perf_counter()
            result = sb.run(PROGRAM, spec)
            elapsed = time.perf_counter() - start
            assert result.all_passed, result
            return elapsed

        t_bare = timed(lambda: bare_subprocess(python), args.reps)
        t_warm = timed(warm, args.reps)
        t_bare2 = timed(lambda: bare_subprocess(python), args.reps)  # interleaved, to see drift
        warm_tp = throughput(warm, args.reps, args.concurrency)

    cid = subprocess.run(
        ["docker", "run", "-d", "--rm", "--network", "none", "--label", "srpo.sandbox.bench=1", args.image,
         "sleep", "600"], capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    try:
        t_exec = timed(lambda: docker_exec(cid), max(args.reps // 4, 10))
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    t_run = timed(lambda: docker_run(args.image), args.docker_run_reps)
    run_tp = throughput(lambda: docker_run(args.image), args.docker_run_reps, args.concurrency)

    bare = statistics.median(t_bare + t_bare2)
    ratio = statistics.median(t_warm) / bare
    speedup = warm_tp / run_tp
    docker_version = subprocess.run(
        ["docker", "version", "-f", "{{.Server.Version}}"], capture_output=True, text=True
    ).stdout.strip()
    lines = [
        "# Sandbox benchmark",
        "",
        f"Command: `python benchmarks/bench_sandbox.py --reps {args.reps} --concurrency {args.concurrency}`  ",
        f"Machine: {platform.machine()}, {__import__('os').cpu_count()} cores, Linux {platform.release()}, "
        f"Docker {docker_version}; host python3 {platform.python_version()} runs the harness, "
        f"`{python}` the bare baseline.",
        "",
        "One test case (stdin -> stdout, exact compare) per call, sequential unless noted; median (p90).",
        "",
        "| variant | per test |",
        "| --- | --- |",
        f"| bare subprocess (`{python} -I -c prog`) | {ms(t_bare + t_bare2)} |",
        f"| **warm pool** (`Sandbox.run`, container already running) | {ms(t_warm)} |",
        f"| `docker exec -i` into a running container (reference) | {ms(t_exec)} |",
        f"| `docker run --rm -i` per test | {ms(t_run)} |",
        "",
        "| figure | value | goal |",
        "| --- | --- | --- |",
        f"| warm pool / bare subprocess, per test | **{ratio:.2f}x** | <= 1.3x |",
        f"| warm pool throughput at concurrency {args.concurrency} | {warm_tp:.1f} tests/s | |",
        f"| `docker run` throughput at concurrency {args.concurrency} | {run_tp:.1f} tests/s | |",
        f"| warm pool vs `docker run` throughput | **{speedup:.1f}x** | >= 5x |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
