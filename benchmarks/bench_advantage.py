"""Benchmark: the ``srpo`` estimator vs verl's ``grpo`` (and ``grpo_vectorized``), plus the per-step
cost of History Resampling's bookkeeping.

Run: ``python -m benchmarks.bench_advantage`` (options: ``--responses``, ``--tokens``, ``--group``,
``--repeats``, ``--pool``, ``--out``). Prints a Markdown table; every timing is the median of ``--repeats`` runs
in this one process, and the estimators are checked to give the same output first.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, get_adv_estimator_fn

from benchmarks.harness import add_out_argument, emit, median_seconds, table
from srpo.algorithm.advantage import compute_srpo_outcome_advantage
from srpo.algorithm.config import HistoryResamplingConfig
from srpo.algorithm.history import HistoryResampling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=8192)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--group", type=int, default=32, help="rollouts per prompt")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pool", type=int, default=100_000, help="prompts tracked by History Resampling")
    add_out_argument(parser)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    n_prompts = args.responses // args.group
    index = np.array([f"uid-{p}" for p in range(n_prompts) for _ in range(args.group)], dtype=object)
    rng.shuffle(index)
    lengths = torch.randint(1, args.tokens + 1, (args.responses,))
    mask = (torch.arange(args.tokens)[None, :] < lengths[:, None]).float()
    rewards = torch.zeros(args.responses, args.tokens)
    rewards[torch.arange(args.responses), lengths - 1] = (torch.rand(args.responses) > 0.5).float()

    ours, _ = compute_srpo_outcome_advantage(rewards, mask, index)
    ref, _ = compute_grpo_outcome_advantage(rewards, mask, index)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    vec = get_adv_estimator_fn("grpo_vectorized")

    t_ours = median_seconds(lambda: compute_srpo_outcome_advantage(rewards, mask, index), args.repeats)
    t_grpo = median_seconds(lambda: compute_grpo_outcome_advantage(rewards, mask, index), args.repeats)
    t_vec = median_seconds(
        lambda: vec(token_level_rewards=rewards, response_mask=mask, index=index), args.repeats
    )

    ids = [f"prompt-{i}" for i in range(args.pool)]
    hr = HistoryResampling(ids, HistoryResamplingConfig())
    step_prompts = [
        ids[i] for i in rng.choice(args.pool, n_prompts, replace=False) for _ in range(args.group)
    ]
    step_rewards = rng.integers(0, 2, args.responses).astype(float)
    t_record = median_seconds(lambda: hr.record(step_prompts, step_rewards), args.repeats)
    t_epoch = median_seconds(hr.end_epoch, args.repeats)

    shape = f"{args.responses} responses x {args.tokens} tokens, groups of {args.group}"
    estimators = (("verl grpo", t_grpo), ("verl grpo_vectorized", t_vec), ("srpo (ours)", t_ours))
    emit(
        [
            f"## Advantage estimators ({shape}; outputs equal)",
            "",
            *table(
                ("estimator", "median s", "speed-up vs verl grpo"),
                [(name, f"{t:.4f}", f"{t_grpo / t:.1f}x") for name, t in estimators],
            ),
            "",
            f"## History Resampling bookkeeping (pool of {args.pool} prompts)",
            "",
            *table(
                ("operation", "median ms", "share of one srpo advantage call"),
                [
                    (
                        f"record one step ({args.responses} rollouts)",
                        f"{t_record * 1e3:.2f}",
                        f"{t_record / t_ours:.2f}x",
                    ),
                    ("end-of-epoch filter", f"{t_epoch * 1e3:.2f}", f"{t_epoch / t_ours:.2f}x"),
                ],
            ),
        ],
        args.out,
    )


if __name__ == "__main__":
    main()
