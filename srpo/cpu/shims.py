"""Compensations for verl lines that no plug-in point reaches, active only on the CPU platform.

Each entry of ``SHIMS`` names the verl file and the exact source lines it compensates for. The test
``tests/verl_cpu/test_shims.py`` fails as soon as such a line changes in the installed verl, which is
the signal to re-check the shim and drop it if verl no longer needs it.

Currently one shim:

``gloo_backend_string``
    ``verl/utils/distributed.py`` builds the process-group backend as
    ``f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"``. On the CPU platform that is
    ``"cpu:gloo,cpu:gloo"``, which torch rejects ("Duplicate device type cpu"). The shim wraps
    ``torch.distributed.init_process_group`` (a torch function, not a verl one) and rewrites a
    backend string whose device:backend pairs are exact repeats to the unique pairs
    (``"cpu:gloo"``). Any other backend string passes through untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch.distributed


@dataclass(frozen=True)
class Shim:
    """One compensation: what it is, which verl source line makes it necessary, how to install it."""

    name: str
    verl_module: str  # dotted module whose source holds the line
    verl_lines: tuple[str, ...]  # the exact (stripped) source lines compensated for
    install: Callable[[], bool]


def dedupe_backend_string(backend: Any) -> Any:
    """Collapse exact repeats in a ``"device:backend,..."`` string; return anything else unchanged.

    ``"cpu:gloo,cpu:gloo"`` -> ``"cpu:gloo"``; ``"cpu:gloo,cuda:nccl"`` and ``"gloo"`` are unchanged.
    """
    if not isinstance(backend, str) or "," not in backend:
        return backend
    pairs = [pair.strip() for pair in backend.split(",")]
    unique = list(dict.fromkeys(pairs))
    if len(unique) == len(pairs):
        return backend
    devices = [pair.split(":", 1)[0] for pair in unique]
    if len(set(devices)) != len(devices):  # conflicting backends for one device: not ours to fix
        return backend
    return ",".join(unique)


_MARK = "_srpo_cpu_backend_shim"


def install_gloo_backend_string() -> bool:
    """Wrap ``torch.distributed.init_process_group`` once; return whether this call installed it."""
    current = torch.distributed.init_process_group
    if getattr(current, _MARK, False):
        return False

    @functools.wraps(current)
    def init_process_group(*args: Any, **kwargs: Any) -> Any:
        if "backend" in kwargs:
            kwargs["backend"] = dedupe_backend_string(kwargs["backend"])
        elif args:
            args = (dedupe_backend_string(args[0]), *args[1:])
        return current(*args, **kwargs)

    setattr(init_process_group, _MARK, True)
    torch.distributed.init_process_group = init_process_group
    return True


SHIMS: tuple[Shim, ...] = (
    Shim(
        name="gloo_backend_string",
        verl_module="verl.utils.distributed",
        verl_lines=(
            # initialize_global_process_group (torchrun launches, e.g. the SFT trainer)
            'backend = f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"',
            # initialize_global_process_group_ray (every Ray engine worker of the PPO trainer)
            'backend = backend or f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"',
        ),
        install=install_gloo_backend_string,
    ),
)


def install() -> list[str]:
    """Install every shim (idempotent); return the names installed by this call.

    Called from ``srpo.cpu.activate`` only when ``VERL_PLATFORM=cpu``.
    """
    return [shim.name for shim in SHIMS if shim.install()]
