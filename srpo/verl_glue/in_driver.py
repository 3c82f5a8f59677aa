"""verl's task runner in the driver process, instead of in a Ray actor of its own.

verl's ``run_ppo(config, task_runner_class)`` starts Ray, then runs ``task_runner_class.remote()``'s
``run(config)`` in a Ray actor and waits for it. That actor is the trainer loop; the driver does
nothing but wait while it runs, yet both import torch, Ray and verl: on the embedded default the
two held 0.5-0.7 GB each (benchmarks/results/runtime.md). ``InDriver(TaskRunnerV1)`` stands in for
the actor class: ``run_ppo`` still starts Ray exactly as it always does, and ``.remote()`` /
``.run.remote(config)`` construct the same class here and call its ``run`` synchronously. Every
other verl worker (FSDP, vLLM, agent loop, reward, TransferQueue) stays a Ray actor as before.

The job's Ray environment variables (``ray_kwargs.ray_init.runtime_env.env_vars`` and verl's own)
are what the actor would have seen; they are copied into this process before the runner starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import ray


class _LocalMethod:
    """``handle.method.remote(...)`` that calls the method now and returns a ready object ref."""

    def __init__(self, method: Callable[..., Any]) -> None:
        self._method = method

    def remote(self, *args: Any, **kwargs: Any) -> ray.ObjectRef:
        return ray.put(self._method(*args, **kwargs))


class _LocalHandle:
    """An actor handle whose method calls run in this process."""

    def __init__(self, instance: object) -> None:
        self._instance = instance

    def __getattr__(self, name: str) -> _LocalMethod:
        return _LocalMethod(getattr(self._instance, name))


class InDriver:
    """A ``@ray.remote`` class used through the actor API, with its instance in this process."""

    def __init__(self, actor_class: Any) -> None:
        metadata = getattr(actor_class, "__ray_metadata__", None)
        if metadata is None:
            raise TypeError(f"InDriver needs a @ray.remote class, got {actor_class!r}")
        self.cls: type = metadata.modified_class  # the decorated class itself (Ray's actor metadata)

    def options(self, **_: Any) -> InDriver:
        """Actor options (resources, runtime env) have no meaning in the driver: ignored."""
        return self

    def remote(self, *args: Any, **kwargs: Any) -> _LocalHandle:
        apply_job_env()
        return _LocalHandle(self.cls(*args, **kwargs))


def apply_job_env() -> None:
    """Give this process the environment variables Ray gives the job's workers (its runtime env)."""
    env_vars = (ray.get_runtime_context().runtime_env or {}).get("env_vars") or {}
    os.environ.update({str(k): str(v) for k, v in env_vars.items()})
