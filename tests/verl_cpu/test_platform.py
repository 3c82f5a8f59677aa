"""The CPU platform answers verl's questions the way a CPU run needs, and stays out of GPU runs."""

from __future__ import annotations

import ctypes
import platform as platform_module
import subprocess
import sys

import psutil
import pytest
import torch

from srpo.cpu import device as cpu_device
from srpo.cpu.platform import PlatformCPU


@pytest.fixture(scope="module")
def platform() -> PlatformCPU:
    return PlatformCPU()


def test_device_backend_and_ray_resource(platform: PlatformCPU) -> None:
    assert platform.device_name == "cpu"
    assert platform.communication_backend_name() == "gloo"
    assert platform.current_device() == "cpu"  # an int would mean an accelerator index to .to()
    assert platform.ray_resource_name() == "GPU"
    assert platform.ray_resource_options(1) == {"num_gpus": 1}
    assert platform.is_ipc_supported() is False
    assert platform.is_available() is True
    assert platform.cudart() is None


def test_never_auto_detected(platform: PlatformCPU) -> None:
    assert platform.is_platform_available(use_smi_check=True) is False
    assert platform.is_platform_available() is False


def test_noop_calls_do_not_raise(platform: PlatformCPU) -> None:
    platform.empty_cache()
    platform.synchronize()
    platform.set_device(0)
    platform.set_allocator_settings("expandable_segments:True")
    platform.profiler_start()
    platform.profiler_stop()
    with platform.nvtx_range("x"):
        pass


def test_device_module_memory_queries_are_real_numbers(platform: PlatformCPU) -> None:
    dm = platform.device_module
    assert dm is cpu_device
    free, total = dm.mem_get_info()
    assert 0 < free <= total
    assert dm.memory_allocated() > 10 * 2**20  # this process holds torch: far above 10 MiB
    assert dm.max_memory_allocated() >= dm.memory_allocated() * 0.5
    assert dm.get_device_name() == "cpu"
    dm.reset_peak_memory_stats()
    dm.set_per_process_memory_fraction(0.9)
    dm.ipc_collect()


def test_empty_cache_trims_the_heap_and_is_harmless_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(cpu_device, "_MALLOC_TRIM", calls.append)
    cpu_device.empty_cache()
    assert calls == [0]  # 0: keep no padding at the top of the heap
    monkeypatch.setattr(cpu_device, "_MALLOC_TRIM", None)
    cpu_device.empty_cache()  # musl, macOS: nothing to call, no error


@pytest.mark.skipif(platform_module.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_empty_cache_returns_freed_heap_pages_to_the_os() -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(4096) for _ in range(40_000)]  # ~160 MiB of small blocks, inside the heap
    for block in blocks:
        ctypes.memset(block, 1, 4096)
    for block in blocks[:-1]:  # the last one pins the heap's top, so free() alone cannot shrink it
        libc.free(block)
    before = psutil.Process().memory_info().rss
    cpu_device.empty_cache()
    after = psutil.Process().memory_info().rss
    libc.free(blocks[-1])
    assert before - after > 100 * 2**20


def test_device_module_rng_round_trip_and_forwarding(platform: PlatformCPU) -> None:
    dm = platform.device_module
    state = dm.get_rng_state()
    first = torch.rand(3)
    dm.set_rng_state(state)
    assert torch.equal(first, torch.rand(3))
    assert dm.Stream is torch.cpu.Stream  # forwarded to torch.cpu
    with pytest.raises(AttributeError, match="no attribute 'not_a_thing'"):
        dm.not_a_thing  # noqa: B018


def test_rollout_env_defaults_respect_caller(platform: PlatformCPU, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    assert platform.rollout_env_vars()["VLLM_CPU_OMP_THREADS_BIND"] == "nobind"
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0-1")
    assert platform.rollout_env_vars()["VLLM_CPU_OMP_THREADS_BIND"] == "0-1"


def _in_fresh_process(code: str, env_platform: str | None) -> str:
    env = {k: v for k, v in __import__("os").environ.items() if k != "VERL_PLATFORM"}
    if env_platform is not None:
        env["VERL_PLATFORM"] = env_platform
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180, check=True
    )
    return out.stdout.strip().splitlines()[-1]


SELECTION_PROBE = """
import torch, verl
from verl.plugin.platform import PlatformRegistry, get_platform
from verl.workers.engine.base import EngineRegistry
from verl.workers.rollout.replica import RolloutReplicaRegistry
from verl.workers.rollout.base import _ROLLOUT_REGISTRY
lm = EngineRegistry._engines["language_model"]["fsdp2"]
print(type(get_platform()).__name__, "cpu" in PlatformRegistry.registered_names(), "cpu" in lm,
      hasattr(torch.distributed.init_process_group, "_srpo_cpu_backend_shim"),
      RolloutReplicaRegistry._registry["vllm"].__module__, _ROLLOUT_REGISTRY[("vllm", "async")])
"""


@pytest.mark.timeout(400)
def test_selected_only_by_verl_platform_env() -> None:
    """Through verl's own plug-in loading: VERL_PLATFORM=cpu selects everything, its absence nothing."""
    selected = _in_fresh_process(SELECTION_PROBE, "cpu").split()
    assert selected == [
        "PlatformCPU",
        "True",
        "True",
        "True",
        "srpo.cpu.rollout",
        "srpo.cpu.vllm_rollout.CPUServerAdapter",
    ]
    unselected = _in_fresh_process(SELECTION_PROBE, None).split()
    assert unselected[0] != "PlatformCPU"
    assert unselected[1:] == [
        "True",
        "False",
        "False",
        "verl.workers.rollout.replica",
        "verl.workers.rollout.vllm_rollout.ServerAdapter",
    ]
