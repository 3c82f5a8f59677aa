"""SRPO's two-stage curriculum and the stage-2 domain mixture.

Stage 1 trains on math only, to elicit long, reflective reasoning; stage 2 adds code on top. This
module decides *which stage we are in* and *how much of each domain an epoch draws*; which prompts
of a domain are still worth drawing is History Resampling's job (``srpo.algorithm.history``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from srpo.algorithm.config import CurriculumConfig


class Curriculum:
    """Stage state machine: 1 -> 2, at a step, an epoch, or when stage-1 accuracy plateaus."""

    def __init__(self, config: CurriculumConfig) -> None:
        self.config = config
        self.stage = 1
        self.switched_at_step: int | None = None
        self._ema: float | None = None
        self._best = -math.inf
        self._since_best = 0

    @property
    def active_domains(self) -> list[str]:
        """Domains the current stage draws from."""
        return list(self.config.stage1_domains if self.stage == 1 else self.config.stage2_domains)

    def should_switch(self, step: int, epoch: int) -> bool:
        """Whether stage 2 must start now (``step``: global step about to run, ``epoch``: current epoch)."""
        c = self.config
        if self.stage != 1 or c.switch_at == "never":
            return False
        if c.switch_at == "step":
            return step >= c.switch_step
        if c.switch_at == "epoch":
            return epoch >= c.switch_epoch
        # plateau: the EMA of stage-1 accuracy stopped improving, or the hard step bound was reached
        return self._since_best >= c.plateau_patience or (c.switch_step > 0 and step >= c.switch_step)

    def observe(self, stage1_accuracy: float) -> None:
        """Feed one step's mean stage-1 accuracy (used by ``switch_at=plateau``)."""
        if self.stage != 1 or not math.isfinite(stage1_accuracy):
            return
        a = self.config.plateau_ema
        self._ema = stage1_accuracy if self._ema is None else a * self._ema + (1 - a) * stage1_accuracy
        if self._ema > self._best + self.config.plateau_min_delta:
            self._best = self._ema
            self._since_best = 0
        else:
            self._since_best += 1

    def switch(self, step: int) -> None:
        """Enter stage 2."""
        self.stage = 2
        self.switched_at_step = step

    def mixture_shares(
        self, pool_counts: Mapping[str, int], informative_frac: Mapping[str, float]
    ) -> dict[str, float]:
        """Share of an epoch's draws per active domain (sums to 1 over domains with prompts).

        ``pool_counts``: eligible prompts per domain; ``informative_frac``: last epoch's share of
        mixed-outcome prompts per domain (History Resampling's report).
        """
        domains = [d for d in self.active_domains if pool_counts.get(d, 0) > 0]
        if not domains:
            return {}
        c = self.config
        if self.stage == 1 or c.mixture == "size":
            raw = {d: float(pool_counts[d]) for d in domains}
        elif c.mixture == "weights":
            raw = {d: float(c.domain_weights.get(d, 0.0)) for d in domains}
        elif all(d in informative_frac for d in domains):
            raw = {d: max(c.adaptive_floor, float(informative_frac[d])) for d in domains}
        else:  # adaptive, but some domain has no history yet: start from its size
            raw = {d: float(pool_counts[d]) for d in domains}
        total = sum(raw.values())
        if total <= 0:
            raw, total = (
                {d: float(pool_counts[d]) for d in domains},
                float(sum(pool_counts[d] for d in domains)),
            )
        return {d: v / total for d, v in raw.items()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "switched_at_step": self.switched_at_step,
            "ema": self._ema,
            "best": self._best,
            "since_best": self._since_best,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.stage = int(state["stage"])
        self.switched_at_step = state["switched_at_step"]
        self._ema = state["ema"]
        self._best = float(state["best"])
        self._since_best = int(state["since_best"])


def split_quota(shares: Mapping[str, float], total: int) -> dict[str, int]:
    """Integer draws per domain summing to ``total`` (largest-remainder rounding, ties by name)."""
    exact = {d: s * total for d, s in shares.items()}
    quota = {d: int(math.floor(v)) for d, v in exact.items()}
    left = total - sum(quota.values())
    for d in sorted(exact, key=lambda d: (-(exact[d] - quota[d]), d))[:left]:
        quota[d] += 1
    return quota
