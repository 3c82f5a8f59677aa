"""Pre-rollout skipping of prompts predicted to teach nothing (GRESO-style; beyond the SRPO paper).

GRESO (Li et al. 2025, "Act Only When It Pays") observes that a prompt whose rollout group had zero
reward variance (all correct or all wrong, hence zero GRPO advantage) tends to have zero variance
again. Rolling it out costs generation and yields no gradient, so before rollout it is skipped with
probability ``1 - p**k``: ``k`` is the number of consecutive zero-variance groups the prompt has had,
``p`` an exploration probability that keeps a chance of re-trying it. ``p`` is kept separately for
"easy" (last zero-variance group all correct) and "hard" (all wrong) prompts and adapted after every
batch so that the batch's share of such groups stays near a target.

History Resampling (``srpo.algorithm.history``) acts once per epoch and only on all-correct prompts; this acts
on every draw. The decisions use a ``numpy.random.Generator`` passed in (the sampler's), so the
sampler's single RNG stays the only source of randomness and a resumed run decides exactly as the
uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from srpo.algorithm.config import SkippingConfig


class PreRolloutSkipper:
    """Per-row zero-variance streaks and the two adaptive exploration probabilities.

    Args:
        n_rows: number of dataset rows (rows are the sampler's indices).
        config: the ``srpo.algorithm.skipping`` settings.
    """

    def __init__(self, n_rows: int, config: SkippingConfig) -> None:
        self.config = config
        self.streak = np.zeros(n_rows, dtype=np.int64)  # consecutive zero-variance groups
        self.last_easy = np.zeros(n_rows, dtype=bool)  # last zero-variance group was all correct
        self.explore_easy = float(config.explore_prob)
        self.explore_hard = float(config.explore_prob)
        self.skipped_step = 0
        self.skipped_total = 0

    # ------------------------------------------------------------------ deciding
    def skip_probability(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """``1 - p**k`` per row (0 for a row whose last group was informative or never seen)."""
        rows = np.asarray(rows, dtype=np.int64)
        p = np.where(self.last_easy[rows], self.explore_easy, self.explore_hard)
        k = self.streak[rows]
        return np.where(k > 0, 1.0 - p**k, 0.0)

    def keeps(self, row: int, rng: np.random.Generator) -> bool:
        """Whether to roll ``row`` out now.

        A uniform is drawn only for rows with a non-zero skip probability, so rows with no
        zero-variance history cost no randomness: until the first such group, a sampler with
        skipping enabled draws exactly what it would draw with skipping disabled.
        """
        k = int(self.streak[row])
        if k == 0:
            return True
        p = self.explore_easy if self.last_easy[row] else self.explore_hard
        prob = 1.0 - p**k
        if prob <= 0.0:
            return True
        return bool(rng.random() >= prob)

    def count_skipped(self, n: int) -> None:
        """Book ``n`` rows the sampler finally left out of a batch."""
        self.skipped_step += n
        self.skipped_total += n

    def begin_step(self) -> None:
        """A new training step starts: ``srpo/skip/skipped_step`` counts from zero again."""
        self.skipped_step = 0

    # ------------------------------------------------------------------ learning from outcomes
    def record(self, rows: np.ndarray | list[int], correct: np.ndarray | list[bool]) -> None:
        """Update streaks from one batch of rollouts (``rows[i]`` produced outcome ``correct[i]``).

        Rollouts are grouped by row, so a row drawn twice in a batch counts as one group with all its
        rollouts. Then both exploration probabilities move by ``adapt_step`` towards their targets.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        correct = np.asarray(correct, dtype=bool).reshape(-1)
        if len(rows) != len(correct):
            raise ValueError(f"got {len(correct)} outcomes for {len(rows)} rollouts")
        if len(rows) == 0:
            return
        groups, inverse = np.unique(rows, return_inverse=True)
        n = np.bincount(inverse)
        n_correct = np.bincount(inverse, weights=correct.astype(np.float64)).astype(np.int64)
        easy = n_correct == n
        hard = n_correct == 0
        zero_var = easy | hard
        self.streak[groups] = np.where(zero_var, self.streak[groups] + 1, 0)
        self.last_easy[groups[zero_var]] = easy[zero_var]
        self.explore_easy = self._adapt(self.explore_easy, float(easy.mean()), self.config.target_easy_frac)
        self.explore_hard = self._adapt(self.explore_hard, float(hard.mean()), self.config.target_hard_frac)

    def _adapt(self, p: float, observed: float, target: float) -> float:
        """Too many zero-variance groups got through: explore less (skip more); otherwise explore more."""
        step = self.config.adapt_step
        p = p - step if observed > target else p + step
        return float(min(max(p, self.config.min_explore_prob), 1.0))

    # ------------------------------------------------------------------ views
    def metrics(self, prefix: str = "srpo/skip/") -> dict[str, float]:
        return {
            f"{prefix}skipped_step": float(self.skipped_step),
            f"{prefix}skipped_total": float(self.skipped_total),
            f"{prefix}explore_prob_easy": self.explore_easy,
            f"{prefix}explore_prob_hard": self.explore_hard,
        }

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict[str, Any]:
        return {
            "streak": self.streak.tolist(),
            "last_easy": self.last_easy.tolist(),
            "explore_easy": self.explore_easy,
            "explore_hard": self.explore_hard,
            "skipped_step": self.skipped_step,
            "skipped_total": self.skipped_total,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["streak"]) != len(self.streak):
            raise ValueError(
                f"skipping state was saved for {len(state['streak'])} rows, the training set has "
                f"{len(self.streak)}"
            )
        self.streak = np.asarray(state["streak"], dtype=np.int64)
        self.last_easy = np.asarray(state["last_easy"], dtype=bool)
        self.explore_easy = float(state["explore_easy"])
        self.explore_hard = float(state["explore_hard"])
        self.skipped_step = int(state["skipped_step"])
        self.skipped_total = int(state["skipped_total"])
