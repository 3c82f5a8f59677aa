"""Per-test cost of the sandbox's two start modes against a bare interpreter on the host.

    python -m benchmarks.bench_fork_server [--rounds 5] [--runs 10] [--cases 16] [--out benchmarks/results/fork_server.md]

Three variants, in one run, taking turns run by run so they see the same load:
- bare: `python3 -I -S -c prog` on the host, one subprocess per test (no sandbox at all);
- fresh_interpreter: `Sandbox.run` on one warm container, each test a fresh `python3 -I`;
- fork_server: the same, each test a child forked from the container's fork server.
Each sandbox run carries `--cases` test cases of one spec, so the per-test figure is the run's
wall time over its cases (what a reward with tens of tests per program pays); runs of one case
(host round trip included) are reported beside it. Three specs: a stdio sum, a `call` of a
one-line function (the embedded code task's format), and a HumanEval-style `assert` check (3
calls) of a program that imports `typing`, as HumanEval solutions do.
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
from pathlib import Path

from sandbox import DEFAULT_IMAGE, SandboxConfig, TestSpec, make_sandbox

STDIO_PROGRAM = "a, b = map(int, input().split())\nprint(a + b)\n"
ASSERT_PROGRAM = "from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n"
CALL_PROGRAM = "def f(x):\n    return x * 3 + 1\n"
FORMATS = (("stdio", STDIO_PROGRAM), ("call", CALL_PROGRAM), ("assert", ASSERT_PROGRAM))
CHECK = (
    "def check(candidate):\n    assert candidate(20, 22) == 42\n    assert candidate(-1, 1) == 0\n"
    "    assert candidate(0, 0) == 0\ncheck(add)\n"
)
MODES = ("fresh_interpreter", "fork_server")


def spec(fmt: str, cases: int) -> TestSpec:
    if fmt == "stdio":
        one = {"input": "20 22\n", "output": "42\n"}
        return TestSpec.from_dict({"format": "stdio", "compare": "exact", "cases": [one] * cases})
    if fmt == "call":
        calls = [{"args": [i], "expected": 3 * i + 1} for i in range(cases)]
        return TestSpec.from_dict({"format": "call", "fn_name": "f", "cases": calls})
    return TestSpec.from_dict({"format": "assert", "entry_point": "add", "cases": [{"code": CHECK}] * cases})


def bare(python: str, program: str, cases: int) -> float:
    """Per-test seconds of `cases` fresh host interpreters running the program (stdio)."""
    start = time.perf_counter()
    for _ in range(cases):
        out = subprocess.run(
            [python, "-I", "-S", "-c", program], input="20 22\n", capture_output=True, text=True, timeout=30
        )
        assert out.stdout == "42\n", out
    return (time.perf_counter() - start) / cases


def sandboxed(sb, program: str, test_spec: TestSpec) -> tuple[float, float]:
    """(per-test seconds seen by the caller, median in-container wall of one test)."""
    start = time.perf_counter()
    result = sb.run(program, test_spec)
    elapsed = time.perf_counter() - start
    assert result.all_passed, result
    return elapsed / len(test_spec.cases), statistics.median(t.wall_time_s for t in result.tests)


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.2f} ms (p90 {sorted(xs)[int(0.9 * len(xs))] * 1000:.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds; ratios are medians over rounds"
    )
    ap.add_argument("--runs", type=int, default=10, help="runs per variant per round")
    ap.add_argument("--cases", type=int, default=16, help="test cases per run")
    ap.add_argument("--image", default=DEFAULT_IMAGE)
    ap.add_argument("--out", default=None, help="also write the markdown here")
    args = ap.parse_args()

    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    load_before = os.getloadavg()
    per_test: dict[tuple, list[float]] = {}
    inside: dict[tuple, list[float]] = {}
    ratios: dict[tuple, list[float]] = {}
    base = {"image": args.image, "pool_size": 1, "label": "srpo.sandbox.bench"}
    boxes = {mode: make_sandbox(SandboxConfig(start_mode=mode, **base)) for mode in MODES}
    try:
        for fmt, program in FORMATS:
            for cases in (args.cases, 1):
                test_spec = spec(fmt, cases)
                for sb in boxes.values():
                    sandboxed(sb, program, test_spec)  # warm caches
                for _ in range(args.rounds):
                    got: dict[str, list[float]] = {m: [] for m in (*MODES, "bare")}
                    for _ in range(args.runs):  # take turns run by run
                        for mode, sb in boxes.items():
                            cost, wall = sandboxed(sb, program, test_spec)
                            got[mode].append(cost)
                            inside.setdefault((fmt, cases, mode), []).append(wall)
                        if fmt == "stdio":
                            got["bare"].append(bare(python, STDIO_PROGRAM, cases))
                    for variant, xs in got.items():
                        if xs:
                            per_test.setdefault((fmt, cases, variant), []).extend(xs)
                    med = {v: statistics.median(xs) for v, xs in got.items() if xs}
                    ratios.setdefault((fmt, cases, "fresh/fork"), []).append(
                        med["fresh_interpreter"] / med["fork_server"]
                    )
                    if fmt == "stdio":
                        ratios.setdefault((fmt, cases, "fork/bare"), []).append(
                            med["fork_server"] / med["bare"]
                        )
                        ratios.setdefault((fmt, cases, "fresh/bare"), []).append(
                            med["fresh_interpreter"] / med["bare"]
                        )
    finally:
        for sb in boxes.values():
            sb.close()
    load_after = os.getloadavg()
    docker_version = subprocess.run(
        ["docker", "version", "-f", "{{.Server.Version}}"], capture_output=True, text=True
    ).stdout.strip()

    def r(key: tuple) -> str:
        xs = ratios[key]
        return f"{statistics.median(xs):.2f}x ({min(xs):.2f} - {max(xs):.2f})"

    lines = [
        "# Fork server vs fresh interpreter vs bare host interpreter, per test",
        "",
        f"Command: `python -m benchmarks.bench_fork_server --rounds {args.rounds} --runs {args.runs} "
        f"--cases {args.cases} --image {args.image}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}, Docker {docker_version}; "
        f"bare = `{python} -I -S -c prog` on the host (the interpreter build the image also has).  ",
        f"Load average (1 min) before / after: {load_before[0]:.1f} / {load_after[0]:.1f} (shared machine; "
        "the variants take turns run by run, so each ratio compares like with like).",
        "",
        "Per test = a run's wall time seen by the caller over its cases; median (p90) over "
        f"{args.rounds} rounds x {args.runs} runs. In-container = the supervisor's time from starting the "
        "program to its end, median per test. One warm container per mode.",
        "",
        "| spec | cases per run | bare host `python3 -I -S` | fresh interpreter | **fork server** | "
        "in-container: fresh / fork |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for fmt, _ in FORMATS:
        for cases in (args.cases, 1):
            bare_cell = ms(per_test[(fmt, cases, "bare")]) if (fmt, cases, "bare") in per_test else "-"
            lines.append(
                f"| {fmt} | {cases} | {bare_cell} | {ms(per_test[(fmt, cases, 'fresh_interpreter')])} | "
                f"**{ms(per_test[(fmt, cases, 'fork_server')])}** | "
                f"{statistics.median(inside[(fmt, cases, 'fresh_interpreter')]) * 1000:.2f} / "
                f"{statistics.median(inside[(fmt, cases, 'fork_server')]) * 1000:.2f} ms |"
            )
    lines += [
        "",
        "| ratio (median over rounds; min - max) | value | goal |",
        "| --- | --- | --- |",
        f"| fresh interpreter / fork server, stdio, {args.cases} cases per run | **{r(('stdio', args.cases, 'fresh/fork'))}** "
        "| >= 5x |",
        f"| fresh interpreter / fork server, assert, {args.cases} cases per run | "
        f"**{r(('assert', args.cases, 'fresh/fork'))}** | >= 5x |",
        f"| fresh interpreter / fork server, call, {args.cases} cases per run | "
        f"**{r(('call', args.cases, 'fresh/fork'))}** | >= 5x |",
        f"| fresh interpreter / fork server, stdio, 1 case per run | {r(('stdio', 1, 'fresh/fork'))} | |",
        f"| fresh interpreter / fork server, call, 1 case per run | {r(('call', 1, 'fresh/fork'))} | |",
        f"| fresh interpreter / fork server, assert, 1 case per run | {r(('assert', 1, 'fresh/fork'))} | |",
        f"| fork server / bare host interpreter, stdio, {args.cases} cases per run | {r(('stdio', args.cases, 'fork/bare'))} | |",
        f"| fresh interpreter / bare host interpreter, stdio, {args.cases} cases per run | "
        f"{r(('stdio', args.cases, 'fresh/bare'))} | |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
