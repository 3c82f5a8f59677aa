"""Batch-size and parallelism arithmetic a preset must satisfy before it is worth a cluster's time.

verl checks some of these only inside its workers, after Ray and the models have started; a preset
that breaks one wastes the start-up of a multi-node job. Each rule returns a message naming the
keys involved, so a failing test says what to change.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig


@dataclass(frozen=True)
class ModelShape:
    """Attention shape of a model: what tensor and sequence parallel sizes must divide."""

    heads: int
    kv_heads: int


# Published shapes of the base models the presets are written for.
QWEN25 = {
    "small_1gpu": ModelShape(heads=12, kv_heads=2),  # Qwen2.5-1.5B
    "7b_8gpu": ModelShape(heads=28, kv_heads=4),  # Qwen2.5-7B
    "32b_paper": ModelShape(heads=40, kv_heads=8),  # Qwen2.5-32B
}


def batch_problems(cfg: DictConfig, shape: ModelShape | None = None) -> list[str]:
    """Every broken rule, as one message each (empty when the preset's numbers work together)."""
    arr, data, trainer = cfg.actor_rollout_ref, cfg.data, cfg.trainer
    actor, rollout = arr.actor, arr.rollout
    problems: list[str] = []

    def need(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    per_node, nnodes = int(trainer.n_gpus_per_node), int(trainer.nnodes)
    gpus = per_node * nnodes
    tp, rdp, pp = (
        int(rollout.tensor_model_parallel_size),
        int(rollout.data_parallel_size),
        int(rollout.pipeline_model_parallel_size),
    )
    sp = int(actor.ulysses_sequence_parallel_size)
    n, bsz, mini = int(rollout.n), int(data.train_batch_size), int(actor.ppo_mini_batch_size)
    seq = int(data.max_prompt_length) + int(data.max_response_length)

    need(gpus >= 1, f"trainer.nnodes x n_gpus_per_node = {gpus} GPUs")
    need(
        per_node % (tp * rdp * pp) == 0,
        f"a vLLM replica (tp {tp} x dp {rdp} x pp {pp}) must fit a node and divide "
        f"trainer.n_gpus_per_node={per_node}",
    )
    need(gpus % sp == 0, f"ulysses_sequence_parallel_size={sp} must divide the {gpus} GPUs")
    need(
        int(actor.fsdp_config.ulysses_sequence_parallel_size) == sp,
        "actor.ulysses_sequence_parallel_size and actor.fsdp_config.ulysses_sequence_parallel_size differ",
    )
    need(
        sp == 1 or bool(arr.model.use_remove_padding),
        "Ulysses sequence parallelism needs actor_rollout_ref.model.use_remove_padding=true",
    )
    dp = max(gpus // sp, 1)
    need(bsz % mini == 0, f"data.train_batch_size={bsz} must be a multiple of ppo_mini_batch_size={mini}")
    need(
        (bsz * n) % dp == 0,
        f"train_batch_size x rollout.n = {bsz * n} responses must split evenly over {dp} data-parallel ranks",
    )
    need(
        (mini * n) % dp == 0,
        f"ppo_mini_batch_size x rollout.n = {mini * n} responses must split evenly over {dp} data-parallel ranks",
    )
    if actor.use_dynamic_bsz:
        need(
            int(actor.ppo_max_token_len_per_gpu) * sp >= seq,
            f"actor.ppo_max_token_len_per_gpu x sp = {int(actor.ppo_max_token_len_per_gpu) * sp} "
            f"cannot hold one prompt + response of {seq} tokens",
        )
        need(
            int(rollout.log_prob_max_token_len_per_gpu) * sp >= seq,
            f"rollout.log_prob_max_token_len_per_gpu x sp cannot hold one sequence of {seq} tokens",
        )
    else:
        micro = actor.ppo_micro_batch_size_per_gpu
        need(micro is not None, "without use_dynamic_bsz, actor.ppo_micro_batch_size_per_gpu must be set")
        if micro is not None:
            need(
                (mini * n // dp) % int(micro) == 0,
                f"per-rank mini-batch {mini * n // dp} must be a multiple of ppo_micro_batch_size_per_gpu={micro}",
            )
    need(
        0.0 < float(rollout.gpu_memory_utilization) < 1.0,
        f"rollout.gpu_memory_utilization={rollout.gpu_memory_utilization} must be in (0, 1)",
    )
    need(
        int(rollout.max_num_batched_tokens) >= int(data.max_prompt_length),
        "rollout.max_num_batched_tokens must hold at least one prompt's prefill",
    )
    need(
        int(cfg.reward.num_workers) >= nnodes,
        f"reward.num_workers={cfg.reward.num_workers} < {nnodes} nodes: some nodes' sandboxes would sit idle",
    )
    if shape is not None:
        need(shape.heads % tp == 0, f"rollout tp={tp} must divide the model's {shape.heads} attention heads")
        need(
            shape.kv_heads % tp == 0 or tp % shape.kv_heads == 0,
            f"rollout tp={tp} and the model's {shape.kv_heads} KV heads must divide one another",
        )
        need(shape.heads % sp == 0, f"ulysses sp={sp} must divide the model's {shape.heads} attention heads")
    return problems
