"""What every benchmark here shares: timing, the machine it ran on, markdown tables, result files.

Benchmarks are modules of the ``benchmarks`` package, run from the repository root so that the
checkout's own ``srpo``, ``sandbox`` and ``reward_fns`` are the ones imported, without path edits::

    python -m benchmarks.bench_cpp --out benchmarks/results/cpp.md

Each one measures the variants it compares side by side in the same run and reports ratios; these
helpers keep the figures (median, p90, min - max spans) and the result files written the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: The checkout the benchmarks belong to (configs, scripts, the packages they measure).
REPO = Path(__file__).resolve().parents[1]


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(wall seconds, result) of one call."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def repeat(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn``, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    return [timed(fn)[0] for _ in range(repeats)]


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall seconds of ``repeats`` calls, after ``warmup`` untimed ones."""
    return statistics.median(repeat(fn, repeats, warmup))


def p90(xs: Sequence[float]) -> float:
    """The 90th percentile (nearest rank below) of a non-empty sample."""
    return sorted(xs)[int(0.9 * len(xs))]


def ms(xs: Sequence[float]) -> str:
    """Seconds as ``"12.3 ms (p90 14.0)"``."""
    return f"{statistics.median(xs) * 1000:.1f} ms (p90 {p90(xs) * 1000:.1f})"


def span(xs: Sequence[float], fmt: str = ".1f") -> str:
    """``"min - max"`` of a sample, for a median quoted beside it."""
    return f"{min(xs):{fmt}} - {max(xs):{fmt}}"


def ratio(numerator: float, denominator: float, fmt: str = ".2f") -> str:
    """``"1.23x"``, or ``"-"`` where the denominator is zero."""
    return f"{numerator / denominator:{fmt}}x" if denominator else "-"


def load() -> float:
    """The 1-minute load average: benchmarks on a shared machine quote it before and after."""
    return os.getloadavg()[0]


def machine(*extra: str) -> str:
    """One line naming the machine (architecture, cores, kernel) plus ``extra`` facts."""
    parts = [f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}", *extra]
    return "Machine: " + ", ".join(parts)


@dataclass(frozen=True)
class Measured:
    """A command run by ``run_measured``: exit status (None if killed at its time limit), wall seconds,
    and the memory peaks of its process tree (``srpo.cpu.memory.MemoryPeak``)."""

    returncode: int | None
    wall_s: float
    peak: Any


def run_measured(
    cmd: Sequence[str],
    cwd: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> Measured:
    """Run ``cmd`` with its output appended to ``log`` while sampling its process tree's memory
    (summed PSS, per-process peaks by role); killed after ``timeout_s``."""
    from srpo.cpu.memory import TreeMemorySampler

    start = time.monotonic()
    with open(log, "ab") as out:
        proc = subprocess.Popen(list(cmd), cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        sampler = TreeMemorySampler(proc.pid).start()
        try:
            returncode: int | None = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            returncode = None
        peak = sampler.stop()
    return Measured(returncode, time.monotonic() - start, peak)


def command_line(module: str) -> str:
    """How this run was started, as a result file quotes it: ``python -m <module> <its arguments>``."""
    return shlex.join(["python", "-m", module, *sys.argv[1:]])


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> list[str]:
    """A markdown table as lines; ``align`` has one letter per column: ``l`` (default) or ``r``."""
    rules = ["---:" if align[i : i + 1] == "r" else "---" for i in range(len(header))]
    lines = [f"| {' | '.join(header)} |", f"| {' | '.join(rules)} |"]
    lines += [f"| {' | '.join(str(cell) for cell in row)} |" for row in rows]
    return lines


def add_out_argument(
    parser: argparse.ArgumentParser, default: Path | None = None, what: str = "markdown"
) -> None:
    """The ``--out`` option every benchmark takes: where its result file goes."""
    parser.add_argument("--out", type=Path, default=default, help=f"also write the {what} here")


def emit(lines: str | Iterable[str], out: Path | None) -> str:
    """Print a report and, with ``out``, write it there too (folders created); returns the text."""
    text = lines if isinstance(lines, str) else "\n".join(lines)
    if not text.endswith("\n"):
        text += "\n"
    print(text, end="")
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return text


def write_json(path: Path, record: Any, indent: int = 2) -> None:
    """A result record as indented JSON (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=indent) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())
