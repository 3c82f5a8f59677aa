"""SRPO's advantage estimator: GRPO's group-normalised outcome advantage, vectorised.

SRPO keeps GRPO's advantage, ``(r - mean_group) / (std_group + eps)`` broadcast over the response
tokens; what it changes is *which prompts* reach the batch (History Resampling, two stages). This
module needs only torch; ``srpo.verl_glue.estimator`` registers the estimator with verl, so
``algorithm.adv_estimator=srpo`` works in any verl run that imports ``srpo`` (our ``verl.plugins``
entry point does that in every process).

verl's own ``grpo`` groups samples with Python dicts and loops; here grouping is one ``np.unique`` and
a few ``index_add_`` calls, so the cost does not grow with the number of groups in Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

ESTIMATOR_NAME = "srpo"


def group_ids(index: np.ndarray | list | torch.Tensor) -> tuple[torch.Tensor, int]:
    """Map arbitrary group keys (uids, ints) to dense ids ``0..n_groups-1``."""
    keys = np.asarray(index.cpu() if isinstance(index, torch.Tensor) else index, dtype=object)
    _, dense = np.unique(keys.astype(str), return_inverse=True)
    dense = dense.reshape(-1)
    return torch.as_tensor(dense, dtype=torch.long), int(dense.max()) + 1 if dense.size else 0


def group_normalised_scores(
    scores: torch.Tensor,
    index: np.ndarray | list | torch.Tensor,
    epsilon: float = 1e-6,
    norm_by_std: bool = True,
) -> torch.Tensor:
    """Per-sample ``(score - group mean) / (group std + eps)``; shape ``(bs,)``.

    Matches verl's ``grpo`` conventions exactly: a group of one sample has mean 0 and std 1, and the
    std is the unbiased (n - 1) estimate.
    """
    ids, n_groups = group_ids(index)
    ids = ids.to(scores.device)
    scores = scores.to(torch.float32) if not scores.is_floating_point() else scores
    counts = torch.zeros(n_groups, dtype=scores.dtype, device=scores.device).index_add_(
        0, ids, torch.ones_like(scores)
    )
    sums = torch.zeros(n_groups, dtype=scores.dtype, device=scores.device).index_add_(0, ids, scores)
    means = sums / counts
    centred = scores - means[ids]
    sq = torch.zeros(n_groups, dtype=scores.dtype, device=scores.device).index_add_(0, ids, centred * centred)
    singleton = counts <= 1
    stds = torch.sqrt(sq / torch.where(singleton, torch.ones_like(counts), counts - 1))
    means = torch.where(singleton, torch.zeros_like(means), means)
    stds = torch.where(singleton, torch.ones_like(stds), stds)
    centred = scores - means[ids]
    return centred / (stds[ids] + epsilon) if norm_by_std else centred


def compute_srpo_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    epsilon: float = 1e-6,
    norm_adv_by_std_in_grpo: bool | None = None,
    config: Any | None = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SRPO/GRPO outcome advantage for verl.

    Args:
        token_level_rewards: ``(bs, response_length)``; the outcome reward is the row sum.
        response_mask: ``(bs, response_length)``, 1 on response tokens.
        index: ``(bs,)`` group key per sample (verl passes ``uid``: one per prompt).
        epsilon: added to the group std.
        norm_adv_by_std_in_grpo: divide by the group std (GRPO) or not (Dr. GRPO); when ``None``
            it is read from ``config.norm_adv_by_std_in_grpo`` (verl's ``algorithm`` config).
        config: verl's ``AlgoConfig`` (optional).

    Returns:
        ``(advantages, returns)``, both ``(bs, response_length)`` and equal, as in verl's GRPO.
    """
    if norm_adv_by_std_in_grpo is None:
        norm_adv_by_std_in_grpo = bool(getattr(config, "norm_adv_by_std_in_grpo", True)) if config else True
    with torch.no_grad():
        scores = token_level_rewards.sum(dim=-1)
        adv = group_normalised_scores(scores, index, epsilon=epsilon, norm_by_std=norm_adv_by_std_in_grpo)
        adv = adv.unsqueeze(-1) * response_mask
    return adv, adv
