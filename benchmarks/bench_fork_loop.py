"""Page faults and CPU per case of the fork server and of its children, C loop vs Python loop (no Docker).

    python -m benchmarks.bench_fork_loop [--rounds 5] [--cases 200] [--out benchmarks/results/fork_loop.md]

Starts two fork servers on the host, as the supervisor does in a container but without the uid
drop: one running the C loop (sandbox/forkhelper.c, compiled here with the host's cc, as the
image build compiles it) and one the Python loop (what an image without the library runs, and
what main ran). Each takes `--cases` stdio cases per round, the two alternating, and reads its
own and its reaped children's counters from /proc/<server>/stat (minor faults, CPU time: every
copy-on-write fault after a fork counts once). Load moves CPU time, not faults. The servers run
the host's system python3 (the image's build on this machine) from the modules' source.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import add_out_argument, emit
from sandbox import bundle, forkserver

PROGRAM = "a, b = map(int, input().split())\nprint(a + b)\n"
LIMITS = {"as": 1 << 30, "fsize": 1 << 20, "core": 0, "nofile": 256}
TICK = os.sysconf("SC_CLK_TCK")


def counters(pid: int) -> tuple[int, int, float, float]:
    """(own minor faults, reaped children's, own CPU s, reaped children's CPU s) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (
        int(fields[7]),
        int(fields[8]),
        (int(fields[11]) + int(fields[12])) / TICK,
        (int(fields[13]) + int(fields[14])) / TICK,
    )


def start(python: str, helper: str) -> forkserver.ForkServer:
    argv = [python, "-I", "-c", bundle.FORK_SERVER_BOOT, bundle.payload(bundle.FORK_SERVER, as_source=True)]
    return forkserver.ForkServer(argv, dict(forkserver.ENV), set(), helper=helper)


def run_cases(server: forkserver.ForkServer, case_dir: str, n: int) -> dict[str, float]:
    """Per-case server and children faults and CPU ms, and wall ms, over n stdio cases."""
    before, start_s = counters(server.pid), time.perf_counter()
    for _ in range(n):
        stdin = os.open(os.path.join(case_dir, "in"), os.O_RDONLY)
        try:
            child = server.spawn("stdio", case_dir, [stdin], LIMITS, 5, None)
        finally:
            os.close(stdin)
        with child.stdout, child.stderr:
            out = child.stdout.read()
            child.stderr.read()
        assert child.wait() == 0 and out == b"42\n", out
    wall = time.perf_counter() - start_s
    after = counters(server.pid)
    d = [(a - b) / n for a, b in zip(after, before, strict=True)]
    return {
        "server_faults": d[0],
        "child_faults": d[1],
        "server_ms": d[2] * 1e3,
        "child_ms": d[3] * 1e3,
        "wall_ms": wall / n * 1e3,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cases", type=int, default=200, help="stdio cases per server per round")
    add_out_argument(ap)
    args = ap.parse_args()

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("bench_fork_loop: needs a C compiler (cc) to build sandbox/forkhelper.c")
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    work = tempfile.mkdtemp(prefix="srpo-fork-loop-")
    try:
        helper = os.path.join(work, "forkhelper.so")
        source = Path(forkserver.__file__).with_name("forkhelper.c")
        subprocess.run([cc, "-O2", "-Wall", "-shared", "-fPIC", "-o", helper, str(source)], check=True)
        Path(work, "prog.py").write_text(PROGRAM)
        Path(work, "in").write_text("20 22\n")
        load_before = os.getloadavg()[0]
        servers = {"C loop": start(python, helper), "Python loop": start(python, "")}
        got: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        try:
            for server in servers.values():
                run_cases(server, work, 20)  # warm up
            for _ in range(args.rounds):
                for name, server in servers.items():
                    got[name].append(run_cases(server, work, args.cases))
        finally:
            for server in servers.values():
                server.close()
                server.proc.wait(timeout=10)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in got[name])

    lines = [
        "# Fork server loops on the host: faults and CPU per stdio case",
        "",
        f"Command: `python -m benchmarks.bench_fork_loop --rounds {args.rounds} --cases {args.cases}`; "
        f"{python} ({sys.version.split()[0]} drives), {os.cpu_count()} cores, load average (1 min) "
        f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after. Median over rounds; CPU from "
        f"/proc ticks ({1000 / TICK:.0f} ms each, summed over {args.cases} cases).",
        "",
        "| loop | server faults | children's faults | server CPU ms | children's CPU ms | wall ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in servers:
        lines.append(
            f"| {name} | {med(name, 'server_faults'):.0f} | {med(name, 'child_faults'):.0f} | "
            f"{med(name, 'server_ms'):.2f} | {med(name, 'child_ms'):.2f} | {med(name, 'wall_ms'):.2f} |"
        )
    emit(lines, args.out)


if __name__ == "__main__":
    main()
