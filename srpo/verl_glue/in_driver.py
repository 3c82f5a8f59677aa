"""verl's task runner in the driver process, instead of in a Ray actor of its own.

verl's ``run_ppo(config, task_runner_class)`` starts Ray, then runs ``task_runner_class.remote()``'s
``run(config)`` in a Ray actor and waits for it. That actor is the trainer loop; the driver does
nothing but wait while it runs, yet both import torch, Ray and verl: on the embedded default the
two held 0.5-0.7 GB each (benchmarks/results/runtime.md). ``InDriver(TaskRunnerV1)`` stands in for
the actor class: ``run_ppo`` still starts Ray exactly as it always does, and ``.remote()`` /
``.run.remote(config)`` construct the same class here and call its ``run`` synchronously. Every
other verl worker (FSDP, vLLM, load balancer) stays a Ray actor as before (TransferQueue's controller: see
``srpo.verl_glue.tq_controller``).

``InDriver(cls, event_loop=True)`` does the same for an async actor (verl's agent loop worker, see
``srpo.verl_glue.agent_loop``): the instance lives on an event loop of its own, in a daemon thread, as
Ray would run it on the actor's loop; each call runs there and is awaited before ``.remote`` returns,
and the constructor's arguments are copied (pickled and loaded) as Ray would ship them.

The job's Ray environment variables (``ray_kwargs.ray_init.runtime_env.env_vars`` and verl's own)
are what the actor would have seen; they are copied into this process before the runner starts.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
from collections.abc import Callable
from typing import Any

import ray
from ray import cloudpickle


async def _call(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)``, awaited when it is a coroutine (an async actor method)."""
    result = fn(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


def _run_on(loop: asyncio.AbstractEventLoop | None, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Call ``fn`` here (no loop) or on ``loop``'s thread, and wait for its result."""
    if loop is None:
        return fn(*args, **kwargs)
    return asyncio.run_coroutine_threadsafe(_call(fn, args, kwargs), loop).result()


class _LocalMethod:
    """``handle.method.remote(...)`` that calls the method now and returns a ready object ref."""

    def __init__(self, method: Callable[..., Any], loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._method = method
        self._loop = loop

    def remote(self, *args: Any, **kwargs: Any) -> ray.ObjectRef:
        return ray.put(_run_on(self._loop, self._method, args, kwargs))


class _LocalHandle:
    """An actor handle whose method calls run in this process (on ``loop`` for an async actor)."""

    def __init__(self, instance: object, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._instance = instance
        self._loop = loop

    def __getattr__(self, name: str) -> _LocalMethod:
        return _LocalMethod(getattr(self._instance, name), self._loop)


def _start_event_loop(name: str) -> asyncio.AbstractEventLoop:
    """A new event loop running forever in a daemon thread (an async actor's loop)."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name=name, daemon=True).start()
    return loop


class InDriver:
    """A ``@ray.remote`` class used through the actor API, with its instance in this process."""

    def __init__(self, actor_class: Any, *, event_loop: bool = False) -> None:
        metadata = getattr(actor_class, "__ray_metadata__", None)
        if metadata is None:
            raise TypeError(f"InDriver needs a @ray.remote class, got {actor_class!r}")
        self.cls: type = metadata.modified_class  # the decorated class itself (Ray's actor metadata)
        self.event_loop = event_loop

    def options(self, **_: Any) -> InDriver:
        """Actor options (resources, runtime env) have no meaning in the driver: ignored."""
        return self

    def remote(self, *args: Any, **kwargs: Any) -> _LocalHandle:
        apply_job_env()
        if not self.event_loop:
            return _LocalHandle(self.cls(*args, **kwargs))
        args, kwargs = cloudpickle.loads(cloudpickle.dumps((args, kwargs)))  # what Ray would hand the actor
        loop = _start_event_loop(f"{self.cls.__name__}-loop")
        return _LocalHandle(_run_on(loop, self.cls, args, kwargs), loop)


def apply_job_env() -> None:
    """Give this process the environment variables Ray gives the job's workers (its runtime env)."""
    env_vars = (ray.get_runtime_context().runtime_env or {}).get("env_vars") or {}
    os.environ.update({str(k): str(v) for k, v in env_vars.items()})
