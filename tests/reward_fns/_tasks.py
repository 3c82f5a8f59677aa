"""Module-level task functions for the bounded-pool tests (workers import them by name)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator


def echo(x: object) -> object:
    return x


def pid() -> int:
    return os.getpid()


def sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def spin_forever() -> None:
    while True:
        pass


def spin_in_c() -> int:
    """A long loop inside one C call (builtin ``sum``), where no Python signal handler can run."""
    return sum(range(10**13))


def pid_then_spin() -> Iterator[int]:
    """This worker's pid as a partial result, then a Python loop that never ends."""
    yield os.getpid()
    spin_forever()


def allocate(mb: int) -> int:
    block = bytearray(mb * 1024 * 1024)
    return len(block)


def fail() -> None:
    raise ValueError("bad input 42")


def die() -> None:
    os._exit(3)


def recurse(n: int) -> int:
    return recurse(n + 1) + 1


def partial_then_hang() -> Iterator[str]:
    yield "first"
    yield "second"
    while True:
        pass


def echo_or_spin(x: object) -> object:
    """``x`` back, except ``"spin"``, which never returns."""
    if x == "spin":
        spin_forever()
    return x


def cpu_work(seconds: float, core: int) -> float:
    """Pin this worker to ``core`` and spin until it has used ``seconds`` of CPU; returns the CPU used."""
    os.sched_setaffinity(0, {core})
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    return time.process_time() - start
