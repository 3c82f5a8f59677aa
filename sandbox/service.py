"""The sandbox as an HTTP service: SandboxFusion's `/run_code`, our `/run_batch`, health and metrics.

    python -m sandbox serve --host 127.0.0.1 --port 8080 --pool-size 4

Code-RL teams run program execution on a CPU fleet behind HTTP; verl speaks SandboxFusion's API
(``reward.sandbox_fusion.url``). One server holds one warm sandbox pool; every run, whichever
endpoint brought it, waits in one FIFO queue for a worker, so the queue depth is real and bounded:
past ``max_queue`` waiting runs a request is refused at once (503 on `/run_batch`, so our client
moves to another server; 504 on `/run_code`, the one status verl's client retries) instead of
stalling until the client's read time-out. A `/run_code` run that waited ``queue_timeout_s``
without starting is answered 504 for the same reason.

Endpoints: ``POST /run_code`` (sandbox/fusion.py), ``POST /run_batch`` (sandbox/wire.py; a
repeated ``request_id`` is answered from the record of its first run, never run twice),
``GET /health`` (JSON; 503 while draining or when the sandbox is unavailable) and ``GET /metrics``
(Prometheus text). The stdlib HTTP server is enough: the work is in the containers, and a thread
per connection costs little next to a program run.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections import OrderedDict
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox import fusion, wire
from sandbox.api import (
    SUPPORTED_LANGUAGES,
    RunResult,
    SandboxConfig,
    SandboxUnavailable,
    TestSpec,
)
from sandbox.factory import make_sandbox
from sandbox.metrics import ServiceMetrics

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 << 20
_ENDPOINTS = frozenset({"/run_code", "/run_batch", "/health", "/metrics"})


class Overloaded(Exception):
    """The queue is full (or a run waited too long to start): the client should go elsewhere or retry."""


class Conflict(Exception):
    """A request the server will not run as asked (reused request id, fail_fast it cannot honour)."""


class SandboxService:
    """One warm sandbox, its run queue, the record of answered batches, and the counters."""

    def __init__(
        self,
        config: SandboxConfig,
        max_queue: int = 4096,
        queue_timeout_s: float = 10.0,
        replay_bytes: int = 64 << 20,
    ) -> None:
        if max_queue < 1 or queue_timeout_s <= 0 or replay_bytes < 0:
            raise ValueError("max_queue must be >= 1, queue_timeout_s > 0 and replay_bytes >= 0")
        self.config = replace(config, keep_stdout=True)
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self.metrics = ServiceMetrics()
        self.sandbox = make_sandbox(self.config)  # warms the pool before the server listens
        self._runner = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="sandbox-run")
        self._admit = threading.Lock()
        self._records: OrderedDict[str, tuple[str, Future[bytes]]] = OrderedDict()
        self._record_bytes = 0
        self._replay_bytes = replay_bytes
        self._records_lock = threading.Lock()
        self.unavailable: str | None = None
        self.draining = False

    # ------------------------------------------------------------ the queue

    def submit(
        self, items: list[tuple[str, TestSpec]], started: threading.Event | None = None, judged: bool = True
    ) -> list[Future[RunResult]]:
        """Queue every run or none: Overloaded when they would take the queue past max_queue.

        ``started`` (one run only) is set when the run leaves the queue for a worker. ``judged`` is
        False for `/run_code` runs, whose output is the client's to compare: the metrics count their
        clean exits as ``finished`` rather than as passed or wrong answers."""
        with self._admit:
            if self.draining:
                raise Overloaded("the server is shutting down")
            if self.metrics.queued + len(items) > self.max_queue:
                raise Overloaded(f"queue full ({self.metrics.queued} runs waiting, max {self.max_queue})")
            self.metrics.enqueue(len(items))
            return [self._runner.submit(self._run, p, s, started, judged) for p, s in items]

    def _run(self, program: str, spec: TestSpec, started: threading.Event | None, judged: bool) -> RunResult:
        self.metrics.start()
        if started is not None:
            started.set()
        start = time.monotonic()
        try:
            result = self.sandbox.run(program, spec)
        except SandboxUnavailable as e:
            self.unavailable = str(e)
            self.metrics.abandon(started=True)
            raise
        except BaseException:
            self.metrics.abandon(started=True)
            raise
        self.unavailable = None
        verdicts = [t.verdict.value for t in result.tests]
        if not judged:
            verdicts = ["finished" if v in ("passed", "wrong_answer") else v for v in verdicts]
        self.metrics.finish(verdicts, time.monotonic() - start)
        return result

    def _cancel(self, futures: list[Future[RunResult]]) -> None:
        for f in futures:
            if f.cancel():
                self.metrics.abandon(started=False)

    # ------------------------------------------------------------ endpoints

    def run_code(self, doc: dict[str, Any]) -> dict[str, Any]:
        """One SandboxFusion `/run_code` request (raises BadRequest, Overloaded, SandboxUnavailable)."""
        try:
            program, spec = fusion.parse_run_code(doc, self.config.time_limit_s, self.config.memory_mb)
        except fusion.Unsupported as e:
            return fusion.error_response(str(e))
        started = threading.Event()
        (future,) = self.submit([(program, spec)], started, judged=False)
        if not started.wait(self.queue_timeout_s):
            self._cancel([future])
            if future.cancelled():  # else it started just now: wait for it below
                raise Overloaded(f"the run waited {self.queue_timeout_s:g}s for a worker without starting")
        return fusion.run_code_response(spec, future.result().tests[0])

    def run_batch(self, body: bytes) -> bytes:
        """One `/run_batch` request; a request id seen before gets its first answer back."""
        request_id, fail_fast, items = wire.decode_batch(body)
        if self.config.fail_fast and not fail_fast:
            raise Conflict(
                "this server stops a run at its first failing case (--fail-fast); the request needs "
                "every case run (partial credit): send it to a server started without --fail-fast"
            )
        digest = wire.body_digest(body)
        with self._records_lock:
            record = self._records.get(request_id)
            if record is None:
                mine: Future[bytes] = Future()
                self._records[request_id] = (digest, mine)
        if record is not None:
            if record[0] != digest:
                raise Conflict(f"request id {request_id!r} was already used for different runs")
            self.metrics.replayed()
            return record[1].result()
        try:
            futures = self.submit(items)
            try:
                results = [f.result() for f in futures]
            except BaseException:
                self._cancel(futures)
                raise
            answer = wire.encode_results(request_id, results)
        except BaseException as e:
            with self._records_lock:  # nothing was answered: a retry must run again
                self._records.pop(request_id, None)
            mine.set_exception(e)
            raise
        mine.set_result(answer)
        self._remember(len(answer))
        return answer

    def _remember(self, size: int) -> None:
        with self._records_lock:
            self._record_bytes += size
            while self._record_bytes > self._replay_bytes and self._records:
                request_id, (digest, old) = self._records.popitem(last=False)
                if not old.done():  # still running: keep it (a retry must join it), stop here
                    self._records[request_id] = (digest, old)
                    break
                if old.exception() is None:
                    self._record_bytes -= len(old.result())

    def health(self) -> tuple[int, dict[str, Any]]:
        state = "draining" if self.draining else "unavailable" if self.unavailable else "ok"
        body = {
            "status": state,
            "workers": self.config.concurrency,
            "max_queue": self.max_queue,
            "languages": list(SUPPORTED_LANGUAGES),
            "fail_fast": self.config.fail_fast,
            **self.metrics.snapshot(),
        }
        if self.unavailable:
            body["error"] = self.unavailable
        return (200 if state == "ok" else 503), body

    def metrics_text(self) -> str:
        return self.metrics.render(self.config.concurrency, healthy=not (self.draining or self.unavailable))

    def close(self) -> None:
        """Refuse new runs, finish the queued ones, then stop the sandbox."""
        self.draining = True
        self._runner.shutdown(wait=True)
        self.sandbox.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: our client reuses one connection per thread
    # The stdlib writes headers and body in two sends; with Nagle on, a kept-alive connection then
    # waits out the client's delayed ACK (~40 ms) on every reply.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("%s " + format, self.address_string(), *args)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        endpoint = self.path if self.path in _ENDPOINTS else "other"  # bounded label values
        self.server.service.metrics.request(endpoint, status)

    def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(doc).encode(), "application/json", headers)

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "a Content-Length header is required"})
            return None
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body over {MAX_BODY_BYTES} bytes"})
            return None
        return self.rfile.read(length)

    def do_GET(self) -> None:
        service = self.server.service
        if self.path == "/health":
            status, doc = service.health()
            self._json(status, doc)
        elif self.path == "/metrics":
            self._send(200, service.metrics_text().encode(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: GET {self.path}"})

    def do_POST(self) -> None:
        if self.path not in ("/run_code", "/run_batch"):
            self._body()
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: POST {self.path}"})
            return
        body = self._body()
        if body is None:
            return
        service = self.server.service
        batch = self.path == "/run_batch"
        try:
            if batch:
                self._send(200, service.run_batch(body), "application/json")
            else:
                doc = json.loads(body)
                if not isinstance(doc, dict):
                    raise wire.BadRequest("body must be a JSON object")
                self._json(200, service.run_code(doc))
        except (wire.BadRequest, ValueError) as e:
            self._json(HTTPStatus.BAD_REQUEST, fusion.error_response(f"bad request: {e}"))
        except Conflict as e:
            self._json(HTTPStatus.CONFLICT, fusion.error_response(str(e)))
        except Overloaded as e:
            # 503 sends our client to another server; 504 is the status verl's client retries.
            status = HTTPStatus.SERVICE_UNAVAILABLE if batch else HTTPStatus.GATEWAY_TIMEOUT
            self._json(status, fusion.error_response(str(e)), {"Retry-After": "1"})
        except (SandboxUnavailable, CancelledError) as e:
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, fusion.error_response(f"sandbox unavailable: {e}"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: many clients connect at once at the start of a step
    service: SandboxService


def make_server(service: SandboxService, host: str, port: int) -> _Server:
    """An HTTP server for ``service`` bound to host:port (port 0: any free port)."""
    httpd = _Server((host, port), _Handler)
    httpd.service = service
    return httpd


def serve(service: SandboxService, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then drain: refuse new runs, finish queued ones, stop the pool."""
    httpd = make_server(service, host, port)

    def stop(signum: int, _frame: Any) -> None:
        log.warning("signal %d: draining", signum)
        service.draining = True
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bound_host, bound_port = httpd.server_address[:2]
    print(f"sandbox service listening on http://{bound_host}:{bound_port}", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        service.close()
