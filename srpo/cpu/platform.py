"""The ``cpu`` platform for verl's ``PlatformRegistry``, selected with ``VERL_PLATFORM=cpu``.

verl 0.9.1 ships CUDA, NPU and ROCm platforms only; on a machine without an accelerator it falls
back to "nvidia" and fails later. This platform lets verl's unchanged trainer run on host CPUs:
device ``cpu``, collective backend ``gloo``, the CPU device module from ``srpo.cpu.device``, no-op
profiling, no CUDA IPC. Ray has no notion of CPU "devices", so the platform reports the Ray resource
``GPU`` and the launcher starts Ray with that many *logical* GPUs (one per FSDP rank); verl's resource
checks and placement groups then work unchanged.

It never answers ``is_platform_available`` with True, so verl's auto-detection cannot pick it on a
GPU machine: only ``VERL_PLATFORM=cpu`` selects it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry

from srpo.cpu import PLATFORM_NAME
from srpo.cpu import device as cpu_device

# Environment for verl's rollout server actors (vLLM's CPU build), each overridable from the
# caller's environment. Values chosen on a 2-core machine; see benchmarks/results/verl_cpu.md.
ROLLOUT_ENV_DEFAULTS: dict[str, str] = {
    # vLLM picks its CPU platform from this (its "+cpu" version also does); never the CUDA kernels.
    "VLLM_TARGET_DEVICE": "cpu",
    # vLLM binds its OpenMP threads to cores by default; on a shared 2-core machine that pins the
    # engine onto the cores the FSDP worker also uses. Leave scheduling to the kernel.
    "VLLM_CPU_OMP_THREADS_BIND": "nobind",
}


@PlatformRegistry.register(platform=PLATFORM_NAME)
class PlatformCPU(PlatformBase):
    """verl platform backed by host CPUs (gloo collectives, logical Ray "GPU" slots)."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> ModuleType:
        return cpu_device

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        """Never auto-detected: a CPU is always present, so only ``VERL_PLATFORM=cpu`` may choose it."""
        return False

    def current_device(self) -> str:  # type: ignore[override]  # verl passes this to .to(...)
        return cpu_device.current_device()

    def device_count(self) -> int:
        return cpu_device.device_count()

    def set_device(self, device_index: int) -> None:
        cpu_device.set_device(device_index)

    def synchronize(self, device_index: int | None = None) -> None:
        cpu_device.synchronize(device_index)

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        """No-op: CUDA caching-allocator settings (e.g. expandable segments) mean nothing on CPU."""

    def empty_cache(self) -> None:
        cpu_device.empty_cache()

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        # Ray sets CUDA_VISIBLE_DEVICES for actors holding logical "GPU" resources; verl's worker
        # bookkeeping reads the same variable. Its value is never used to pick hardware here.
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str) -> Iterator[None]:
        yield

    def profiler_start(self) -> None:
        """No-op: no device profiler on CPU."""

    def profiler_stop(self) -> None:
        """No-op: no device profiler on CPU."""

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_resource_options(self, num_gpus: float) -> dict[str, Any]:
        return {"num_gpus": num_gpus}

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def rollout_env_vars(self) -> dict[str, str]:
        return {key: os.environ.get(key, value) for key, value in ROLLOUT_ENV_DEFAULTS.items()}

    def cudart(self) -> None:
        return None
