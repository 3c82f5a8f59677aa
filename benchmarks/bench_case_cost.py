"""CPU time and page faults per test case inside a sandbox container, per format and start mode.

    python -m benchmarks.bench_case_cost [--runs 10] [--cases 16] [--out benchmarks/results/case_cost.md]

Wall time on a shared machine moves with everyone else's load; the container's own CPU time moves
less (and page faults not at all). This reads the container's cgroup counters (CPU time, and page
faults, most of a forked child's cost) around each of `--runs` runs of one program against
`--cases` cases, for each format (a stdio sum, a `call` of a one-line function as in the embedded
code task, a HumanEval-style `assert` check) and each start mode, the two modes' containers taking
turns run by run, so both see the same load. Everything in the container counts: the
supervisor, the fork servers, programs and test processes.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from benchmarks.harness import add_out_argument, emit
from sandbox import DEFAULT_IMAGE, SandboxConfig, TestSpec, make_sandbox

MODES = ("fresh_interpreter", "fork_server")
CHECK = (
    "def check(candidate):\n    assert candidate(20, 22) == 42\n    assert candidate(-1, 1) == 0\n"
    "    assert candidate(0, 0) == 0\ncheck(add)\n"
)
PROGRAMS = {
    "stdio": "a, b = map(int, input().split())\nprint(a + b)\n",
    "call": "def f(x):\n    return x * 3 + 1\n",
    "assert": "from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n",
}


def spec(fmt: str, cases: int) -> TestSpec:
    if fmt == "stdio":
        one = {"input": "20 22\n", "output": "42\n"}
        return TestSpec.from_dict({"format": "stdio", "compare": "exact", "cases": [one] * cases})
    if fmt == "call":
        calls = [{"args": [i], "expected": 3 * i + 1} for i in range(cases)]
        return TestSpec.from_dict({"format": "call", "fn_name": "f", "cases": calls})
    return TestSpec.from_dict({"format": "assert", "entry_point": "add", "cases": [{"code": CHECK}] * cases})


def _read_keys(path: Path) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in path.read_text().splitlines())}


def counters(container: str) -> tuple[float, int]:
    """(CPU seconds, page faults) of a container so far, from cgroup v1 or v2."""
    v1 = Path("/sys/fs/cgroup/cpuacct/docker") / container
    if v1.is_dir():
        cpu = int((v1 / "cpuacct.usage").read_text()) / 1e9
        faults = _read_keys(Path("/sys/fs/cgroup/memory/docker") / container / "memory.stat")["pgfault"]
        return cpu, faults
    for v2 in (
        Path(f"/sys/fs/cgroup/system.slice/docker-{container}.scope"),
        Path("/sys/fs/cgroup/docker") / container,
    ):
        if v2.is_dir():
            return _read_keys(v2 / "cpu.stat")["usage_usec"] / 1e6, _read_keys(v2 / "memory.stat")["pgfault"]
    raise SystemExit(
        f"no cgroup of container {container[:12]} under /sys/fs/cgroup (not a local Docker daemon?)"
    )


def measure(boxes: dict, program: str, test_spec: TestSpec, runs: int) -> dict[str, dict[str, float]]:
    """Per-case CPU ms, page faults and caller-side wall ms of each sandbox over `runs` runs (after
    one warm run each); the sandboxes take turns run by run, so they see the same load."""
    totals = {mode: [0.0, 0, 0.0] for mode in boxes}
    for sb in boxes.values():
        assert sb.run(program, test_spec).all_passed
    for _ in range(runs):
        for mode, sb in boxes.items():
            (container,) = sb.containers()
            cpu0, faults0 = counters(container)
            start = time.perf_counter()
            result = sb.run(program, test_spec)
            wall = time.perf_counter() - start
            cpu1, faults1 = counters(container)
            assert result.all_passed, result
            totals[mode] = [
                t + d for t, d in zip(totals[mode], (cpu1 - cpu0, faults1 - faults0, wall), strict=True)
            ]
    n = runs * len(test_spec.cases)
    return {
        mode: {"cpu_ms": cpu / n * 1e3, "faults": faults / n, "wall_ms": wall / n * 1e3}
        for mode, (cpu, faults, wall) in totals.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="runs per format and mode")
    ap.add_argument("--cases", type=int, default=16, help="test cases per run")
    ap.add_argument("--image", default=DEFAULT_IMAGE)
    add_out_argument(ap)
    args = ap.parse_args()

    load_before = os.getloadavg()[0]
    got: dict[tuple[str, str], dict[str, float]] = {}
    base = {"image": args.image, "pool_size": 1, "label": "srpo.sandbox.bench"}
    boxes = {mode: make_sandbox(SandboxConfig(start_mode=mode, **base)) for mode in MODES}
    try:
        for fmt, program in PROGRAMS.items():
            for mode, figures in measure(boxes, program, spec(fmt, args.cases), args.runs).items():
                got[(fmt, mode)] = figures
    finally:
        for sb in boxes.values():
            sb.close()
    lines = [
        "# CPU time and page faults per test case inside the container",
        "",
        f"Command: `python -m benchmarks.bench_case_cost --runs {args.runs} --cases {args.cases}`; "
        f"{os.cpu_count()} cores, load average (1 min) {load_before:.1f} before / {os.getloadavg()[0]:.1f} after.",
        "",
        "Per case = the container's cgroup counters (supervisor, fork servers, programs, test processes) "
        f"over {args.runs} runs of {args.cases} cases (the modes taking turns run by run), over the "
        "cases; wall = seen by the caller.",
        "",
        "| format | fresh interpreter: CPU ms / faults / wall ms | fork server: CPU ms / faults / wall ms "
        "| CPU fresh / fork |",
        "| --- | --- | --- | ---: |",
    ]
    for fmt in PROGRAMS:
        fresh, fork = got[(fmt, "fresh_interpreter")], got[(fmt, "fork_server")]
        cells = [f"{m['cpu_ms']:.2f} / {m['faults']:.0f} / {m['wall_ms']:.2f}" for m in (fresh, fork)]
        lines.append(f"| {fmt} | {cells[0]} | {cells[1]} | {fresh['cpu_ms'] / fork['cpu_ms']:.2f}x |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
