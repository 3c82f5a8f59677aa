"""Code accuracy: extract the program from a response and run it against the row's tests.

One sandbox per process, started on first use and closed at exit. Whole rollout batches go through
the sandbox's ``run_batch`` in one call; single calls (verl's per-sample reward managers call the
reward function from many executor threads at once) are coalesced by a small batcher so that they,
too, reach the sandbox as batches.
"""

from __future__ import annotations

import hashlib
import json
import queue
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from reward_fns.process_cache import ProcessCache
from sandbox import BadTestSpec, RunResult, SandboxConfig, TestSpec, Verdict, make_sandbox
from sandbox.remote import REMOTE_OPTIONS, RemoteSandbox, url_list

_FENCE_OPEN = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Every complete fenced block as ``(info tag, body)``, in order; one linear pass over the lines.

    A fence closes on a line of the same character at least as long (CommonMark); an unclosed last
    block (a truncated response) is not returned.
    """
    blocks: list[tuple[str, str]] = []
    fence: str | None = None
    tag = ""
    body: list[str] = []
    for line in text.split("\n"):
        if fence is None:
            m = _FENCE_OPEN.match(line)
            if m:
                fence, tag, body = m.group(1), m.group(2).lower(), []
            continue
        stripped = line.strip()
        if (
            stripped
            and stripped[0] == fence[0]
            and len(stripped) >= len(fence)
            and stripped == stripped[0] * len(stripped)
        ):
            blocks.append((tag, "\n".join(body) + "\n"))
            fence = None
        else:
            body.append(line)
    return blocks


def extract_program(response: str, fence_tags: Sequence[str], require_fence: bool = True) -> str | None:
    """The last complete fenced block whose info tag is one of ``fence_tags`` (``""``: untagged).

    Without such a block: the whole response when ``require_fence`` is False, else None.
    """
    accepted = {t.lower() for t in fence_tags}
    programs = [body for tag, body in fenced_blocks(response) if tag in accepted and body.strip()]
    if programs:
        return programs[-1]
    if not require_fence and response.strip():
        return response
    return None


def program_digest(program: str) -> str:
    """A short stable id of a program (the ``pred`` that verl's majority vote groups on)."""
    return "code:" + hashlib.sha1(program.strip().encode("utf-8", "replace")).hexdigest()[:12]


def parse_test_spec(ground_truth: Any, row: str) -> TestSpec:
    """The row's test spec; a clear error naming ``row`` when it is missing or malformed."""
    if ground_truth is None or (isinstance(ground_truth, str) and not ground_truth.strip()):
        raise ValueError(f"{row}: code row has no test spec in reward_model.ground_truth")
    try:
        if isinstance(ground_truth, Mapping):
            return TestSpec.from_dict(ground_truth)
        if isinstance(ground_truth, str | bytes):
            return TestSpec.from_json(ground_truth)
    except BadTestSpec as exc:
        raise ValueError(f"{row}: unparsable code test spec: {exc}") from exc
    raise ValueError(f"{row}: code test spec must be a JSON string, got {type(ground_truth).__name__}")


def code_accuracy(result: RunResult, partial_credit: bool) -> tuple[float, str]:
    """``(acc, reason)``: 1/0 on all tests passing (paper), or the fraction passed."""
    if result.all_passed:
        return 1.0, "all_passed"
    counts = Counter(str(t.verdict) for t in result.tests if not t.passed)
    failed = ", ".join(f"{verdict} x{n}" for verdict, n in sorted(counts.items()))
    reason = f"passed {sum(t.passed for t in result.tests)}/{len(result.tests)}: {failed or 'no tests run'}"
    return (result.fraction_passed if partial_credit else 0.0), reason


class _Coalescer:
    """Gathers single ``(program, spec)`` submissions from many threads into ``run_batch`` calls.

    Up to ``parallel`` batches run at once (the sandbox's concurrency): submissions trickle in as
    rollouts finish, and one batch at a time would leave containers idle behind a batch of one. A new
    batch is formed only when a slot is free, so whatever queued meanwhile goes together.
    """

    def __init__(
        self,
        run_batch: Callable[[list[tuple[str, TestSpec]]], list[RunResult]],
        window_s: float,
        max_batch: int,
        parallel: int = 1,
    ):
        self._run_batch = run_batch
        self._window_s = window_s
        self._max_batch = max_batch
        self._slots = threading.Semaphore(parallel)
        self._runner = ThreadPoolExecutor(parallel, thread_name_prefix="srpo-code-batch")
        self._queue: queue.Queue[tuple[str, TestSpec, Future]] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="srpo-code-batcher", daemon=True)
        self._thread.start()

    def submit(self, program: str, spec: TestSpec) -> Future:
        future: Future = Future()
        self._queue.put((program, spec, future))
        return future

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            self._slots.acquire()
            batch = [first]
            deadline = time.monotonic() + self._window_s
            while len(batch) < self._max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=remaining))
                except queue.Empty:
                    break
            self._runner.submit(self._run, batch)

    def _run(self, batch: list[tuple[str, TestSpec, Future]]) -> None:
        try:
            results = self._run_batch([(p, s) for p, s, _ in batch])
            for (_, _, future), result in zip(batch, results, strict=True):
                future.set_result(result)
        except BaseException as exc:  # hand the failure to every waiting caller
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._slots.release()


def spec_key(spec: TestSpec) -> str:
    """A canonical text of a spec, so identical tests of different rows compare equal."""
    return json.dumps(spec.to_dict(), sort_keys=True)


#: Verdicts that depend on the machine's load or health rather than on the program: never reused.
_NOT_REUSABLE = frozenset({Verdict.TIME_LIMIT, Verdict.SANDBOX_ERROR})


class CodeGrader:
    """A lazily started sandbox plus the batcher in front of it.

    A (program, tests) pair seen before is not run again: its result is reused from the last
    ``reuse_results`` pairs, and repeats within one batch run once. Rollouts repeat programs word for
    word (18 distinct programs in 64 base-model rollouts of the embedded code task, more as the policy
    sharpens), and the sandbox is the reward's only slow part. Results with a time limit or a sandbox
    error are never reused.
    """

    def __init__(
        self,
        sandbox_opts: Mapping[str, Any],
        window_s: float = 0.02,
        max_batch: int = 256,
        reuse_results: int = 4096,
    ) -> None:
        opts = dict(sandbox_opts)
        self._remote = {key: opts.pop(key) for key in REMOTE_OPTIONS if key in opts}
        if self._remote and not self._remote.get("urls"):
            raise ValueError(
                f"reward config keys {sorted(self._remote)} under 'code.sandbox' need 'code.sandbox.urls' "
                "(the sandbox servers to use)"
            )
        try:
            self._sandbox_config = SandboxConfig(**opts)
        except TypeError as exc:
            raise ValueError(
                f"reward config key 'code.sandbox' has an unknown SandboxConfig field: {exc}"
            ) from exc
        self._window_s = window_s
        self._max_batch = max_batch
        self._reuse = reuse_results
        self._results: OrderedDict[tuple[str, str], RunResult] = OrderedDict()
        self._sandbox: Any = None
        self._coalescer: _Coalescer | None = None
        self._lock = threading.Lock()

    def _started(self) -> Any:
        with self._lock:
            if self._sandbox is None:
                self._sandbox = self._remote_sandbox() if self._remote else make_sandbox(self._sandbox_config)
            return self._sandbox

    def _remote_sandbox(self) -> RemoteSandbox:
        """Servers listed in ``code.sandbox.urls`` run the programs; the other ``code.sandbox`` keys
        set the limits a spec gets when it has none (so scores match the local sandbox's) and
        ``fail_fast``, the rest (pool size, image, ...) belong to the servers."""
        config = self._sandbox_config
        return RemoteSandbox(
            fail_fast=config.fail_fast,
            time_limit_s=config.time_limit_s,
            memory_mb=config.memory_mb,
            **self._remote,
        )

    def _parallel(self) -> int:
        if self._remote:
            return len(url_list(self._remote["urls"])) * int(self._remote.get("parallel_per_server", 4))
        return self._sandbox_config.concurrency

    def run_batch(self, items: Sequence[tuple[str, TestSpec]]) -> list[RunResult]:
        """Run every program against its spec in one sandbox batch."""
        if not items:
            return []
        if self._reuse == 0:
            return self._started().run_batch(list(items))
        keys = [(program, spec_key(spec)) for program, spec in items]
        known: dict[tuple[str, str], RunResult] = {}
        todo: dict[tuple[str, str], tuple[str, TestSpec]] = {}
        with self._lock:
            for item, key in zip(items, keys, strict=True):
                if key in self._results:
                    self._results.move_to_end(key)
                    known[key] = self._results[key]
                elif key not in known:
                    todo.setdefault(key, item)
        ran = self._started().run_batch(list(todo.values())) if todo else []
        with self._lock:
            for key, result in zip(todo, ran, strict=True):
                known[key] = result
                if not any(t.verdict in _NOT_REUSABLE for t in result.tests):
                    self._results[key] = result
            while len(self._results) > self._reuse:
                self._results.popitem(last=False)
        return [known[key] for key in keys]

    def submit(self, program: str, spec: TestSpec) -> Future:
        """Queue one program; calls arriving together share a sandbox batch. Resolves to its RunResult."""
        with self._lock:
            if self._coalescer is None:
                self._coalescer = _Coalescer(
                    self.run_batch, self._window_s, self._max_batch, self._parallel()
                )
            coalescer = self._coalescer
        return coalescer.submit(program, spec)

    def run_one(self, program: str, spec: TestSpec) -> RunResult:
        """Run one program, blocking; concurrent callers share sandbox batches."""
        return self.submit(program, spec).result()

    def close(self) -> None:
        with self._lock:
            sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            sandbox.close()


_graders: ProcessCache[str, CodeGrader] = ProcessCache()


def shared_grader(
    sandbox_opts: Mapping[str, Any], window_s: float, max_batch: int, reuse_results: int
) -> CodeGrader:
    """The process-wide grader for these sandbox settings (one sandbox per process)."""
    key = repr(sorted(dict(sandbox_opts).items())) + f"|{window_s}|{max_batch}|{reuse_results}"
    return _graders.get(key, lambda: CodeGrader(sandbox_opts, window_s, max_batch, reuse_results))


def close_shared_graders() -> None:
    """Close every sandbox this process started (also done at exit)."""
    _graders.close_all()
