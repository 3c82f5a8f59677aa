"""Sandbox service benchmark: many concurrent clients against local servers, one killed mid-load.

    python -m benchmarks.bench_service [--runs 10000] [--clients 64] [--servers 3] [--pool-size 2]
                                       [--out benchmarks/results/service.md]

Two phases, the same load each, one after the other on the same fresh set of servers
(``python -m sandbox serve``, real Docker):

1. **ours**: ``--clients`` threads, each with its own `RemoteSandbox` over all servers, send
   their share of ``--runs`` programs through ``/run_batch``; when ``--kill-at`` of the runs are
   done, one server gets SIGKILL.
2. **verl**: the same runs through verl's own SandboxFusion client (``call_sandbox_api``, one
   program per ``/run_code`` request); verl's client takes one URL, so client i uses server
   i mod N; the same server is killed at the same point.

Program i prints its own tag (every third one prints a different tag), so each result says whose
it is: a result is **lost** when it never came or came back as a sandbox or API error, and
**mis-attributed** when its verdict or output belongs to another program. Reported: both counts,
the client's fail-over time (from a request's first failure to its answer by another server),
runs/s overall and before the kill, per core of this machine, and CPU per run (the machine's, the
servers' own processes, dockerd's).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import psutil
from tqdm import tqdm

from benchmarks.harness import REPO, add_out_argument, command_line, emit, table, write_json
from sandbox import DEFAULT_IMAGE, TestSpec, Verdict
from sandbox.remote import RemoteSandbox

CHUNK = 8  # runs per /run_batch request of one client call


def program(i: int) -> tuple[str, str]:
    """Program i and what it prints: its own tag, or (every third) another program's tag."""
    printed = f"run-{i}" if i % 3 else f"other-{i}"
    return f"print({printed!r})\n", printed + "\n"


def spec(i: int) -> TestSpec:
    return TestSpec.from_dict({"format": "stdio", "cases": [{"input": "", "output": f"run-{i}\n"}]})


# ---------------------------------------------------------------- servers


class Servers:
    """N `python -m sandbox serve` processes on free ports."""

    def __init__(self, n: int, pool_size: int, image: str) -> None:
        self.pool_size, self.image = pool_size, image
        started = [self._start() for _ in range(n)]
        self.procs = [p for p, _ in started]
        self.urls = [u for _, u in started]

    def _start(self) -> tuple[subprocess.Popen, str]:
        cmd = [sys.executable, "-m", "sandbox", "--image", self.image, "serve", "--port", "0"]
        cmd += ["--pool-size", str(self.pool_size), "--max-queue", "100000"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"a sandbox server did not start: {line!r}")
        return proc, line.split()[-1]

    def kill(self, i: int) -> float:
        self.procs[i].send_signal(signal.SIGKILL)
        return time.monotonic()

    def cpu_s(self) -> float:
        total = 0.0
        for p in self.procs:
            try:
                t = psutil.Process(p.pid).cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()


def machine_busy_s() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def dockerd_cpu_s() -> float:
    """CPU of the long-lived daemons (a container's shim exits with it, taking its count along)."""
    total = 0.0
    for p in psutil.process_iter(["name", "cpu_times"]):
        if p.info["name"] in ("dockerd", "containerd") and p.info["cpu_times"]:
            total += p.info["cpu_times"].user + p.info["cpu_times"].system
    return total


# ---------------------------------------------------------------- one phase


def run_phase(
    name: str,
    n: int,
    clients: int,
    servers: Servers,
    kill_at: float,
    client_loop: Callable[[int, list[int], Callable[[int, object], None]], None],
) -> dict:
    """Drive ``clients`` threads over runs 0..n-1, kill server 0 at ``kill_at``, collect results."""
    results: list[object] = [None] * n
    doubles = [0]
    lock = threading.Lock()
    done = [0]
    kill_time: list[float] = []
    bar = tqdm(total=n, desc=name, mininterval=10, unit="run")

    def record(i: int, result: object) -> None:
        with lock:
            if results[i] is not None:
                doubles[0] += 1
            results[i] = result
            done[0] += 1
            if not kill_time and done[0] >= kill_at * n:
                kill_time.append(servers.kill(0))
                kill_time.append(done[0])
        bar.update(1)

    shares = [list(range(c, n, clients)) for c in range(clients)]
    cpu0, srv0, dockerd0 = machine_busy_s(), servers.cpu_s(), dockerd_cpu_s()
    start = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(c, shares[c], record)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    bar.close()
    cpu = machine_busy_s() - cpu0
    srv = servers.cpu_s() - srv0  # the killed server's time is lost with it: a lower bound
    dockerd = dockerd_cpu_s() - dockerd0
    t_kill, done_at_kill = (kill_time[0], kill_time[1]) if kill_time else (None, n)
    return {
        "results": results,
        "doubles": doubles[0],
        "wall_s": wall,
        "before_kill_runs_per_s": done_at_kill / (t_kill - start) if t_kill else None,
        "machine_cpu_s": cpu,
        "server_cpu_s": srv,
        "dockerd_cpu_s": dockerd,
    }


def ours(n: int, clients: int, servers: Servers, kill_at: float) -> dict:
    import logging

    logging.getLogger("sandbox.remote").setLevel(logging.ERROR)  # fail-overs are counted, not logged
    sandboxes: list[RemoteSandbox] = []

    def loop(c: int, share: list[int], record: Callable[[int, object], None]) -> None:
        client = RemoteSandbox(servers.urls, chunk_size=CHUNK, parallel_per_server=1, down_for_s=30)
        sandboxes.append(client)
        for k in range(0, len(share), CHUNK):
            batch = share[k : k + CHUNK]
            for i, result in zip(
                batch, client.run_batch([(program(i)[0], spec(i)) for i in batch]), strict=True
            ):
                record(i, result)
        client.close()

    out = run_phase("ours (/run_batch)", n, clients, servers, kill_at, loop)
    lost = wrong = 0
    for i, result in enumerate(out.pop("results")):
        if result is None or result.tests[0].verdict is Verdict.SANDBOX_ERROR:
            lost += 1
        elif (result.tests[0].verdict is Verdict.PASSED) != bool(i % 3) or (
            not i % 3 and f"'other-{i}\\n'" not in result.tests[0].detail
        ):
            wrong += 1
    failover = [s for sb in sandboxes for s in sb.failover_s]
    return {
        **out,
        "lost": lost,
        "misattributed": wrong,
        "retried_requests": sum(sb.retries for sb in sandboxes),
        "failover_s": failover,
    }


def verl(n: int, clients: int, servers: Servers, kill_at: float) -> dict:
    import logging

    from verl.utils.reward_score.sandbox_fusion import utils as verl_client
    from verl.utils.reward_score.sandbox_fusion.utils import call_sandbox_api

    logging.getLogger(verl_client.__name__).setLevel(logging.CRITICAL)  # one ERROR line per lost run

    def loop(c: int, share: list[int], record: Callable[[int, object], None]) -> None:
        url = servers.urls[c % len(servers.urls)] + "/run_code"
        for i in share:
            reply, error = call_sandbox_api(url, program(i)[0], "", 10, 10, 512)
            record(i, reply if error is None else {"error": error})

    out = run_phase("verl client (/run_code)", n, clients, servers, kill_at, loop)
    lost = wrong = 0
    for i, reply in enumerate(out.pop("results")):
        if reply is None or "error" in reply or reply.get("status") != "Success":
            lost += 1
        elif reply["run_result"]["stdout"] != program(i)[1]:
            wrong += 1
    return {**out, "lost": lost, "misattributed": wrong}


# ---------------------------------------------------------------- report


COLUMNS = (
    "client", "runs", "lost", "mis-attributed", "counted twice", "wall s", "runs/s", "runs/s before the kill",
    "per core", "machine CPU ms/run", "server CPU ms/run", "dockerd+containerd CPU ms/run",
)  # fmt: skip


def row(name: str, r: dict, n: int, cores: int) -> tuple:
    before = r["before_kill_runs_per_s"]
    return (
        name, n, r["lost"], r["misattributed"], r["doubles"], f"{r['wall_s']:.1f}", f"{n / r['wall_s']:.1f}",
        f"{before:.1f}", f"{before / cores:.1f}", f"{1000 * r['machine_cpu_s'] / n:.1f}",
        f"{1000 * r['server_cpu_s'] / n:.2f}", f"{1000 * r['dockerd_cpu_s'] / n:.2f}",
    )  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--verl-runs", type=int, default=None, help="runs of the verl phase (default: --runs)")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--servers", type=int, default=3)
    ap.add_argument("--pool-size", type=int, default=2, help="containers per server")
    ap.add_argument("--kill-at", type=float, default=0.3, help="share of runs done when server 0 is killed")
    ap.add_argument("--image", default=DEFAULT_IMAGE)
    add_out_argument(ap, what="markdown (and the raw figures beside it as .json)")
    args = ap.parse_args()
    cores = psutil.cpu_count()
    verl_runs = args.verl_runs or args.runs

    phases = {}
    for name, fn, n in (("ours", ours, args.runs), ("verl", verl, verl_runs)):
        servers = Servers(args.servers, args.pool_size, args.image)
        try:
            phases[name] = fn(n, args.clients, servers, args.kill_at)
        finally:
            servers.stop()

    o, v = phases["ours"], phases["verl"]
    fo = sorted(o["failover_s"])
    lines = [
        f"{args.runs} runs (ours) and {verl_runs} runs (verl's client) from {args.clients} concurrent clients, "
        f"{args.servers} servers x {args.pool_size} containers, server 0 killed (SIGKILL) when "
        f"{args.kill_at:.0%} of the runs were done; {cores} cores ({platform.processor() or platform.machine()}).",
        "",
        *table(
            COLUMNS,
            [
                row("ours: `RemoteSandbox` -> `/run_batch`", o, args.runs, cores),
                row("verl's `call_sandbox_api` -> `/run_code`", v, verl_runs, cores),
            ],
        ),
        "",
        f"Fail-over (ours): {o['retried_requests']} requests answered by another server after a failure; "
        + (
            f"first failure to answer: median {statistics.median(fo):.2f} s, max {fo[-1]:.2f} s."
            if fo
            else "none needed."
        ),
        f"Throughput before the kill, verl's client / ours: {v['before_kill_runs_per_s'] / o['before_kill_runs_per_s']:.2f}x.",
    ]
    command = command_line("benchmarks.bench_service")
    emit(["# Sandbox service benchmark", "", f"Command: `{command}`", "", *lines], args.out)
    if args.out:
        raw = {k: {kk: vv for kk, vv in r.items() if kk != "failover_s"} | {"failover_s": r.get("failover_s")}
               for k, r in phases.items()}  # fmt: skip
        write_json(args.out.with_suffix(".json"), raw, indent=1)
    ok = o["lost"] == 0 and o["misattributed"] == 0 and o["doubles"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
