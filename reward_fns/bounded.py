"""Run a function with a hard time and memory bound, from any thread.

SymPy can hang or eat all memory on hostile answers (``10^{10^{10}}``, deep nesting, megabyte
strings). Signal-based timeouts only work in the main thread, and verl calls reward functions from
an executor thread inside a Ray actor, so the bound is enforced from outside: a persistent pool of
worker processes, each with an address-space rlimit; a call that overruns its budget gets its worker
killed (SIGKILL) and replaced, and the caller gets a :class:`BoundedResult` that says so. Nothing
here raises on a bad *input*; only misuse (a closed pool) raises.

The budget is CPU time, not wall-clock time, so that a verdict does not depend on how loaded the
machine is: a legitimate answer that needs 0.3 s of CPU is graded even when other jobs leave the
worker a fifth of a core (with a wall-clock bound it flipped to ``timeout``, and the reward with it).
Two guards enforce it. Inside the worker, a CPU timer (``ITIMER_PROF``) interrupts a call in
Python code when its budget is spent; the worker reports ``timeout`` and lives on, with its caches
(a killed worker's replacement re-parses every gold it meets: that, at each spurious timeout, is
what made the lenient mode slower than math-verify). A call stuck in C code, where no signal handler
runs, is killed by the parent, which watches the worker's CPU clock (``/proc/<pid>/stat``) without
polling: one thread cannot spend CPU faster than the wall clock runs, so the parent sleeps until the
earliest moment the budget (plus a small grace) could be spent, reads the clock, and sleeps again
for what is left. A generous wall-clock backstop still kills a worker that makes no progress at all
(blocked, stopped); that verdict is ``stalled``. Where there is no ``/proc`` the wall clock stands
in for the CPU clock.

Where workers come from: a *zygote*, a fresh interpreter (``python -m reward_fns.bounded``) that
imports SymPy and the parser once and then forks a worker per request, handing it two pipes
received over a Unix socket. Forking the trainer itself is unsafe (it is threaded) and
``spawn``/``forkserver`` re-import the caller's ``__main__`` (which breaks scripts without a main
guard); forking the single-threaded zygote is safe and makes a replacement cost milliseconds
instead of the seconds an import of SymPy takes.
"""

from __future__ import annotations

import contextlib
import os
import queue
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from reward_fns.process_cache import ProcessCache

#: Modules each worker imports before serving, so the first call does not pay for them.
PRELOAD = ("reward_fns.math_grade",)


@dataclass(frozen=True)
class BoundedResult:
    """Outcome of one bounded call: ``ok`` with ``value``, or not ok with ``reason``."""

    ok: bool
    value: Any = None  # when not ok: the last partial result of a generator task, if any
    reason: str = ""  # "timeout", "stalled", "memory", "worker_crashed", "error: <type>: <message>"
    elapsed_s: float = 0.0


class _BudgetSpent(BaseException):
    """Raised in a worker when its call has used its CPU budget. A BaseException, so that the
    library's many ``except Exception`` do not swallow it and compute on."""


_armed = False  # whether a call's CPU timer runs; a SIGPROF that arrives after it stopped is ignored


def _on_sigprof(signum: int, frame: Any) -> None:
    if _armed:
        raise _BudgetSpent


def _set_timer(seconds: float) -> float:
    """Start (``seconds`` > 0) or stop (0) the call's CPU timer; returns what was left of it."""
    global _armed
    _armed = False
    left = signal.setitimer(signal.ITIMER_PROF, seconds)[0]
    _armed = seconds > 0
    return left


def _call(fn: Callable[..., Any], args: tuple[Any, ...], budget_s: float, outbox: Connection) -> Any:
    """``fn(*args)`` under a CPU timer (``ITIMER_PROF``), paused while a partial result is sent so
    that the timer never interrupts a message half-written."""
    _set_timer(budget_s)
    try:
        result = fn(*args)
        if isinstance(result, Generator):
            # a generator reports partial results as it goes; its last one is the answer
            last = None
            for last in result:
                left = _set_timer(0)
                outbox.send(("partial", last, None))
                _set_timer(max(left, 1e-3))
            result = last
        return result
    finally:
        _set_timer(0)


def _serve(inbox: Connection, outbox: Connection, memory_mb: int) -> None:
    """Worker loop: receive ``(fn, [args, ...], budget_s)``, run the calls in order and send back,
    for each, any ``("partial", value, None)`` and then one ``("ok", result, cpu)``, ``("error",
    message, cpu)`` or ``("timeout", None, cpu)``; a batch costs one message in, which is what lets
    32 rollouts of a prompt share a round trip. ``cpu`` is the worker's CPU clock after the call:
    where the parent starts counting the next call's budget.

    A call that spends ``budget_s`` of CPU in Python code is interrupted here (SIGPROF), and the
    worker lives on with its caches (a kill would cost the next few hundred answers a cold parse of
    their gold); math-verify's own timeouts interrupt it the same way. A call stuck in C code, where
    no signal handler runs, is killed by the parent's watchdog shortly after."""
    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    signal.signal(signal.SIGPROF, _on_sigprof)
    outbox.send(("ready", None, time.process_time()))
    while True:
        try:
            fn, batch, budget_s = inbox.recv()
        except (EOFError, OSError):
            return
        for args in batch:
            try:
                result = _call(fn, args, budget_s, outbox)
                outbox.send(("ok", result, time.process_time()))
            except _BudgetSpent:
                outbox.send(("timeout", None, time.process_time()))
            except MemoryError:
                outbox.send(("memory", None, None))
                return  # the heap may be fragmented beyond use: the parent starts a fresh worker
            except RecursionError:
                outbox.send(("error", "RecursionError: nesting too deep", time.process_time()))
            except Exception as exc:  # the task's own failure is a result, not a worker death
                outbox.send(("error", f"{type(exc).__name__}: {str(exc)[:300]}", time.process_time()))


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) process ``pid`` has used, from ``/proc``; None where unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()  # the name in (...) may hold spaces
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime
    except (OSError, IndexError, ValueError):
        return None


_PID = struct.Struct("!I")


def _zygote_main(sock_fd: int) -> None:
    """Zygote loop: for each request (memory bound + two pipe ends) fork a worker, reply its pid."""
    sock = socket.socket(fileno=sock_fd)
    for module in PRELOAD:
        __import__(module)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished workers
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, _PID.size, 2)
        except OSError:
            return
        if not msg or len(fds) != 2:
            return  # the parent went away
        pid = os.fork()
        if pid == 0:
            sock.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                _serve(
                    Connection(fds[0], writable=False),
                    Connection(fds[1], readable=False),
                    _PID.unpack(msg)[0],
                )
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        sock.sendall(_PID.pack(pid))


class _Zygote:
    """The parent's handle on a zygote process."""

    def __init__(self) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reward_fns.bounded", str(child_end.fileno())],
                pass_fds=(child_end.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
            )
        finally:
            child_end.close()
        self.sock = parent_end
        self._lock = threading.Lock()

    def fork(self, memory_mb: int) -> tuple[int, Connection, Connection]:
        """A new worker: ``(pid, connection to send tasks, connection to receive results)``."""
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            with self._lock:
                socket.send_fds(self.sock, [_PID.pack(memory_mb)], [to_child_r, from_child_w])
                reply = b""
                while len(reply) < _PID.size:
                    chunk = self.sock.recv(_PID.size - len(reply))
                    if not chunk:
                        raise ConnectionError("the zygote process exited")
                    reply += chunk
        except BaseException:
            for fd in (to_child_w, from_child_r):
                os.close(fd)
            raise
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        return (
            _PID.unpack(reply)[0],
            Connection(to_child_w, readable=False),
            Connection(from_child_r, writable=False),
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        self.sock.close()  # the zygote exits on EOF
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


class _Worker:
    """One worker process (a child of the zygote) and the parent's ends of its two pipes."""

    def __init__(self, zygote: _Zygote, memory_mb: int) -> None:
        self.pid, self.send_conn, self.recv_conn = zygote.fork(memory_mb)
        self.ready = False
        self.cpu_s = 0.0  # the worker's CPU clock as it last reported it (after its last call)

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait for the start-up handshake; start-up is not charged to a task."""
        if not self.ready:
            try:
                if self.recv_conn.poll(timeout_s):
                    status, _, self.cpu_s = self.recv_conn.recv()
                    self.ready = status == "ready"
            except (EOFError, OSError):
                self.ready = False
        return self.ready

    def next_message(
        self, call_start: float, cpu_budget_s: float, wall_budget_s: float
    ) -> tuple[str, Any, float | None]:
        """The worker's next message, or ``("cpu_limit", None, None)`` once the call that began at
        ``call_start`` (monotonic) has used ``cpu_budget_s`` of CPU since the worker's last report,
        or ``("stalled", None, None)`` ``wall_budget_s`` after ``call_start``. Sleeps until the
        earliest moment the CPU budget could be spent (one thread's CPU clock runs no faster than
        the wall clock), so a call that ends within its budget costs no extra wake-up; without
        ``/proc`` the wall clock stands in for the CPU clock."""
        used, checked = 0.0, call_start  # CPU the call used as of wall time ``checked`` (a lower bound)
        while True:
            now = time.monotonic()
            wait = min(call_start + wall_budget_s - now, checked + cpu_budget_s - used - now)
            if self.recv_conn.poll(max(0.01 if used else 0.0, wait)):
                status, payload, cpu = self.recv_conn.recv()
                if cpu is not None:
                    self.cpu_s = cpu
                return status, payload, cpu
            checked = time.monotonic()
            if checked - call_start >= wall_budget_s:
                return "stalled", None, None
            total = cpu_seconds(self.pid)
            used = checked - call_start if total is None else total - self.cpu_s
            if used >= cpu_budget_s:
                return "cpu_limit", None, None

    def kill(self) -> None:
        """SIGKILL a live (unresponsive) worker; only called before it could have been reaped."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.close()

    def close(self) -> None:
        self.send_conn.close()
        self.recv_conn.close()


class BoundedPool:
    """A fixed number of worker processes; :meth:`run` is safe to call from many threads at once."""

    #: How long a new worker may take to answer its first handshake (the zygote's imports included).
    start_timeout_s = 120.0
    #: CPU seconds past its budget after which a call that did not stop itself (stuck in C code,
    #: where the worker's timer signal cannot interrupt it) gets its worker killed.
    kill_grace_s = 0.2

    def __init__(
        self,
        workers: int = 2,
        timeout_s: float = 5.0,
        memory_mb: int = 1024,
        wall_timeout_s: float | None = None,
    ) -> None:
        """``timeout_s``: CPU seconds a call may use; ``wall_timeout_s`` (default ten times that,
        at least 15 s): the backstop for a worker that makes no progress (it also caps a call on a
        machine so loaded that its CPU share is below ``timeout_s / wall_timeout_s``)."""
        if workers < 1:
            raise ValueError(f"BoundedPool workers must be >= 1, got {workers}")
        if timeout_s <= 0:
            raise ValueError(f"BoundedPool timeout_s must be > 0, got {timeout_s}")
        if wall_timeout_s is None:
            wall_timeout_s = max(15.0, 10 * timeout_s)
        if wall_timeout_s < timeout_s:
            raise ValueError(
                f"BoundedPool wall_timeout_s must be >= timeout_s, got {wall_timeout_s} < {timeout_s}"
            )
        self.workers = workers
        self.timeout_s = timeout_s
        self.wall_timeout_s = wall_timeout_s
        self.memory_mb = memory_mb
        self._zygote = _Zygote()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.replacements = 0  # workers killed and replaced (timeouts in C code, memory, crashes)
        self.interrupted = 0  # calls over their CPU budget that the worker stopped itself
        for _ in range(workers):
            self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        with self._lock:
            if not self._zygote.alive():  # e.g. killed by the OOM killer: start another
                self._zygote.close()
                self._zygote = _Zygote()
            zygote = self._zygote
        worker = _Worker(zygote, self.memory_mb)
        with self._lock:
            self._all.add(worker)
        return worker

    def _replace(self, worker: _Worker, alive: bool) -> _Worker | None:
        with self._lock:
            self._all.discard(worker)
            self.replacements += 1
        if alive:
            worker.kill()
        else:
            worker.close()  # already exited: its pid may be reused, so do not signal it
        return None if self._closed else self._spawn()

    def run(self, fn: Callable[..., Any], *args: Any, timeout_s: float | None = None) -> BoundedResult:
        """Call ``fn(*args)`` in a worker; ``fn`` must be a module-level (picklable) function, and
        ``timeout_s`` (CPU seconds) overrides the pool's budget for this call.

        If ``fn`` returns a generator, each yielded value is a partial result and the last one is
        the answer; on a timeout or failure, ``BoundedResult.value`` holds the last partial result.
        """
        return self.run_batch(fn, [args], timeout_s=timeout_s)[0]

    def run_batch(
        self, fn: Callable[..., Any], arg_tuples: Sequence[tuple[Any, ...]], timeout_s: float | None = None
    ) -> list[BoundedResult]:
        """:meth:`run` for each argument tuple, one after another on one worker, with one message
        per batch; each call still has its own CPU budget. A call that overruns or kills its
        worker gets that result, and the rest of the batch goes on in a fresh worker."""
        if self._closed:
            raise RuntimeError("BoundedPool is closed")
        budget = self.timeout_s if timeout_s is None else timeout_s
        results: list[BoundedResult] = []
        while len(results) < len(arg_tuples):
            results += self._run_on_one_worker(fn, arg_tuples[len(results) :], budget)
        return results

    def _run_on_one_worker(
        self, fn: Callable[..., Any], batch: Sequence[tuple[Any, ...]], budget: float
    ) -> list[BoundedResult]:
        """Results of a prefix of ``batch`` (all of it unless a call kills or overruns the worker)."""
        worker: _Worker | None = self._idle.get()
        results: list[BoundedResult] = []
        partial: Any = None  # the last partial result of the current call
        start = time.monotonic()
        try:
            try:
                if not worker.wait_ready(self.start_timeout_s):
                    raise EOFError("worker did not start")
                start = time.monotonic()
                worker.send_conn.send((fn, list(batch), budget))
                while len(results) < len(batch):
                    status, payload, _ = worker.next_message(
                        start, budget + self.kill_grace_s, self.wall_timeout_s
                    )
                    if status == "partial":
                        partial = payload
                        continue
                    elapsed = time.monotonic() - start
                    if status == "ok":
                        results.append(BoundedResult(True, payload, "", elapsed))
                    elif status == "error":
                        results.append(BoundedResult(False, partial, f"error: {payload}", elapsed))
                    elif status == "timeout":  # the worker stopped the call itself and lives on
                        with self._lock:
                            self.interrupted += 1
                        results.append(BoundedResult(False, partial, "timeout", elapsed))
                    else:
                        break  # cpu_limit, stalled or memory: the worker is no longer trusted
                    partial, start = None, time.monotonic()
            except (EOFError, OSError):
                status = "crashed"
            if len(results) == len(batch):
                return results
            # killed over its CPU budget, stalled, out of memory, crashed
            elapsed = time.monotonic() - start
            worker = self._replace(worker, alive=status in ("cpu_limit", "stalled"))
            reason = {"cpu_limit": "timeout", "stalled": "stalled", "memory": "memory"}.get(
                status, "worker_crashed"
            )
            results.append(BoundedResult(False, partial, reason, elapsed))
            return results
        finally:
            if worker is not None and self._closed:
                worker.close()
            elif worker is not None:
                self._idle.put(worker)

    def map(
        self,
        fn: Callable[..., Any],
        arg_tuples: Sequence[tuple[Any, ...]],
        timeout_s: float | None = None,
        chunk: int = 16,
    ) -> list[BoundedResult]:
        """:meth:`run` over many argument tuples, in batches of up to ``chunk`` calls spread over
        the workers; results in input order."""
        if not arg_tuples:
            return []
        per_worker = -(-len(arg_tuples) // self.workers)  # ceil: every worker gets a share
        size = max(1, min(chunk, per_worker))
        batches = [arg_tuples[i : i + size] for i in range(0, len(arg_tuples), size)]
        if len(batches) == 1:
            return self.run_batch(fn, batches[0], timeout_s=timeout_s)
        with ThreadPoolExecutor(max_workers=min(self.workers, len(batches))) as ex:
            done = ex.map(lambda b: self.run_batch(fn, b, timeout_s=timeout_s), batches)
            return [r for results in done for r in results]

    def close(self) -> None:
        """Stop every worker and the zygote; idempotent."""
        self._closed = True
        with self._lock:
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.close()  # each worker exits on EOF
        self._zygote.close()


_pools: ProcessCache[tuple[int, float, int, float | None], BoundedPool] = ProcessCache()


def shared_pool(
    workers: int, timeout_s: float, memory_mb: int, wall_timeout_s: float | None = None
) -> BoundedPool:
    """The process-wide pool for these settings, started on first use and closed at exit."""
    return _pools.get(
        (workers, timeout_s, memory_mb, wall_timeout_s),
        lambda: BoundedPool(workers, timeout_s, memory_mb, wall_timeout_s),
    )


def close_shared_pools() -> None:
    """Stop every shared pool of this process (also done at exit)."""
    _pools.close_all()


if __name__ == "__main__":  # the zygote: python -m reward_fns.bounded <socket fd>
    _zygote_main(int(sys.argv[1]))
