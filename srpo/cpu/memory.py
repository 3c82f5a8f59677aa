"""Peak memory of a process tree, per process and in all, sampled in a background thread.

On a shared machine the system-wide "used" figure mixes in other people's work, so the primary
figure is the summed proportional set size (PSS) of the launched process and all its descendants
(Ray's GCS, raylet, workers, vLLM engine): shared pages, such as Ray's object store, are split among
the processes mapping them instead of being counted once per process as RSS would.

PSS is read from ``/proc/<pid>/smaps_rollup`` (one pre-summed record per process): the full
``smaps`` that ``psutil.memory_full_info`` parses lists every mapping, which for a vLLM or torch
process is thousands of lines a second on a machine the run itself needs.

Each process also keeps its own peak under a role named from its command line (Ray sets its workers'
titles to ``ray::<ActorClass>``), so a run can be broken down into what each part costs.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import psutil

UNINFORMATIVE_ROLES = frozenset({"ray::IDLE", "?"})


@dataclass
class ProcessPeak:
    """One process's peak PSS and the role it was seen in (its last one other than idle or unreadable)."""

    role: str
    pss_bytes: int = 0


@dataclass
class MemoryPeak:
    """Peaks seen so far, in bytes, plus every process seen as (pid, create_time), to clean up."""

    pss_bytes: int = 0
    rss_bytes: int = 0
    system_used_bytes: int = 0
    max_processes: int = 0
    samples: int = 0
    processes: set[tuple[int, float]] = field(default_factory=set)
    per_process: dict[tuple[int, float], ProcessPeak] = field(default_factory=dict)

    def by_role(self) -> dict[str, tuple[int, int]]:
        """Role -> (number of processes, sum of their individual peaks in bytes), largest first.

        Individual peaks need not coincide, so the sums add up to at least ``pss_bytes``.
        """
        roles: dict[str, tuple[int, int]] = {}
        for peak in self.per_process.values():
            count, total = roles.get(peak.role, (0, 0))
            roles[peak.role] = (count + 1, total + peak.pss_bytes)
        return dict(sorted(roles.items(), key=lambda item: -item[1][1]))


def read_rollup(pid: int) -> tuple[int, int] | None:
    """(PSS, RSS) in bytes from ``/proc/<pid>/smaps_rollup``; None if the process is gone or hidden."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            text = f.read()
    except OSError:
        return None
    pss = rss = 0
    for line in text.splitlines():
        if line.startswith(b"Pss:"):
            pss = int(line.split()[1]) * 1024
        elif line.startswith(b"Rss:"):
            rss = int(line.split()[1]) * 1024
    return pss, rss


def process_role(cmdline: list[str]) -> str:
    """A short, stable name for what a process is, from its command line.

    ``ray::WorkerDict.update_actor`` -> ``ray::WorkerDict``; ``python -m srpo.main`` -> ``srpo.main``;
    ``python .../dashboard.py`` -> ``dashboard.py``; ``/.../gcs_server --flags`` -> ``gcs_server``.
    """
    if not cmdline:
        return "?"
    first = cmdline[0]
    if first.startswith("ray::") or "::" in first.split(" ")[0]:
        return first.split(" ")[0].split(".")[0]
    if "python" in os.path.basename(first):
        args = cmdline[1:]
        while args and args[0].startswith("-") and args[0] != "-m" and args[0] != "-c":
            args = args[1:]
        if len(args) >= 2 and args[0] == "-m":
            return args[1]
        if args and args[0] == "-c":
            return "python -c"
        if args:
            return os.path.basename(args[0])
    return os.path.basename(first.split(" ")[0])


def tree_memory(root: psutil.Process) -> tuple[int, int, list[psutil.Process]]:
    """(PSS sum, RSS sum, processes) over ``root`` and its live descendants."""
    pss, rss, alive, _ = _sample(root)
    return pss, rss, alive


def _sample(root: psutil.Process) -> tuple[int, int, list[psutil.Process], dict[psutil.Process, int]]:
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, [], {}
    pss = rss = 0
    alive = []
    each: dict[psutil.Process, int] = {}
    for proc in procs:
        rollup = read_rollup(proc.pid)
        if rollup is None:
            if proc.is_running():
                alive.append(proc)
            continue
        alive.append(proc)
        pss += rollup[0]
        rss += rollup[1]
        each[proc] = rollup[0]
    return pss, rss, alive, each


class TreeMemorySampler:
    """Samples the tree's memory every ``interval_s`` until ``stop()``; read ``peak`` afterwards."""

    def __init__(self, pid: int, interval_s: float = 1.0) -> None:
        self._root = psutil.Process(pid)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-memory-sampler", daemon=True)
        self.peak = MemoryPeak()

    def start(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def stop(self) -> MemoryPeak:
        self._stop.set()
        self._thread.join()
        return self.peak

    def _loop(self) -> None:
        while not self._stop.is_set():
            pss, rss, procs, each = _sample(self._root)
            peak = self.peak
            peak.pss_bytes = max(peak.pss_bytes, pss)
            peak.rss_bytes = max(peak.rss_bytes, rss)
            peak.system_used_bytes = max(peak.system_used_bytes, psutil.virtual_memory().used)
            peak.max_processes = max(peak.max_processes, len(procs))
            for proc in procs:
                try:
                    key = (proc.pid, proc.create_time())
                    cmdline = proc.cmdline()
                except psutil.Error:
                    continue
                peak.processes.add(key)
                self._record(key, process_role(cmdline), each.get(proc, 0))
            peak.samples += 1
            self._stop.wait(self._interval_s)

    def _record(self, key: tuple[int, float], role: str, pss: int) -> None:
        seen = self.peak.per_process.get(key)
        if seen is None:
            seen = self.peak.per_process[key] = ProcessPeak(role)
        # A Ray worker is IDLE until an actor or task takes it; an exiting process has an empty command
        # line ("?"): neither replaces the role it was seen in (the engine core showed up as "?").
        elif role not in UNINFORMATIVE_ROLES:
            seen.role = role
        seen.pss_bytes = max(seen.pss_bytes, pss)
