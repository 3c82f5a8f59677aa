"""Registers the CPU vLLM replica as verl's ``vllm`` rollout (``RolloutReplicaRegistry``).

Only called on the CPU platform: there ``rollout.name=vllm`` then launches ``CPUvLLMReplica``, verl's
own replica plus the layerwise weight reload vLLM's CPU build needs (see ``srpo.cpu.vllm_rollout``).
The name stays ``vllm`` because verl keys vLLM-specific behaviour (engine kwargs, rollout adapter,
request priorities) on it. vLLM itself is imported only when a replica is built.
"""

from __future__ import annotations

from verl.workers.rollout.replica import RolloutReplica, RolloutReplicaRegistry

ROLLOUT_NAME = "vllm"


def _load_cpu_vllm() -> type[RolloutReplica]:
    from srpo.cpu.vllm_rollout import CPUvLLMReplica

    return CPUvLLMReplica


def register_cpu_rollout() -> None:
    """Point verl's ``vllm`` rollout at the CPU replica (idempotent)."""
    RolloutReplicaRegistry.register(ROLLOUT_NAME, _load_cpu_vllm)
