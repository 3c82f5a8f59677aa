"""Peak memory of a process tree, sampled in a background thread.

On a shared machine the system-wide "used" figure mixes in other people's work, so the primary
figure is the summed proportional set size (PSS) of the launched process and all its descendants
(Ray's GCS, raylet, workers, vLLM engine): shared pages, such as Ray's object store, are split among
the processes mapping them instead of being counted once per process as RSS would.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import psutil


@dataclass
class MemoryPeak:
    """Peaks seen so far, in bytes, plus every process seen as (pid, create_time), to clean up."""

    pss_bytes: int = 0
    rss_bytes: int = 0
    system_used_bytes: int = 0
    max_processes: int = 0
    samples: int = 0
    processes: set[tuple[int, float]] = field(default_factory=set)


def tree_memory(root: psutil.Process) -> tuple[int, int, list[psutil.Process]]:
    """(PSS sum, RSS sum, processes) over ``root`` and its live descendants."""
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, []
    pss = rss = 0
    alive = []
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        except psutil.AccessDenied:
            info = None
        alive.append(proc)
        if info is None:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return pss, rss, alive


class TreeMemorySampler:
    """Samples ``tree_memory`` every ``interval_s`` until ``stop()``; read ``peak`` afterwards."""

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
            pss, rss, procs = tree_memory(self._root)
            peak = self.peak
            peak.pss_bytes = max(peak.pss_bytes, pss)
            peak.rss_bytes = max(peak.rss_bytes, rss)
            peak.system_used_bytes = max(peak.system_used_bytes, psutil.virtual_memory().used)
            peak.max_processes = max(peak.max_processes, len(procs))
            for proc in procs:
                try:
                    peak.processes.add((proc.pid, proc.create_time()))
                except psutil.Error:
                    continue
            peak.samples += 1
            self._stop.wait(self._interval_s)
