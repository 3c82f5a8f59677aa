"""Counters of the sandbox service, exposed in Prometheus' text format (version 0.0.4).

Written by hand rather than with prometheus_client: the service needs a few counters and gauges,
and the default install should not grow a dependency for them. Counters only ever increase, so
Prometheus' ``rate()`` works across scrapes; ``runs_per_second`` is a convenience gauge over the
last ``window_s`` seconds for people reading the endpoint directly.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque

PREFIX = "srpo_sandbox"


class ServiceMetrics:
    """Thread-safe counts of requests, runs and test verdicts, plus the queue's state."""

    def __init__(self, window_s: float = 60.0) -> None:
        self._lock = threading.Lock()
        self._window_s = window_s
        self._started = time.monotonic()
        self.queued = 0  # runs accepted and waiting for a worker
        self.running = 0  # runs on a worker now
        self._runs = 0
        self._run_seconds = 0.0
        self._replayed = 0
        self._verdicts: Counter[str] = Counter()
        self._requests: Counter[tuple[str, int]] = Counter()
        self._recent: deque[float] = deque()  # finish times of runs within the window

    def enqueue(self, n: int) -> None:
        with self._lock:
            self.queued += n

    def start(self) -> None:
        with self._lock:
            self.queued -= 1
            self.running += 1

    def finish(self, verdicts: list[str], seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            self.running -= 1
            self._runs += 1
            self._run_seconds += seconds
            self._verdicts.update(verdicts)
            self._recent.append(now)
            self._trim(now)

    def abandon(self, started: bool) -> None:
        """A run that ended without results (the sandbox became unavailable)."""
        with self._lock:
            if started:
                self.running -= 1
            else:
                self.queued -= 1

    def request(self, endpoint: str, status: int) -> None:
        with self._lock:
            self._requests[(endpoint, status)] += 1

    def replayed(self) -> None:
        """A retried request answered from the record of its first run (nothing ran again)."""
        with self._lock:
            self._replayed += 1

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0] < now - self._window_s:
            self._recent.popleft()

    def runs_per_second(self) -> float:
        now = time.monotonic()
        with self._lock:
            self._trim(now)
            span = min(self._window_s, now - self._started)
            return len(self._recent) / span if span > 0 else 0.0

    def snapshot(self) -> dict[str, object]:
        """The numbers /health reports."""
        with self._lock:
            return {
                "queue_depth": self.queued,
                "running": self.running,
                "runs_total": self._runs,
                "replayed_requests_total": self._replayed,
                "verdicts": dict(self._verdicts),
            }

    def render(self, workers: int, healthy: bool) -> str:
        """The Prometheus exposition text."""
        rate = self.runs_per_second()
        with self._lock:
            table: list[tuple[str, str, str, list[tuple[str, float]]]] = [
                ("queue_depth", "gauge", "Runs accepted and waiting for a worker.", [("", self.queued)]),
                ("running", "gauge", "Runs on a worker now.", [("", self.running)]),
                ("workers", "gauge", "Runs the server executes at once.", [("", workers)]),
                ("up", "gauge", "1 when the server can run programs.", [("", int(healthy))]),
                ("runs_total", "counter", "Programs run to completion.", [("", self._runs)]),
                (
                    "run_seconds_total",
                    "counter",
                    "Wall seconds of completed runs.",
                    [("", self._run_seconds)],
                ),
                ("runs_per_second", "gauge", f"Runs per second, last {self._window_s:g} s.", [("", rate)]),
                (
                    "tests_total",
                    "counter",
                    "Test cases by verdict.",
                    [(f'verdict="{v}"', n) for v, n in sorted(self._verdicts.items())],
                ),
                (
                    "requests_total",
                    "counter",
                    "HTTP requests by endpoint and status code.",
                    [(f'endpoint="{e}",code="{c}"', n) for (e, c), n in sorted(self._requests.items())],
                ),
                (
                    "replayed_requests_total",
                    "counter",
                    "Retried /run_batch requests answered without running again.",
                    [("", self._replayed)],
                ),
                ("uptime_seconds", "gauge", "Seconds since start.", [("", time.monotonic() - self._started)]),
            ]
        lines = [line for row in table for line in _metric(*row)]
        return "\n".join(lines) + "\n"


def _metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    full = f"{PREFIX}_{name}"
    out = [f"# HELP {full} {help_text}", f"# TYPE {full} {kind}"]
    for labels, value in samples:
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        out.append(f"{full}{{{labels}}} {text}" if labels else f"{full} {text}")
    return out
