"""Hydra overrides and environment that make ``python -m verl.trainer.main_ppo`` run on CPU.

Two layers, so other launchers (``python -m srpo.main``) can take only what they need:

- ``cpu_overrides(CPUSettings)``: what *any* run of verl's trainer on the CPU platform needs
  (device, logical Ray GPUs, FSDP2, eager sdpa attention, vLLM's CPU engine without sleep mode) plus
  the memory settings that keep a run on a small shared machine (KV cache, Ray object store, number of
  agent-loop and reward workers, dataloader workers), and fp32 FSDP compute on CPUs without native bf16.
- ``cpu_env()``: the environment variables (``VERL_PLATFORM=cpu`` selects ``srpo.cpu.platform``).

Every value was measured on a 2-core, 24 GiB machine; see ``benchmarks/results/verl_cpu.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MiB = 1024**2
# vLLM's executor that runs the model inside the engine-core process instead of a worker process of
# its own (one process, ~0.5 GB, less). Named by class: vLLM's CPU platform turns "uni" into "mp".
UNIPROC_EXECUTOR = "vllm.v1.executor.uniproc_executor.UniProcExecutor"


COMPUTE_DTYPES = ("auto", "fp32", "bf16")
# /proc/cpuinfo flags of CPUs whose bf16 matrix products are native (AVX512-BF16, Intel AMX)
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU multiplies bf16 natively (else torch emulates it, far slower than fp32)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return not BF16_CPU_FLAGS.isdisjoint(line.partition(":")[2].split())
    return False


def resolve_compute_dtype(requested: str, cpuinfo: str | None = None) -> str:
    """``auto`` -> bf16 where the CPU has native bf16, else fp32; explicit choices are kept."""
    if requested != "auto":
        return requested
    return "bf16" if cpu_has_bf16(cpuinfo) else "fp32"


@dataclass(frozen=True)
class CPUSettings:
    """Resource knobs of a CPU run; the defaults are the measured configuration."""

    n_procs: int = 1  # FSDP ranks = logical Ray "GPU" slots (trainer.n_gpus_per_node)
    ray_num_cpus: int = 16  # logical Ray CPU slots: verl starts many 1-CPU actors; 2 would deadlock
    object_store_bytes: int = 256 * MiB  # Ray's shared-memory object store (default: 30% of RAM)
    kv_cache_bytes: int = 64 * MiB  # vLLM CPU KV cache (default: gpu_memory_utilization x RAM)
    gpu_memory_utilization: float = 0.1  # vLLM checks free RAM against this fraction at start-up
    agent_num_workers: int = 1  # verl default 8 agent-loop worker actors, each importing torch+verl
    reward_num_workers: int = 1  # verl default 8 reward-loop worker actors
    max_num_seqs: int = 64  # vLLM concurrent sequences
    tq_storage_units: int = 1  # verl default 8 TransferQueue storage actors (~0.45 GB RSS each)
    # FSDP compute dtype: verl autocasts to bf16, which a CPU without bf16 instructions runs through a
    # reference gemm ~13x slower than fp32; "auto" keeps bf16 only where the CPU has them
    compute_dtype: str = "auto"

    def __post_init__(self) -> None:
        for name in (
            "n_procs",
            "ray_num_cpus",
            "agent_num_workers",
            "reward_num_workers",
            "max_num_seqs",
            "tq_storage_units",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"CPUSettings.{name} must be >= 1, got {getattr(self, name)}")
        if self.object_store_bytes < 80 * MiB:  # Ray refuses smaller stores
            raise ValueError(
                f"CPUSettings.object_store_bytes must be >= 80 MiB, got {self.object_store_bytes}"
            )
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise ValueError(
                f"CPUSettings.compute_dtype must be one of {COMPUTE_DTYPES}, got {self.compute_dtype!r}"
            )
        if not 0.0 < self.gpu_memory_utilization <= 1.0:
            raise ValueError(
                f"CPUSettings.gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}"
            )


def cpu_overrides(settings: CPUSettings | None = None) -> list[str]:
    """Hydra overrides (``key=value``; ``+key`` adds a key verl's schema lacks) for a CPU run."""
    s = settings or CPUSettings()
    rollout = "actor_rollout_ref.rollout"
    return [*_base_overrides(s, rollout), *_precision_overrides(s)]


def _precision_overrides(s: CPUSettings) -> list[str]:
    """fp32 FSDP compute (params, gradients reduction, buffers) where bf16 would be emulated.

    verl's FSDP engine reads ``fsdp_config.mixed_precision`` (absent from its YAML, hence ``++``);
    with bf16 the engine's own default (bf16 params, fp32 reduce) is left as is.
    """
    if resolve_compute_dtype(s.compute_dtype) == "bf16":
        return []
    fp32 = "{param_dtype:fp32,reduce_dtype:fp32,buffer_dtype:fp32}"
    return [f"++actor_rollout_ref.{role}.fsdp_config.mixed_precision={fp32}" for role in ("actor", "ref")]


def _base_overrides(s: CPUSettings, rollout: str) -> list[str]:
    return [
        # --- device and Ray: logical "GPU" slots stand for FSDP ranks (see srpo.cpu.platform)
        "trainer.device=cpu",
        "trainer.nnodes=1",
        f"trainer.n_gpus_per_node={s.n_procs}",
        f"+ray_kwargs.ray_init.num_gpus={s.n_procs}",
        f"ray_kwargs.ray_init.num_cpus={s.ray_num_cpus}",
        f"+ray_kwargs.ray_init.object_store_memory={s.object_store_bytes}",
        # --- training engine: FSDP2 (FSDP1 needs a device handle), no torch.compile, no flash-attn
        "actor_rollout_ref.actor.strategy=fsdp2",
        "actor_rollout_ref.ref.strategy=fsdp2",
        "critic.strategy=fsdp2",
        "actor_rollout_ref.actor.fsdp_config.use_torch_compile=false",
        "actor_rollout_ref.ref.fsdp_config.use_torch_compile=false",
        "actor_rollout_ref.model.use_remove_padding=false",
        "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
        # --- rollout: vLLM's CPU build, eager, no sleep mode (unsupported on CPU), small KV cache
        f"{rollout}.name=vllm",
        f"{rollout}.mode=async",
        f"{rollout}.tensor_model_parallel_size=1",
        f"{rollout}.enforce_eager=true",
        f"{rollout}.free_cache_engine=false",
        f"+{rollout}.enable_sleep_mode=false",
        f"{rollout}.gpu_memory_utilization={s.gpu_memory_utilization}",
        f"+{rollout}.engine_kwargs.vllm.kv_cache_memory_bytes={s.kv_cache_bytes}",
        f"+{rollout}.engine_kwargs.vllm.distributed_executor_backend={UNIPROC_EXECUTOR}",
        f"{rollout}.max_num_seqs={s.max_num_seqs}",
        # --- fewer helper processes: each Ray actor imports torch and verl (~300-500 MB)
        f"{rollout}.agent.num_workers={s.agent_num_workers}",
        f"reward.num_workers={s.reward_num_workers}",
        f"transfer_queue.backend.SimpleStorage.num_data_storage_units={s.tq_storage_units}",
        "data.dataloader_num_workers=0",
    ]


def cpu_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for the trainer process; Ray workers inherit it from the driver.

    ``base`` defaults to ``os.environ``; values already set there win over ours, except
    ``VERL_PLATFORM``, which a CPU run must have.
    """
    env = dict(os.environ if base is None else base)
    defaults = {
        "VLLM_TARGET_DEVICE": "cpu",
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",
        "TOKENIZERS_PARALLELISM": "false",
        "RAY_DEDUP_LOGS": "0",
        # Ray prestarts one idle Python worker per logical CPU (16 here), each importing Ray on 2 cores
        # during start-up; verl's actors start their own workers anyway.
        "RAY_enable_worker_prestart": "0",
        "RAY_prestart_worker_first_driver": "0",
        # Ray keeps up to one idle worker per logical CPU alive; a worker that ran one task (verl's
        # get_master_addr_port) keeps its imports of torch and verl for the whole run. Idle workers
        # above this limit are ended after a second.
        "RAY_num_workers_soft_limit": "0",
        # glibc malloc in every process the run starts (this one reads it too late): at most two
        # arenas instead of one per thread (Ray, gRPC and OpenMP start dozens). Not a fixed
        # MALLOC_MMAP_THRESHOLD_: it gave every tensor of 1 MiB or more fresh zeroed pages and made
        # a torch training step 1.7x slower (30 s instead of a few per actor update here).
        "MALLOC_ARENA_MAX": "2",
        # oneDNN (torch's and vLLM's CPU matmuls) keeps up to 1024 compiled primitives, one per input
        # shape; the rollout's batch shapes change every step, so vLLM's engine core grew ~22 MB a
        # step without end, and stays flat with 8 (benchmarks/results/engine_growth.md).
        "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "8",
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    env["VERL_PLATFORM"] = "cpu"
    return env
