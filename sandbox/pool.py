"""A bounded pool of warm workers (containers or local supervisors) and the run/run_batch logic.

A worker is one supervisor process that runs one program at a time. The pool keeps `pool_size`
of them warm, lets at most `concurrency` programs run at once, and replaces a worker in the
background when a run may have dirtied it or after `recycle_after` runs.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

from sandbox.api import RunResult, SandboxConfig, SandboxError, SandboxUnavailable, TestSpec
from sandbox.harness import build_request, judge_run, reply_deadline_s, sandbox_error_run, skipped_tests

log = logging.getLogger(__name__)
_SLOW_LOOP_WARNING = threading.Lock()  # taken, never released, by the one warning about the Python fork loop


class WorkerDied(SandboxError):
    """A worker stopped answering; the run it had is lost, the daemon itself is fine."""


class Worker(ABC):
    """One supervisor speaking line-delimited JSON."""

    def __init__(self) -> None:
        self.runs = 0
        self._buf = bytearray()  # replies can be large (every case's stdout): append, never re-copy

    @abstractmethod
    def _send(self, data: bytes) -> None: ...

    @abstractmethod
    def _recv_some(self, timeout_s: float) -> bytes:
        """Some stdout bytes of the supervisor; b"" at EOF; raises TimeoutError."""

    @abstractmethod
    def close(self) -> None: ...

    def describe_failure(self, err: BaseException) -> SandboxError:
        """Map a transport failure to WorkerDied or SandboxUnavailable."""
        return WorkerDied(f"sandbox worker stopped answering: {err}")

    def request(self, msg: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one request and wait (bounded) for its reply."""
        deadline = time.monotonic() + timeout_s
        try:
            self._send((json.dumps(msg) + "\n").encode())
            scanned = 0
            while (end := self._buf.find(b"\n", scanned)) < 0:
                scanned = len(self._buf)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no reply within {timeout_s:.0f}s")
                chunk = self._recv_some(left)
                if not chunk:
                    raise EOFError("the supervisor closed its output")
                self._buf += chunk
        except (OSError, EOFError, TimeoutError) as e:
            raise self.describe_failure(e) from e
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        try:
            reply = json.loads(line)
        except ValueError:
            raise WorkerDied(f"unreadable supervisor reply: {line[:200]!r}") from None
        if reply.get("op") == "error":
            raise WorkerDied(str(reply.get("message")))
        return reply

    def ping(self, timeout_s: float) -> dict[str, Any]:
        reply = self.request({"op": "ping"}, timeout_s)
        if reply.get("op") != "pong":
            raise WorkerDied(f"unexpected answer to ping: {reply}")
        loop = reply.get("fork_loop")
        # once per process (workers start in parallel): every worker of an old image says the same
        if loop and loop != "c" and _SLOW_LOOP_WARNING.acquire(blocking=False):
            log.warning(
                "sandbox: the fork server runs its Python loop (%s), which costs more per test than "
                "its C loop; for Docker, rebuild the image with scripts/build_sandbox_image.sh --force",
                loop.removeprefix("python").strip() or "no reason given",
            )
        return reply


class WorkerPool:
    """Warm workers, created by `factory`, at most `limit` alive at once."""

    def __init__(self, factory: Callable[[], Worker], config: SandboxConfig) -> None:
        self._factory = factory
        self._config = config
        self._limit = max(config.concurrency, 1)
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._alive = 0
        self._closed = False
        self._all: set[Worker] = set()
        self._background: list[threading.Thread] = []

    def _create(self) -> Worker:
        worker = self._factory()
        with self._lock:
            self._all.add(worker)
            if self._closed:
                self._all.discard(worker)
                worker.close()
                raise SandboxError("the sandbox is closed")
        return worker

    def warm_up(self, n: int) -> None:
        """Start n workers in parallel and park them idle; raise the first failure."""
        n = min(n, self._limit)
        with self._lock:
            self._alive += n
        errors: list[BaseException] = []

        def one() -> None:
            try:
                self._idle.put(self._create())
            except BaseException as e:
                with self._lock:
                    self._alive -= 1
                errors.append(e)

        threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def acquire(self) -> Worker:
        while True:
            if self._closed:
                raise SandboxError("the sandbox is closed")
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            with self._lock:
                can_create = self._alive < self._limit
                if can_create:
                    self._alive += 1
            if can_create:
                try:
                    return self._create()
                except BaseException:
                    with self._lock:
                        self._alive -= 1
                    raise
            try:
                return self._idle.get(timeout=0.2)
            except queue.Empty:
                continue

    def release(self, worker: Worker, dirty: bool) -> None:
        """Give a worker back; replace it in the background if it may be dirty or is worn out."""
        if not dirty and worker.runs < self._config.recycle_after and not self._closed:
            self._idle.put(worker)
            return
        t = threading.Thread(target=self._replace, args=(worker,), daemon=True)
        t.start()
        with self._lock:
            self._background = [b for b in self._background if b.is_alive()] + [t]

    def discard(self, worker: Worker) -> None:
        """Drop a broken worker without replacing it (the next acquire creates one if needed)."""
        self._retire(worker)
        with self._lock:
            self._alive -= 1

    def _retire(self, worker: Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        try:
            worker.close()
        except Exception as e:  # closing is best effort; the reaper catches what is left
            log.debug("closing a sandbox worker failed: %s", e)

    def _replace(self, worker: Worker) -> None:
        self._retire(worker)
        if self._closed:
            with self._lock:
                self._alive -= 1
            return
        try:
            self._idle.put(self._create())
        except BaseException as e:
            with self._lock:
                self._alive -= 1
            log.warning("could not replace a recycled sandbox worker: %s", e)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            background = list(self._background)
        for t in background:
            t.join(timeout=30)
        threads = [threading.Thread(target=w.close, daemon=True) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)


class PooledSandbox:
    """run / run_batch on top of a WorkerPool; the backends supply the workers."""

    def __init__(self, config: SandboxConfig, factory: Callable[[], Worker]) -> None:
        self.config = config
        self._pool = WorkerPool(factory, config)
        self._ids = itertools.count(1)
        self._closed = False
        try:
            self._pool.warm_up(config.pool_size)
        except BaseException:
            self._pool.close()
            raise

    def run(self, program: str, spec: TestSpec) -> RunResult:
        """Run one program against every case of `spec`.

        With fail_fast a Python program's first case runs alone, and the others only if it
        passed: a wrong answer is judged here, after the run, so a program that is wrong on its
        first case (most wrong programs) would otherwise run all of its cases for nothing. Only
        all-passed counts then, so the reward is the same. C++ runs at once (it compiles per run).
        """
        if not isinstance(program, str):
            raise TypeError(f"program must be str, got {type(program).__name__}")
        if not isinstance(spec, TestSpec):
            raise TypeError(f"spec must be a TestSpec (use TestSpec.from_json), got {type(spec).__name__}")
        if not (self.config.fail_fast and spec.language == "python" and len(spec.cases) > 1):
            return self._run_once(program, spec)
        first = self._run_once(program, replace(spec, cases=spec.cases[:1]))
        if not first.all_passed:
            return RunResult(first.tests + skipped_tests(len(spec.cases) - 1, "the first case did not pass"))
        rest = self._run_once(program, replace(spec, cases=spec.cases[1:]))
        return RunResult(first.tests + rest.tests)

    def _run_once(self, program: str, spec: TestSpec) -> RunResult:
        """One supervisor request: the program against every case of `spec`."""
        run_id = next(self._ids)
        request = build_request(run_id, program, spec, self.config)
        worker = self._pool.acquire()
        start = time.monotonic()
        try:
            reply = worker.request(request, reply_deadline_s(spec, self.config))
        except WorkerDied as e:
            self._pool.discard(worker)
            return sandbox_error_run(spec, str(e), time.monotonic() - start)
        except BaseException:
            self._pool.discard(worker)
            raise
        worker.runs += 1
        if reply.get("id") != run_id:  # never attribute another run's results to this one
            self._pool.discard(worker)
            return sandbox_error_run(spec, f"reply for run {reply.get('id')} received for run {run_id}")
        self._pool.release(worker, dirty=bool(reply.get("dirty")))
        return judge_run(spec, reply, self.config)

    def run_batch(self, items: Sequence[tuple[str, TestSpec]]) -> list[RunResult]:
        """Run many programs concurrently (bounded by the config); results keep the input order.

        If the daemon becomes unreachable the remaining runs are cancelled and SandboxUnavailable
        is raised rather than returning partial results.
        """
        items = list(items)
        if not items:
            return []
        workers = min(self.config.concurrency, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox") as ex:
            futures = [ex.submit(self.run, program, spec) for program, spec in items]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                for f in futures:
                    f.cancel()
                raise failed.exception()  # type: ignore[misc]
            return [f.result() for f in futures]

    def close(self) -> None:
        """Stop and remove every worker; safe to call twice."""
        if not self._closed:
            self._closed = True
            self._pool.close()

    def __enter__(self) -> PooledSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown; the reaper removes what is left
            self.close()


__all__ = ["PooledSandbox", "SandboxUnavailable", "Worker", "WorkerDied", "WorkerPool"]
