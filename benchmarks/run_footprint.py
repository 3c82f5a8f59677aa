"""What the default run costs a user: console lines, peak memory per process, wall time, accuracy.

    python -m benchmarks.run_footprint run --src DIR --label before --out before.json [key=value ...]
    python -m benchmarks.run_footprint compare before.json after.json > benchmarks/results/runtime.md
    python -m benchmarks.run_footprint processes after.json

``run`` starts ``python -m srpo.main`` from the checkout ``DIR`` (``PYTHONPATH=DIR``, so two commits
can be compared with the same installed packages) in an empty folder outside the repository, with
``output_dir`` there too, and records: the lines it printed (stdout and stderr together, as a
terminal shows them) and the most repeated ones, the peak of the summed PSS of its process tree and
each process's own peak by role (``srpo.cpu.memory``), the wall time and the held-out before/after
table from ``summary.json``. ``compare`` puts two such records side by side with ratios;
``processes`` lists one record's processes, each with its role and its own peak.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import REPO, read_json, run_measured, table, write_json
from srpo.cpu.memory import MemoryPeak, TreeMemorySampler

GB = 1e9
# Human names for the roles srpo.cpu.memory reads from command lines (Ray titles, scripts).
ROLE_NAMES = {
    "srpo.main": "driver (`python -m srpo.main`)",
    "ray::TaskRunnerV1": "verl task runner (the trainer loop)",
    "ray::WorkerDict": "FSDP worker (actor; a reference model would be here too)",
    "ray::CPUvLLMHttpServer": "vLLM HTTP server (Ray actor)",
    "VLLM::EngineCore": "vLLM engine core",
    "VLLM::Worker": "vLLM model worker",
    "ray::AgentLoopWorkerTQ": "agent loop worker",
    "ray::GlobalRequestLoadBalancer": "rollout load balancer",
    "ray::RewardLoopWorker": "reward worker",
    "ray::TransferQueueController": "TransferQueue controller",
    "ray::ConfigHolder": "TransferQueue config actor (controller in the driver)",
    "ray::SimpleStorageUnit": "TransferQueue storage unit",
    "ray::IDLE": "idle Ray workers",
    "default_worker.py": "Ray worker before its actor or task names it",
    "ray::get_master_addr_port": "Ray task (verl's get_master_addr_port)",
    "reward_fns.bounded": "math reward pool (zygote and workers)",
    "python -c": "short-lived `python -c`",
    "ray::DashboardAgent": "Ray dashboard agent",
    "ray::RuntimeEnvAgent": "Ray runtime-env agent",
    "dashboard.py": "Ray dashboard",
    "gcs_server": "Ray GCS",
    "raylet": "Ray raylet",
    "monitor.py": "Ray autoscaler monitor",
    "log_monitor.py": "Ray log monitor",
}


def role_name(role: str) -> str:
    """A reader's name for a role; Ray's dashboard modules (one process each) are grouped."""
    if role.startswith("ray-dashboard-"):
        return "Ray dashboard modules"
    return ROLE_NAMES.get(role, role)


def grouped_roles(record: dict) -> dict[str, tuple[int, float]]:
    """Display name -> (processes, summed per-process peak PSS in GB)."""
    groups: dict[str, tuple[int, float]] = {}
    for role, got in record["roles"].items():
        n, gb = groups.get(role_name(role), (0, 0.0))
        groups[role_name(role)] = (n + got["processes"], gb + got["peak_pss_gb"])
    return groups


def shape(line: str) -> str:
    """A line with its numbers and hex ids masked, so repeats that differ only in values group together."""
    line = re.sub(r"0x[0-9a-f]+|\b[0-9a-f]{16,}\b", "<id>", line)
    return re.sub(r"\d+(\.\d+)?", "<n>", line)[:160]


def memory_record(peak: MemoryPeak) -> dict:
    """A sampler's peaks as a record's fields: whole tree, system, per role, and per process.

    The per-process list keeps each process's own peak with its role, so a role held by several
    processes (or a process whose role is a bare script name) can still be told apart afterwards.
    """
    processes = sorted(peak.per_process.items(), key=lambda item: -item[1].pss_bytes)
    return {
        "peak_pss_gb": round(peak.pss_bytes / GB, 3),
        "peak_system_used_gb": round(peak.system_used_bytes / GB, 3),
        "max_processes": peak.max_processes,
        "roles": {
            role: {"processes": n, "peak_pss_gb": round(total / GB, 3)}
            for role, (n, total) in peak.by_role().items()
        },
        "processes": [
            {"pid": pid, "role": got.role, "peak_pss_gb": round(got.pss_bytes / GB, 3)}
            for (pid, _), got in processes
        ],
    }


def process_table(record: dict) -> list[str]:
    """Markdown: one row per process of a record, largest peak first, named by its role."""
    rows = [
        (role_name(p["role"]), f"`{p['role']}`", p["pid"], f"{p['peak_pss_gb']:.3f}")
        for p in sorted(record.get("processes", []), key=lambda p: -p["peak_pss_gb"])
    ]
    return table(("process", "role", "pid", "peak PSS (GB)"), rows, align="lllr")


def run(src: Path, label: str, overrides: list[str], out: Path, timeout_s: float, commit: str = "") -> dict:
    """Run the default once from ``src`` and return its record."""
    work = Path(tempfile.mkdtemp(prefix=f"srpo-footprint-{label}-"))
    log = work / "console.log"
    env = dict(os.environ, PYTHONPATH=str(src.resolve()))
    cmd = [sys.executable, "-m", "srpo.main", f"output_dir={work / 'run'}", *overrides]
    commit = (
        commit
        or subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=src, capture_output=True, text=True
        ).stdout.strip()
    )
    print(f"run_footprint: {label} ({commit}): {' '.join(cmd)} in {work}", flush=True)
    got = run_measured(cmd, work, log, env, timeout_s)
    rc, wall, peak = (-9 if got.returncode is None else got.returncode), got.wall_s, got.peak
    lines = log.read_text(errors="replace").splitlines()
    repeats = collections.Counter(shape(line) for line in lines).most_common(15)
    summary_path = work / "run" / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    record = {
        "label": label,
        "commit": commit,
        "command": " ".join(cmd[1:]),
        "returncode": rc,
        "wall_s": round(wall, 1),
        "console_lines": len(lines),
        "top_repeats": [{"count": n, "line": text} for text, n in repeats],
        **memory_record(peak),
        "held_out": summary.get("held_out"),
        "log": str(log),
    }
    write_json(out, record)
    print(json.dumps({k: record[k] for k in ("returncode", "wall_s", "console_lines", "peak_pss_gb")}))
    return record


def attach(pid: int, out: Path) -> dict:
    """Sample an already running process tree until its root exits; write its memory peaks as JSON.

    For a run started some other way (or a ``run`` whose own limit is too short): merge the figures
    into that run's record with ``compare --memory-from``.
    """
    import psutil

    sampler = TreeMemorySampler(pid).start()
    start = time.monotonic()
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait()
    peak = sampler.stop()
    record = {
        "attached_pid": pid,
        "sampled_s": round(time.monotonic() - start, 1),
        **memory_record(peak),
    }
    write_json(out, record)
    return record


def merge_memory(record: dict, attached: dict) -> None:
    """Fold an ``attach`` record sampled over part of the same run into ``record``: larger figures win.

    Two samplers that together cover the run (e.g. the run's own, paused part-way, and one attached
    later) give its peaks as the per-role maximum of the two.
    """
    for key in ("peak_pss_gb", "peak_system_used_gb", "max_processes"):
        record[key] = max(record[key], attached[key])
    for role, got in attached["roles"].items():
        own = record["roles"].get(role)
        if own is None or got["peak_pss_gb"] > own["peak_pss_gb"]:
            record["roles"][role] = got
    merged = {p["pid"]: p for p in record.get("processes", [])}
    for got in attached.get("processes", []):
        own = merged.get(got["pid"])
        if own is None or got["peak_pss_gb"] > own["peak_pss_gb"]:
            merged[got["pid"]] = got
    record["processes"] = sorted(merged.values(), key=lambda p: -p["peak_pss_gb"])
    record["memory_note"] = f"merged with an attached sampler ({attached['sampled_s']:.0f} s)"


def compare(a: dict, b: dict) -> str:
    """Markdown: the two records side by side, with b/a ratios."""

    def ratio(x: float, y: float) -> str:
        return f"{y / x:.2f}x" if x else "-"

    rows = [
        (
            "console lines",
            a["console_lines"],
            b["console_lines"],
            ratio(a["console_lines"], b["console_lines"]),
        ),
        (
            "peak PSS, whole run (GB)",
            f"{a['peak_pss_gb']:.2f}",
            f"{b['peak_pss_gb']:.2f}",
            ratio(a["peak_pss_gb"], b["peak_pss_gb"]),
        ),
        ("wall time (s)", f"{a['wall_s']:.0f}", f"{b['wall_s']:.0f}", ratio(a["wall_s"], b["wall_s"])),
        ("processes (most at once)", a["max_processes"], b["max_processes"], ""),
    ]
    held = {r["data_source"]: r for r in a.get("held_out") or []}
    for row in b.get("held_out") or []:
        old = held.get(row["data_source"])
        before = f"{old['before']:.3f} -> {old['after']:.3f}" if old else "-"
        rows.append(
            (
                f"held-out {row['data_source']} (before -> after)",
                before,
                f"{row['before']:.3f} -> {row['after']:.3f}",
                "",
            )
        )
    lines = table(
        ("", f"{a['label']} ({a['commit']})", f"{b['label']} ({b['commit']})", "ratio"), rows, align="lrrr"
    )
    ga, gb = grouped_roles(a), grouped_roles(b)
    names = sorted({*ga, *gb}, key=lambda n: -max(ga.get(n, (0, 0.0))[1], gb.get(n, (0, 0.0))[1]))
    roles = [
        (name, *(f"{g[name][1]:.2f} ({g[name][0]})" if name in g else "-" for g in (ga, gb)))
        for name in names
    ]
    total = [sum(gb_ for _, gb_ in g.values()) for g in (ga, gb)]
    roles.append(("sum of per-process peaks", f"{total[0]:.2f}", f"{total[1]:.2f}"))
    lines += [
        "",
        "Peak PSS per process, by role (each process's own peak, summed per role; GB, processes):",
        "",
        *table(("role", a["label"], b["label"]), roles, align="lrr"),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run python -m srpo.main from a checkout and record it")
    r.add_argument("--src", type=Path, default=REPO, help="checkout to run (PYTHONPATH)")
    r.add_argument("--label", required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--timeout-s", type=float, default=1800.0)
    r.add_argument("--commit", default="", help="commit to report for --src (default: its HEAD)")
    r.add_argument("overrides", nargs="*", help="Hydra overrides passed on to srpo.main")
    t = sub.add_parser("attach", help="sample a running process tree's memory until it exits")
    t.add_argument("--pid", type=int, required=True)
    t.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("processes", help="one record's processes, each with its role and peak (markdown)")
    s.add_argument("record", type=Path)
    c = sub.add_parser("compare", help="two records side by side (markdown)")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    c.add_argument(
        "--memory-from",
        type=Path,
        nargs=2,
        metavar=("A_ATTACH", "B_ATTACH"),
        default=None,
        help="merge these `attach` records into a and b's memory figures, the larger per role ('-': none)",
    )
    args = p.parse_args(argv)
    if args.cmd == "run":
        rec = run(args.src, args.label, args.overrides, args.out, args.timeout_s, args.commit)
        return 0 if rec["returncode"] == 0 else 1
    if args.cmd == "attach":
        attach(args.pid, args.out)
        return 0
    if args.cmd == "processes":
        print("\n".join(process_table(read_json(args.record))))
        return 0
    records = [read_json(args.a), read_json(args.b)]
    for record, path in zip(records, args.memory_from or [], strict=False):
        if str(path) != "-":
            merge_memory(record, read_json(path))
    print(compare(*records), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
