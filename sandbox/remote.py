"""A sandbox that runs programs on sandbox servers (``python -m sandbox serve``) over HTTP.

`RemoteSandbox` offers the same ``run`` / ``run_batch`` as the local backends, so the code reward
can use a CPU fleet by listing URLs (``code.sandbox.urls``). A batch is cut into requests of
``chunk_size`` runs, each sent to the healthy server with the fewest requests outstanding. When a
server fails (connection refused or reset, a time-out, a 5xx, a reply that does not match the
request) its request goes to another server under the **same request id**; a server that sees an
id again answers from its record instead of running again, and the client keeps only the first
answer for each request, so a retry never runs twice on one server nor counts twice. A failed
server rests ``down_for_s`` before it is tried again. When no server has answered for
``give_up_s``, `SandboxUnavailable` names every URL and its last error.
"""

from __future__ import annotations

import http.client
import itertools
import json
import logging
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from sandbox import wire
from sandbox.api import RunResult, SandboxError, SandboxUnavailable, TestSpec

log = logging.getLogger(__name__)

#: Keys of ``code.sandbox`` that configure this client (the rest configure the servers' sandboxes).
REMOTE_OPTIONS = frozenset(
    {"urls", "chunk_size", "parallel_per_server", "down_for_s", "give_up_s", "request_timeout_s"}
)
#: Per-case allowance when a spec carries no time limit (servers default to 5 s; this is generous).
CASE_ALLOWANCE_S = 15.0
REQUEST_SLACK_S = 30.0


class RequestRefused(SandboxError):
    """A server refused a request as malformed or conflicting (4xx): retrying elsewhere cannot help."""


class _Retryable(Exception):
    """This server could not answer this request now; another server may.

    ``rest_s``: how long to leave the server alone (None: the client's ``down_for_s``)."""

    def __init__(self, message: str, rest_s: float | None = None) -> None:
        super().__init__(message)
        self.rest_s = rest_s


@dataclass
class _Server:
    url: str
    host: str
    port: int
    path_prefix: str
    outstanding: int = 0
    down_until: float = 0.0
    last_error: str = ""
    answered: int = 0
    failed: int = 0


@dataclass
class _Chunk:
    request_id: str
    body: bytes
    specs: list[TestSpec]
    timeout_s: float
    tried: set[str] = field(default_factory=set)


def url_list(urls: Sequence[str] | str) -> list[str]:
    """Server URLs from a list or a comma-separated string; ValueError when there are none."""
    items = urls.split(",") if isinstance(urls, str) else list(urls)
    if not all(isinstance(u, str) for u in items):
        raise ValueError(f"sandbox server URLs must be strings, got {urls!r}")
    found = [u.strip() for u in items if u.strip()]
    if not found:
        raise ValueError("at least one sandbox server URL is needed (code.sandbox.urls)")
    return found


def _parse_url(url: str) -> _Server:
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"sandbox server URL {url!r} must look like http://host:port")
    return _Server(url.rstrip("/"), parts.hostname, parts.port or 80, parts.path.rstrip("/"))


class RemoteSandbox:
    """``run`` / ``run_batch`` on sandbox servers, spreading load and failing over (module docstring)."""

    def __init__(
        self,
        urls: Sequence[str] | str,
        fail_fast: bool = False,
        chunk_size: int = 8,
        parallel_per_server: int = 4,
        down_for_s: float = 5.0,
        give_up_s: float = 60.0,
        request_timeout_s: float | None = None,
        time_limit_s: float | None = None,
        memory_mb: int | None = None,
    ) -> None:
        """``time_limit_s`` / ``memory_mb`` fill specs that set none, so a spec gets the same limits
        as from a local sandbox with that config (a server's own defaults apply otherwise)."""
        urls = url_list(urls)
        if chunk_size < 1 or parallel_per_server < 1 or down_for_s < 0 or give_up_s < 0:
            raise ValueError("chunk_size and parallel_per_server must be >= 1; down_for_s, give_up_s >= 0")
        self._servers = [_parse_url(u) for u in urls]
        self.fail_fast = fail_fast
        self.chunk_size = chunk_size
        self.concurrency = len(self._servers) * parallel_per_server
        self.down_for_s = down_for_s
        self.give_up_s = give_up_s
        self.request_timeout_s = request_timeout_s
        self.time_limit_s = time_limit_s
        self.memory_mb = memory_mb
        self._client_id = uuid.uuid4().hex[:16]
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._local = threading.local()
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="sandbox-remote")
        self._closed = False
        self.retries = 0
        self.failover_s: deque[float] = deque(maxlen=10_000)
        """Seconds from a request's first failure to its answer by another server (latest 10,000)."""

    # ------------------------------------------------------------ the Sandbox protocol

    def run(self, program: str, spec: TestSpec) -> RunResult:
        return self.run_batch([(program, spec)])[0]

    def run_batch(self, items: Sequence[tuple[str, TestSpec]]) -> list[RunResult]:
        """Run every program on the servers; results keep the input order."""
        items = list(items)
        if self._closed:
            raise SandboxError("the remote sandbox is closed")
        for program, spec in items:
            if not isinstance(program, str) or not isinstance(spec, TestSpec):
                raise TypeError("run_batch takes (program: str, spec: TestSpec) pairs")
        chunks = [self._chunk(items[i : i + self.chunk_size]) for i in range(0, len(items), self.chunk_size)]
        futures = [self._executor.submit(self._send, chunk) for chunk in chunks]
        try:
            return [result for f in futures for result in f.result()]
        finally:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> RemoteSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def servers(self) -> list[dict[str, object]]:
        """Each server's state, for logs and benchmarks."""
        with self._lock:
            now = time.monotonic()
            return [
                {
                    "url": s.url,
                    "up": s.down_until <= now,
                    "answered": s.answered,
                    "failed": s.failed,
                    "last_error": s.last_error,
                }
                for s in self._servers
            ]

    # ------------------------------------------------------------ one request

    def _chunk(self, items: list[tuple[str, TestSpec]]) -> _Chunk:
        request_id = f"{self._client_id}-{next(self._seq)}"
        items = [(program, self._with_defaults(spec)) for program, spec in items]
        specs = [spec for _, spec in items]
        timeout = self.request_timeout_s or REQUEST_SLACK_S + sum(
            len(s.cases) * (s.time_limit_s or CASE_ALLOWANCE_S) for s in specs
        )
        return _Chunk(request_id, wire.encode_batch(request_id, items, self.fail_fast), specs, timeout)

    def _with_defaults(self, spec: TestSpec) -> TestSpec:
        time_limit = spec.time_limit_s or self.time_limit_s
        memory = spec.memory_mb or self.memory_mb
        if (time_limit, memory) == (spec.time_limit_s, spec.memory_mb):
            return spec
        return replace(spec, time_limit_s=time_limit, memory_mb=memory)

    def _send(self, chunk: _Chunk) -> list[RunResult]:
        first_failure: float | None = None
        while True:
            server = self._pick(chunk, first_failure)
            try:
                results = self._post(server, chunk)
            except _Retryable as e:
                now = time.monotonic()
                first_failure = first_failure or now
                self._failed(server, str(e), now, e.rest_s)
                continue
            finally:
                with self._lock:
                    server.outstanding -= 1
                    self._ready.notify_all()
            with self._lock:
                server.answered += 1
                server.down_until = 0.0
                if first_failure is not None:
                    self.retries += 1
                    self.failover_s.append(time.monotonic() - first_failure)
            return results

    def _pick(self, chunk: _Chunk, first_failure: float | None) -> _Server:
        """The up server with the fewest outstanding requests (untried ones first); waits while all rest."""
        with self._lock:
            while True:
                if self._closed:
                    raise SandboxError("the remote sandbox is closed")
                now = time.monotonic()
                if first_failure is not None and now - first_failure > self.give_up_s:
                    raise SandboxUnavailable(self._none_answered())
                up = [s for s in self._servers if s.down_until <= now]
                if up:
                    server = min(up, key=lambda s: (s.url in chunk.tried, s.outstanding))
                    server.outstanding += 1
                    chunk.tried.add(server.url)
                    return server
                wake = min(s.down_until for s in self._servers) - now
                self._ready.wait(timeout=max(0.01, wake))

    def _failed(self, server: _Server, error: str, now: float, rest_s: float | None) -> None:
        log.warning("sandbox server %s failed (%s); retrying its request elsewhere", server.url, error)
        with self._lock:
            server.failed += 1
            server.last_error = error
            server.down_until = now + (self.down_for_s if rest_s is None else rest_s)
            self._ready.notify_all()
        self._drop_connection(server)

    def _none_answered(self) -> str:
        errors = "; ".join(f"{s.url}: {s.last_error or 'no answer'}" for s in self._servers)
        return (
            f"no sandbox server answered for {self.give_up_s:g}s ({errors}). Start servers with "
            "`python -m sandbox serve` (scripts/launch/sandbox_node.sh --serve) or fix code.sandbox.urls"
        )

    # ------------------------------------------------------------ HTTP

    def _connection(self, server: _Server, timeout_s: float) -> http.client.HTTPConnection:
        conns = self._local.__dict__.setdefault("conns", {})
        conn = conns.get(server.url)
        if conn is None:
            conn = conns[server.url] = http.client.HTTPConnection(server.host, server.port, timeout=timeout_s)
        conn.timeout = timeout_s
        if conn.sock is not None:
            conn.sock.settimeout(timeout_s)
        return conn

    def _drop_connection(self, server: _Server) -> None:
        conn = self._local.__dict__.get("conns", {}).pop(server.url, None)
        if conn is not None:
            conn.close()

    def _exchange(self, server: _Server, chunk: _Chunk) -> tuple[http.client.HTTPResponse, bytes]:
        """POST the chunk; a kept-alive connection the server has since closed gets one fresh try
        (the same request id, so even a request that did arrive is not run twice)."""
        for attempt in (0, 1):
            conn = self._connection(server, chunk.timeout_s)
            reused = conn.sock is not None
            try:
                conn.request(
                    "POST",
                    server.path_prefix + "/run_batch",
                    body=chunk.body,
                    headers={"Content-Type": "application/json"},
                )
                response = conn.getresponse()
                return response, response.read()
            except (OSError, http.client.HTTPException) as e:
                self._drop_connection(server)
                stale = isinstance(e, http.client.RemoteDisconnected | BrokenPipeError | ConnectionResetError)
                if not (reused and stale and attempt == 0):
                    raise _Retryable(f"{type(e).__name__}: {e}") from None
        raise AssertionError("unreachable")

    def _post(self, server: _Server, chunk: _Chunk) -> list[RunResult]:
        response, body = self._exchange(server, chunk)
        if response.status in (400, 404, 409, 413):
            self._drop_connection(server)
            raise RequestRefused(f"sandbox server {server.url} refused the request: {_message(body)}")
        if response.status != 200:
            retry_after = response.getheader("Retry-After", "")
            rest = float(retry_after) if retry_after.isdigit() else None  # a full queue: busy, not dead
            raise _Retryable(f"HTTP {response.status}: {_message(body)}", rest)
        try:
            return wire.decode_results(body, chunk.request_id, chunk.specs)
        except ValueError as e:
            raise _Retryable(f"unusable reply: {e}") from None


def _message(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        return str(json.loads(text).get("message") or text)[:300]
    except (ValueError, AttributeError):
        return text[:300]
