"""A timeline of reward calls, for measuring how long a training step waits for its rewards.

verl's agent loop scores each rollout in a reward-loop worker (a separate process) as soon as its
generation ends, overlapped with the generation of the others, so a step only waits for rewards in
its tail, and verl's metrics do not show it. When ``SRPO_REWARD_TIMELINE`` names a file, every call
of :func:`timed` functions appends one JSON line to it::

    {"pid": 4242, "domain": "code", "n": 1, "t_start": 1764320000.12, "t_end": 1764320000.51}

(``time.time()``; ``domain`` is ``math``, ``code``, ``mixed`` or ``none``, as the call noted it with
:func:`note`; ``"error": true`` is added when the call raised). Each line is one ``os.write`` on an
``O_APPEND`` descriptor, so lines from many processes and threads never interleave.
``benchmarks/bench_reward_wait.py`` reads the file. With the variable unset the decorator costs one
environment lookup per call and :func:`note` one context-variable lookup.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

ENV_VAR = "SRPO_REWARD_TIMELINE"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class _Call:
    domain: str = "none"
    n: int = 0


_current: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("srpo_reward_call", default=None)
_fds: dict[str, int] = {}
_fds_lock = threading.Lock()
_warned: set[str] = set()
logger = logging.getLogger(__name__)


def _fd(path: str) -> int:
    """One append-only descriptor per file and process."""
    fd = _fds.get(path)
    if fd is None:
        with _fds_lock:
            fd = _fds.get(path)
            if fd is None:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                _fds[path] = fd
    return fd


def write_record(path: str, record: dict[str, Any]) -> None:
    """Append ``record`` to ``path`` as one JSON line, in a single ``os.write``."""
    os.write(_fd(path), (json.dumps(record) + "\n").encode())


def _warn_once(path: str, err: OSError) -> None:
    if path not in _warned:
        _warned.add(path)
        logger.warning("reward timeline: cannot append to %s (%s); calls go unrecorded", path, err)


def domain_label(n_math: int, n_code: int) -> str:
    """``math``, ``code``, ``mixed`` (both) or ``none`` (an empty batch)."""
    if n_math and n_code:
        return "mixed"
    if n_math:
        return "math"
    return "code" if n_code else "none"


def note(domain: str, n: int = 1) -> None:
    """Set the domain and row count of the :func:`timed` call running here (if it is recording)."""
    call = _current.get()
    if call is not None:
        call.domain, call.n = domain, n


def _finish(path: str, call: _Call, t_start: float, failed: bool) -> None:
    record: dict[str, Any] = {
        "pid": os.getpid(),
        "domain": call.domain,
        "n": call.n,
        "t_start": t_start,
        "t_end": time.time(),
    }
    if failed:
        record["error"] = True
    try:
        write_record(path, record)
    except OSError as err:  # a measurement must never fail the reward itself
        _warn_once(path, err)


def timed(fn: F) -> F:
    """Record each call of ``fn`` (a function or a coroutine function) while ``SRPO_REWARD_TIMELINE`` is set.

    A coroutine function stays one (verl awaits those instead of running them in a thread) and its
    interval runs until it returns, awaits included.
    """
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            path = os.environ.get(ENV_VAR)
            if not path:
                return await fn(*args, **kwargs)
            call, failed, t_start = _Call(), False, time.time()
            token = _current.set(call)
            try:
                return await fn(*args, **kwargs)
            except BaseException:
                failed = True
                raise
            finally:
                _current.reset(token)
                _finish(path, call, t_start, failed)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        path = os.environ.get(ENV_VAR)
        if not path:
            return fn(*args, **kwargs)
        call, failed, t_start = _Call(), False, time.time()
        token = _current.set(call)
        try:
            return fn(*args, **kwargs)
        except BaseException:
            failed = True
            raise
        finally:
            _current.reset(token)
            _finish(path, call, t_start, failed)

    return wrapper  # type: ignore[return-value]
