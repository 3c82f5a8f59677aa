"""C++ in the sandbox: compile time with and without the precompiled bits/stdc++.h, and per-test cost.

    python -m benchmarks.bench_cpp [--image srpo-sandbox:cpp] [--rounds 5] [--cases 16] [--out benchmarks/results/cpp.md]

One warm container of the C++ image (scripts/build_sandbox_image.sh --cpp). Compile time is the
supervisor's (RunResult.compile_time_s, once per run) for the same program two ways, taking turns:
`#include <bits/stdc++.h>` first (GCC uses the image's precompiled header), and the same program
with one declaration before the include (GCC may only use a precompiled header before the first
C++ token, so it parses the whole library). Per test: the same stdio sum as a native binary and as
Python (fork server), `--cases` cases per run, each run's wall time over its cases (compile excluded).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess

from benchmarks.harness import add_out_argument, emit, load, machine, ms, span, timed
from sandbox import SandboxConfig, TestSpec, make_sandbox
from sandbox.api import CPP_IMAGE

CPP = "#include <bits/stdc++.h>\nusing namespace std;\nint main() { long long a, b; cin >> a >> b; cout << a + b << '\\n'; }\n"
NO_PCH = "int token_before_the_include;\n" + CPP  # GCC can no longer use the precompiled header
PYTHON = "a, b = map(int, input().split())\nprint(a + b)\n"


def spec(language: str, cases: int) -> TestSpec:
    one = {"input": "20 22\n", "output": "42\n"}
    return TestSpec.from_dict({"format": "stdio", "language": language, "cases": [one] * cases})


def run(sb, program: str, test_spec: TestSpec) -> tuple[float, float | None, float]:
    """(compile seconds, per-test seconds seen by the caller without the compile, median case wall)."""
    elapsed, result = timed(lambda: sb.run(program, test_spec))
    assert result.all_passed, result
    compile_s = result.compile_time_s or 0.0
    per_test = (elapsed - compile_s) / len(test_spec.cases)
    return compile_s, per_test, statistics.median(t.wall_time_s for t in result.tests)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=CPP_IMAGE)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cases", type=int, default=16)
    add_out_argument(ap)
    args = ap.parse_args()

    load_before = load()
    compile_pch, compile_full, cpp_test, cpp_wall, py_test, py_wall = [], [], [], [], [], []
    config = SandboxConfig(image=args.image, pool_size=1, label="srpo.sandbox.bench", time_limit_s=10.0)
    with make_sandbox(config) as sb:
        run(sb, CPP, spec("cpp", 1))  # warm the page cache (compiler, PCH)
        run(sb, NO_PCH, spec("cpp", 1))
        for _ in range(args.rounds):
            compile_pch.append(run(sb, CPP, spec("cpp", 1))[0])
            compile_full.append(run(sb, NO_PCH, spec("cpp", 1))[0])
            _, per_test, wall = run(sb, CPP, spec("cpp", args.cases))
            cpp_test.append(per_test)
            cpp_wall.append(wall)
            _, per_test, wall = run(sb, PYTHON, spec("python", args.cases))
            py_test.append(per_test)
            py_wall.append(wall)
    load_after = load()
    gxx = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", args.image, "g++", "--version"],
        capture_output=True,
        text=True,
    ).stdout.splitlines()[:1]
    speedups = [f / p for f, p in zip(compile_full, compile_pch, strict=True)]
    lines = [
        "# C++ in the sandbox: compile once per run, run natively per test",
        "",
        f"Command: `python -m benchmarks.bench_cpp --image {args.image} --rounds {args.rounds} --cases {args.cases}`  ",
        machine(f"{gxx[0] if gxx else 'g++'} in the image, flags `-std=gnu++17 -O2`.  "),
        f"Load average (1 min) before / after: {load_before:.1f} / {load_after:.1f} (shared machine; "
        "the variants take turns round by round).",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| compile, `#include <bits/stdc++.h>` first (precompiled header used) | **{ms(compile_pch)}** |",
        f"| compile, one declaration before the include (no precompiled header) | {ms(compile_full)} |",
        f"| compile time without / with the precompiled header (median over rounds) | "
        f"**{statistics.median(speedups):.1f}x** ({span(speedups)}) |",
        f"| per test, C++ binary ({args.cases} cases per run, compile excluded) | {ms(cpp_test)} |",
        f"| per test, the same program in Python (fork server) | {ms(py_test)} |",
        f"| in-container wall of one case: C++ / Python | {statistics.median(cpp_wall) * 1000:.2f} / "
        f"{statistics.median(py_wall) * 1000:.2f} ms |",
        "",
    ]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
