"""A ``torch.<device>``-like module for CPU, answering the calls verl makes on its device module.

verl calls ``get_torch_device().<name>`` for cache, memory, RNG and stream operations. ``torch.cpu``
has streams and ``synchronize`` but none of the memory queries, so those are answered here with
the process's real memory figures (host RAM is the device memory on CPU); ``empty_cache`` trims
glibc's heap; allocator and IPC calls are no-ops. Anything not defined here is looked up on
``torch.cpu``.
"""

from __future__ import annotations

import ctypes
import resource
from collections.abc import Callable
from typing import Any

import psutil
import torch

_PROCESS = psutil.Process()


def __getattr__(name: str) -> Any:
    """Forward everything else (``Stream``, ``Event``, ``stream``, ``current_stream``...) to torch.cpu."""
    try:
        return getattr(torch.cpu, name)
    except AttributeError:
        raise AttributeError(f"module 'srpo.cpu.device' (torch.cpu) has no attribute {name!r}") from None


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    """The device verl passes to ``.to(...)``: an int would mean an accelerator index."""
    return "cpu"


def set_device(device: Any) -> None:
    """No-op: there is one CPU device, whatever index or name Ray's bookkeeping hands over."""


def synchronize(device: Any = None) -> None:
    """No-op: CPU kernels run synchronously."""


def _find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the symbols already loaded into this process
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _find_malloc_trim()


def empty_cache() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim(0)``).

    verl calls this where a GPU run releases cached blocks (after generation, updates, weight syncs);
    glibc keeps freed memory below the top of each arena mapped until asked, so without it a worker
    stays at its largest heap for the rest of the run.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def ipc_collect() -> None:
    """No-op: no CUDA IPC handles exist on CPU."""


def set_per_process_memory_fraction(fraction: float, device: Any = None) -> None:
    """No-op: host memory is not partitioned per process."""


def reset_peak_memory_stats(device: Any = None) -> None:
    """No-op: the peak comes from the kernel's ``ru_maxrss``, which cannot be reset."""


def memory_allocated(device: Any = None) -> int:
    """Resident memory of this process in bytes."""
    return _PROCESS.memory_info().rss


def memory_reserved(device: Any = None) -> int:
    """Resident memory of this process in bytes (no separate reserve on CPU)."""
    return _PROCESS.memory_info().rss


def max_memory_allocated(device: Any = None) -> int:
    """Peak resident memory of this process in bytes (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def max_memory_reserved(device: Any = None) -> int:
    return max_memory_allocated(device)


def mem_get_info(device: Any = None) -> tuple[int, int]:
    """(free, total) host memory in bytes, like ``torch.cuda.mem_get_info``."""
    vm = psutil.virtual_memory()
    return vm.available, vm.total


def get_device_name(device: Any = None) -> str:
    return "cpu"


def get_device_capability(device: Any = None) -> tuple[None, None]:
    return None, None


def get_rng_state(device: Any = None) -> torch.Tensor:
    return torch.get_rng_state()


def set_rng_state(state: torch.Tensor, device: Any = None) -> None:
    torch.set_rng_state(state)


def manual_seed(seed: int) -> None:
    torch.manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    torch.manual_seed(seed)
