"""Run a function with a hard time and memory bound, from any thread.

SymPy can hang or eat all memory on hostile answers (``10^{10^{10}}``, deep nesting, megabyte
strings). Signal-based timeouts only work in the main thread, and verl calls reward functions from
an executor thread inside a Ray actor, so the bound is enforced from outside: a persistent pool of
worker processes, each with an address-space rlimit; a call that overruns its wall-clock budget gets
its worker killed (SIGKILL) and replaced, and the caller gets a :class:`BoundedResult` that says so.
Nothing here raises on a bad *input*; only misuse (a closed pool) raises.

Workers are fresh interpreters (``python -m reward_fns.bounded``) talking over two pipes, not
``multiprocessing`` children: ``fork`` is unsafe in a threaded parent, and ``spawn``/``forkserver``
re-import the parent's ``__main__``, which breaks scripts without a main guard. A replacement starts
in the background while the caller already has its answer.
"""

from __future__ import annotations

import atexit
import os
import queue
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

#: Modules each worker imports before serving, so the first call does not pay for them.
PRELOAD = ("reward_fns.math_grade",)


@dataclass(frozen=True)
class BoundedResult:
    """Outcome of one bounded call: ``ok`` with ``value``, or not ok with ``reason``."""

    ok: bool
    value: Any = None  # when not ok: the last partial result of a generator task, if any
    reason: str = ""  # "timeout", "memory", "worker_crashed", "error: <type>: <message>"
    elapsed_s: float = 0.0


def _serve(inbox: Connection, outbox: Connection, memory_mb: int) -> None:
    """Worker loop: receive ``(fn, args)``, send back ``(status, payload)``; return on EOF."""
    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    for module in PRELOAD:
        __import__(module)
    outbox.send(("ready", None))
    while True:
        try:
            fn, args = inbox.recv()
        except (EOFError, OSError):
            return
        try:
            result = fn(*args)
            if isinstance(result, Generator):
                # a generator reports partial results as it goes; its last one is the answer
                last = None
                for last in result:
                    outbox.send(("partial", last))
                result = last
            outbox.send(("ok", result))
        except MemoryError:
            outbox.send(("memory", None))
            return  # the heap may be fragmented beyond use: the parent starts a fresh worker
        except RecursionError:
            outbox.send(("error", "RecursionError: nesting too deep"))
        except Exception as exc:  # the task's own failure is a result, not a worker death
            outbox.send(("error", f"{type(exc).__name__}: {str(exc)[:300]}"))


class _Worker:
    """One worker interpreter and the parent's ends of its two pipes."""

    def __init__(self, memory_mb: int) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "reward_fns.bounded",
                    str(to_child_r),
                    str(from_child_w),
                    str(memory_mb),
                ],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.send_conn = Connection(to_child_w, readable=False)
        self.recv_conn = Connection(from_child_r, writable=False)
        self.ready = False

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait for the start-up handshake (imports done); start-up is not charged to a task."""
        if not self.ready:
            try:
                self.ready = self.recv_conn.poll(timeout_s) and self.recv_conn.recv()[0] == "ready"
            except (EOFError, OSError):
                self.ready = False
        return self.ready

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            self.send_conn.close()
            self.recv_conn.close()


class BoundedPool:
    """A fixed number of worker processes; :meth:`run` is safe to call from many threads at once."""

    #: How long a new worker may take to import SymPy and the parser before it counts as crashed.
    start_timeout_s = 120.0

    def __init__(self, workers: int = 2, timeout_s: float = 5.0, memory_mb: int = 1024) -> None:
        if workers < 1:
            raise ValueError(f"BoundedPool workers must be >= 1, got {workers}")
        if timeout_s <= 0:
            raise ValueError(f"BoundedPool timeout_s must be > 0, got {timeout_s}")
        self.workers = workers
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.replacements = 0  # workers killed and replaced (timeouts, memory, crashes)
        for _ in range(workers):
            self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        worker = _Worker(self.memory_mb)
        with self._lock:
            self._all.add(worker)
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        with self._lock:
            self._all.discard(worker)
            self.replacements += 1
        worker.kill()
        return self._spawn()

    def run(self, fn: Callable[..., Any], *args: Any, timeout_s: float | None = None) -> BoundedResult:
        """Call ``fn(*args)`` in a worker; ``fn`` must be a module-level (picklable) function.

        If ``fn`` returns a generator, each yielded value is a partial result and the last one is
        the answer; on a timeout or failure, ``BoundedResult.value`` holds the last partial result.
        """
        if self._closed:
            raise RuntimeError("BoundedPool is closed")
        budget = self.timeout_s if timeout_s is None else timeout_s
        worker = self._idle.get()
        start = time.monotonic()
        payload: Any = None
        partial: Any = None  # the last partial result a generator task reported
        try:
            try:
                if not worker.wait_ready(self.start_timeout_s):
                    raise EOFError("worker did not start")
                start = time.monotonic()
                deadline = start + budget
                worker.send_conn.send((fn, args))
                status = "partial"
                while status == "partial":
                    if worker.recv_conn.poll(max(0.0, deadline - time.monotonic())):
                        status, payload = worker.recv_conn.recv()
                        if status == "partial":
                            partial = payload
                    else:
                        status = "timeout"
            except (EOFError, OSError):
                status = "crashed"
            elapsed = time.monotonic() - start
            if status == "ok":
                return BoundedResult(True, payload, "", elapsed)
            if status == "error":
                return BoundedResult(False, partial, f"error: {payload}", elapsed)
            # timeout, memory, crash: the worker is no longer trusted
            worker = self._replace(worker)
            reason = {"timeout": "timeout", "memory": "memory"}.get(status, "worker_crashed")
            return BoundedResult(False, partial, reason, elapsed)
        finally:
            if self._closed:
                worker.kill()
            else:
                self._idle.put(worker)

    def map(
        self, fn: Callable[..., Any], arg_tuples: Sequence[tuple[Any, ...]], timeout_s: float | None = None
    ) -> list[BoundedResult]:
        """:meth:`run` over many argument tuples, ``workers`` at a time; results in input order."""
        if not arg_tuples:
            return []
        if len(arg_tuples) == 1 or self.workers == 1:
            return [self.run(fn, *args, timeout_s=timeout_s) for args in arg_tuples]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(arg_tuples))) as ex:
            return list(ex.map(lambda a: self.run(fn, *a, timeout_s=timeout_s), arg_tuples))

    def close(self) -> None:
        """Kill every worker; idempotent."""
        self._closed = True
        with self._lock:
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.kill()


_pools: dict[tuple[int, float, int], BoundedPool] = {}
_pools_lock = threading.Lock()
_pools_pid = os.getpid()


def shared_pool(workers: int, timeout_s: float, memory_mb: int) -> BoundedPool:
    """The process-wide pool for these settings, started on first use and closed at exit."""
    global _pools_pid
    key = (workers, timeout_s, memory_mb)
    with _pools_lock:
        if _pools_pid != os.getpid():  # forked: the parent's workers are not ours
            _pools.clear()
            _pools_pid = os.getpid()
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = BoundedPool(workers, timeout_s, memory_mb)
        return pool


@atexit.register
def close_shared_pools() -> None:
    """Stop every shared pool of this process (also registered at exit)."""
    with _pools_lock:
        pools = list(_pools.values()) if _pools_pid == os.getpid() else []
        _pools.clear()
    for pool in pools:
        pool.close()


if __name__ == "__main__":  # a worker: python -m reward_fns.bounded <in fd> <out fd> <memory MB>
    _serve(
        Connection(int(sys.argv[1]), writable=False),
        Connection(int(sys.argv[2]), readable=False),
        int(sys.argv[3]),
    )
