"""Typed configuration of SRPO's own parts, with the paper's values as defaults.

verl's config (``algorithm``, ``actor_rollout_ref``, ...) stays verl's; SRPO's choices live under the
top-level ``srpo`` key. ``load_srpo_config`` turns that node into these dataclasses, rejecting unknown
keys and bad values at start-up with an error that names the offending key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from reward_fns.domains import domain_names

SWITCH_MODES = ("step", "epoch", "plateau", "never")
MIXTURES = ("size", "weights", "adaptive")
REFILL_POLICIES = ("readmit_oldest", "keep_easy")


class SRPOConfigError(ValueError):
    """A bad SRPO setting; the message names the key (``srpo.<path>``) and the fix."""


@dataclass
class HistoryResamplingConfig:
    """History Resampling: drop prompts whose rollouts were all correct at the end of each epoch."""

    enable: bool = True
    # Which per-rollout signal decides correctness: a reward-extra key written by the reward
    # function (``acc`` for ours) or ``score`` for the scalar reward verl trains on.
    reward_key: str = "acc"
    # A rollout counts as correct when its signal is >= this value (the max score for 0/1 accuracy).
    success_threshold: float = 1.0
    # Paper: keep prompts whose rollouts were all wrong (they may become learnable). False = DAPO-like.
    keep_all_wrong: bool = True
    # With keep_all_wrong: drop a prompt once it was all wrong in this many epochs in a row (epochs
    # that drew it). 0 = keep it forever (paper). Beyond the paper: stops paying for prompts no skill
    # solves (e.g. a wrong reference answer) while giving each hard prompt k chances.
    max_all_wrong_epochs: int = 0
    # Drop a prompt as too easy once it was all correct in this many epochs in a row (epochs that
    # drew it). 1 = paper. With few rollouts per prompt one all-correct group is often luck (a prompt
    # solved half the time is all correct in 1 of 16 groups of 4), which drops prompts that still
    # teach; k > 1 asks for k such epochs in a row.
    too_easy_epochs: int = 1
    # Never shrink the pool of the current stage's domains below this many prompts; below it,
    # ``refill`` decides who comes back.
    min_pool_size: int = 1
    # ``readmit_oldest``: re-admit the prompts dropped longest ago; ``keep_easy``: skip dropping
    # this epoch's easiest prompts so the pool stays at ``min_pool_size``.
    refill: str = "readmit_oldest"
    # Re-admit a dropped prompt after this many epochs (0 = never; the paper never re-admits).
    readmit_after_epochs: int = 0
    # When fewer of the stage's prompts are left in the pool than one batch, re-admit those dropped
    # longest ago to fill it. False (paper): the few left are repeated to fill every batch.
    fill_batch: bool = False
    # When the epoch's pool is not a whole number of batches, pad its last batch with prompts of the
    # pool drawn a second time, so every prompt is judged each epoch. False: the remainder waits for
    # a later epoch (like ``drop_last``), which leaves up to batch-1 prompts unjudged per epoch.
    pad_last_batch: bool = False


@dataclass
class CurriculumConfig:
    """Two stages: stage 1 trains on ``stage1_domains`` only, stage 2 on ``stage2_domains``."""

    stage1_domains: list[str] = field(default_factory=lambda: ["math"])
    stage2_domains: list[str] = field(default_factory=lambda: ["math", "code"])
    # When stage 2 starts: at global step ``switch_step``, at the start of epoch ``switch_epoch``,
    # when the stage-1 accuracy plateaus (``plateau_*``; ``switch_step`` stays a hard upper bound
    # when > 0), or ``never`` (a one-stage run).
    switch_at: str = "step"
    switch_step: int = 100
    switch_epoch: int = 1
    plateau_patience: int = 5
    plateau_min_delta: float = 0.01
    plateau_ema: float = 0.9
    # Stage-2 mixture of domains: ``size`` (each prompt of the pool once per epoch), ``weights``
    # (fixed shares, ``domain_weights``), ``adaptive`` (shares follow each domain's fraction of
    # informative, i.e. mixed-outcome, prompts in the last epoch, floored at ``adaptive_floor``).
    mixture: str = "size"
    domain_weights: dict[str, float] = field(default_factory=lambda: {"math": 0.5, "code": 0.5})
    adaptive_floor: float = 0.1


@dataclass
class SkippingConfig:
    """Pre-rollout skipping (GRESO-style; an option beyond the SRPO paper, off by default).

    A prompt whose last ``k`` rollout groups all had zero reward variance (all correct or all wrong,
    judged with ``history.reward_key`` >= ``history.success_threshold``) is skipped before rollout
    with probability ``1 - p**k``. ``p`` (one for all-correct "easy" prompts, one for all-wrong "hard"
    ones) adapts after every batch so the batch's share of such groups stays near its target. The
    default values are ours, not figures from the GRESO paper.
    """

    enable: bool = False
    # Starting exploration probability p, for easy and hard prompts alike.
    explore_prob: float = 0.5
    # p never adapts below this (a skipped prompt keeps a chance to be tried again).
    min_explore_prob: float = 0.05
    # Wanted share of all-correct (easy) and all-wrong (hard) groups in a batch.
    target_easy_frac: float = 0.1
    target_hard_frac: float = 0.2
    # How far p moves after each batch (0 = p stays at explore_prob).
    adapt_step: float = 0.01


@dataclass
class SRPOConfig:
    """Everything under the ``srpo`` config key."""

    seed: int = 0
    history: HistoryResamplingConfig = field(default_factory=HistoryResamplingConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    skipping: SkippingConfig = field(default_factory=SkippingConfig)
    # How often verl's replay buffer checks whether a step's rollouts are all scored (verl: 2 s).
    replay_poll_interval_s: float = 0.5
    # Print everything verl, Ray and vLLM print (default: a short console, all of it in console.log).
    verbose: bool = False

    def validate(self) -> SRPOConfig:
        """Check values that types alone cannot; raise ``SRPOConfigError`` naming the key."""
        h, c = self.history, self.curriculum
        if h.success_threshold < 0:
            _bad("history.success_threshold", h.success_threshold, "must be >= 0")
        if h.min_pool_size < 1:
            _bad("history.min_pool_size", h.min_pool_size, "must be >= 1")
        if h.refill not in REFILL_POLICIES:
            _bad("history.refill", h.refill, f"must be one of {REFILL_POLICIES}")
        if h.readmit_after_epochs < 0:
            _bad("history.readmit_after_epochs", h.readmit_after_epochs, "must be >= 0 (0 = never)")
        if h.too_easy_epochs < 1:
            _bad("history.too_easy_epochs", h.too_easy_epochs, "must be >= 1 (1 = drop at once, paper)")
        if h.max_all_wrong_epochs < 0:
            _bad("history.max_all_wrong_epochs", h.max_all_wrong_epochs, "must be >= 0 (0 = never drop)")
        if h.max_all_wrong_epochs > 0 and not h.keep_all_wrong:
            _bad(
                "history.max_all_wrong_epochs",
                h.max_all_wrong_epochs,
                "has no effect with keep_all_wrong=false (all-wrong prompts are dropped at once); set one",
            )
        if not h.reward_key:
            _bad("history.reward_key", h.reward_key, "must name a reward key, e.g. 'acc' or 'score'")
        for key in ("stage1_domains", "stage2_domains"):
            domains = getattr(c, key)
            if not domains:
                _bad(f"curriculum.{key}", domains, "must list at least one domain")
            for d in domains:
                if d not in domain_names():
                    _bad(f"curriculum.{key}", d, f"unknown domain; known domains are {domain_names()}")
        if not set(c.stage1_domains) <= set(c.stage2_domains):
            _bad("curriculum.stage2_domains", c.stage2_domains, "stage 2 must include every stage-1 domain")
        if c.switch_at not in SWITCH_MODES:
            _bad("curriculum.switch_at", c.switch_at, f"must be one of {SWITCH_MODES}")
        if c.switch_at == "step" and c.switch_step < 1:
            _bad("curriculum.switch_step", c.switch_step, "stage 2 cannot start before stage 1 (use >= 1)")
        if c.switch_at == "epoch" and c.switch_epoch < 1:
            _bad("curriculum.switch_epoch", c.switch_epoch, "stage 2 cannot start before stage 1 (use >= 1)")
        if c.switch_at == "plateau" and c.plateau_patience < 1:
            _bad("curriculum.plateau_patience", c.plateau_patience, "must be >= 1")
        if not 0.0 <= c.plateau_ema < 1.0:
            _bad("curriculum.plateau_ema", c.plateau_ema, "must be in [0, 1)")
        if c.mixture not in MIXTURES:
            _bad("curriculum.mixture", c.mixture, f"must be one of {MIXTURES}")
        for d, w in c.domain_weights.items():
            if d not in domain_names():
                _bad("curriculum.domain_weights", d, f"unknown domain; known domains are {domain_names()}")
            if w < 0:
                _bad(f"curriculum.domain_weights.{d}", w, "must be >= 0")
        if c.mixture == "weights" and sum(c.domain_weights.get(d, 0.0) for d in c.stage2_domains) <= 0:
            _bad(
                "curriculum.domain_weights",
                c.domain_weights,
                "must give a positive weight to a stage-2 domain",
            )
        if not 0.0 <= c.adaptive_floor <= 1.0:
            _bad("curriculum.adaptive_floor", c.adaptive_floor, "must be in [0, 1]")
        if not 0.0 < self.replay_poll_interval_s <= 60.0:
            _bad("replay_poll_interval_s", self.replay_poll_interval_s, "must be in (0, 60] seconds")
        self._validate_skipping()
        return self

    def _validate_skipping(self) -> None:
        s = self.skipping
        if not 0.0 <= s.min_explore_prob <= 1.0:
            _bad("skipping.min_explore_prob", s.min_explore_prob, "must be in [0, 1]")
        if not s.min_explore_prob <= s.explore_prob <= 1.0:
            _bad("skipping.explore_prob", s.explore_prob, "must be in [skipping.min_explore_prob, 1]")
        for key in ("target_easy_frac", "target_hard_frac", "adapt_step"):
            if not 0.0 <= getattr(s, key) <= 1.0:
                _bad(f"skipping.{key}", getattr(s, key), "must be in [0, 1]")


def _bad(key: str, value: Any, why: str) -> None:
    raise SRPOConfigError(f"srpo.{key}={value!r}: {why}")


def load_srpo_config(node: DictConfig | dict | None) -> SRPOConfig:
    """Build and validate an ``SRPOConfig`` from the ``srpo`` config node (``None`` = defaults).

    Unknown keys and wrongly typed values raise ``SRPOConfigError`` naming the full key.
    """
    schema = OmegaConf.structured(SRPOConfig)
    if node is None:
        return SRPOConfig().validate()
    try:
        merged = OmegaConf.merge(schema, node)
    except Exception as err:  # omegaconf raises several types; all mean a bad key or type
        key = getattr(err, "full_key", None) or ""
        raise SRPOConfigError(f"srpo.{key}: {_first_line(err)}".replace("srpo.: ", "srpo: ")) from None
    cfg = OmegaConf.to_object(merged)
    assert isinstance(cfg, SRPOConfig)
    return cfg.validate()


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def srpo_config_to_dict(cfg: SRPOConfig) -> dict[str, Any]:
    """Plain-dict view (for logging and the run summary)."""
    return dataclasses.asdict(cfg)
