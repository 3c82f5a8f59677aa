"""The dynamic prompt sampler: History Resampling's pool, filtered by the curriculum's stage.

An *epoch* is one pass over the eligible pool (pool prompts of the stage's domains); its order is a
seeded permutation, or, for the ``weights``/``adaptive`` stage-2 mixtures, per-domain quotas drawn
from per-domain permutations and shuffled together. The epoch ends lazily, when a draw finds too
few rows left for a whole batch: by then (in verl's synchronous schedule) the rewards of the epoch's
last batch have been recorded, so History Resampling filters on complete information.

With ``srpo.skipping.enable`` (GRESO-style pre-rollout skipping, ``srpo.algorithm.skipping``), a draw walks
the epoch order and passes over rows the skipper predicts to have zero reward variance; those rows
are consumed for this epoch without being rolled out.

Everything is driven by one ``numpy.random.Generator`` whose state is part of ``state_dict()``, so a
run resumed from a checkpoint draws exactly what the uninterrupted run would have drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from reward_fns.domains import domain_names
from srpo.algorithm.config import SRPOConfig
from srpo.algorithm.curriculum import Curriculum, split_quota
from srpo.algorithm.history import EpochReport, HistoryResampling, domain_codes
from srpo.algorithm.skipping import PreRolloutSkipper

logger = logging.getLogger(__name__)


class SRPOSampler:
    """Draws dataset rows for the trainer.

    Args:
        prompt_ids: stable id per dataset row (``extra_info.prompt_id``).
        domains: domain per dataset row (``extra_info.domain``: ``math`` or ``code``).
        config: the validated ``srpo`` config.
    """

    def __init__(self, prompt_ids: Sequence[str], domains: Sequence[str], config: SRPOConfig) -> None:
        self.config = config
        self.domains = np.asarray([str(d) for d in domains], dtype=object)
        unknown = sorted(set(self.domains) - set(domain_names()))
        if unknown:
            raise ValueError(
                f"training rows have unknown domain(s) {unknown}; known domains are {domain_names()}"
            )
        present = set(self.domains)
        for d in config.curriculum.stage1_domains:
            if d not in present:
                raise ValueError(
                    f"srpo.curriculum.stage1_domains names {d!r} but the training files have no {d!r} rows"
                )
        self.history = HistoryResampling(prompt_ids, config.history, self.domains)
        self._domain_names, self._domain_codes = domain_codes(self.domains)
        self.curriculum = Curriculum(config.curriculum)
        self.skipper = (
            PreRolloutSkipper(len(self.domains), config.skipping) if config.skipping.enable else None
        )
        self._rng = np.random.default_rng(config.seed)
        self._order = np.empty(0, dtype=np.int64)
        self._pos = 0
        self._epoch_open = False
        self.step = 0
        self.reports: list[EpochReport] = []

    def __len__(self) -> int:
        return len(self.domains)

    # ------------------------------------------------------------------ drawing
    def set_step(self, step: int) -> None:
        """Tell the sampler which global step the next draws are for (stage switches use it)."""
        if self.skipper is not None and int(step) != self.step:
            self.skipper.begin_step()
        self.step = int(step)

    def draw(self, count: int) -> list[int]:
        """The next ``count`` dataset rows to roll out (one batch).

        A batch never straddles two epochs: when fewer than ``count`` rows are left in the epoch's
        order, the epoch ends (those rows wait for a later epoch, as with a ``drop_last``
        dataloader) so that History Resampling filters on outcomes that have all been recorded;
        ``history.pad_last_batch`` pads the epoch to whole batches instead, so none waits.
        """
        if self._pos + count > len(self._order):
            self._close_epoch()
        self._maybe_switch()
        if not self._epoch_open:
            self._open_epoch(min_len=count)
        if self.skipper is not None:
            return self._draw_skipping(count)
        rows = [int(r) for r in self._order[self._pos : self._pos + count]]
        self._pos += count
        return rows

    def _maybe_switch(self) -> None:
        if self.curriculum.should_switch(self.step, self.history.epoch):
            self._close_epoch()
            self.curriculum.switch(self.step)
            logger.info(
                "SRPO curriculum: stage 2 (%s) starts at step %d", self.curriculum.active_domains, self.step
            )

    def _draw_skipping(self, count: int) -> list[int]:
        """Walk the epoch order, keeping the rows the skipper keeps, until ``count`` are kept.

        Skipped rows are consumed (not rolled out this epoch). If the epoch runs out first, the rows
        kept so far wait like a ``drop_last`` remainder and the batch starts again in a new epoch, so a
        batch still never straddles two epochs. If a whole fresh epoch cannot supply ``count`` kept
        rows, the batch is filled with its first skipped rows: training always makes progress.
        """
        assert self.skipper is not None
        while True:
            fresh = self._pos == 0
            kept: list[int] = []  # positions in self._order
            skipped: list[int] = []
            while len(kept) < count and self._pos < len(self._order):
                row = int(self._order[self._pos])
                (kept if self.skipper.keeps(row, self._rng) else skipped).append(self._pos)
                self._pos += 1
            if len(kept) < count and fresh:  # the whole epoch was walked: _open_epoch made it >= count
                fill = count - len(kept)
                kept, skipped = sorted(kept + skipped[:fill]), skipped[fill:]
            self.skipper.count_skipped(len(skipped))
            if len(kept) == count:
                return [int(self._order[i]) for i in kept]
            self._close_epoch()
            self._maybe_switch()
            self._open_epoch(min_len=count)

    def record(self, prompt_ids: Sequence[str], rewards: Sequence[float] | np.ndarray) -> None:
        """Record rollout outcomes (see ``HistoryResampling.record``) and feed the skipper.

        The skipper is fed even when History Resampling is disabled (``history.record`` then returns
        early); both judge a rollout correct when its signal is >= ``history.success_threshold``.
        """
        self.history.record(prompt_ids, rewards)
        if self.skipper is not None and len(prompt_ids) > 0:
            rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
            correct = rewards >= self.config.history.success_threshold
            self.skipper.record(self.history.rows_of(prompt_ids), correct)

    def _close_epoch(self) -> None:
        if not self._epoch_open:
            return
        report = self.history.end_epoch(self.in_stage)
        self.reports.append(report)
        self._epoch_open = False
        self._order = np.empty(0, dtype=np.int64)
        self._pos = 0
        logger.info(report.summary())

    def _open_epoch(self, min_len: int) -> None:
        in_stage = self.in_stage
        eligible = np.flatnonzero(self.history.active & in_stage)
        if self.config.history.fill_batch and len(eligible) < min_len:
            back = self.history.readmit_oldest(min_len - len(eligible), within=in_stage)
            logger.info("SRPO: pool below one batch; fill_batch re-admitted %d dropped prompts", back)
            eligible = np.flatnonzero(self.history.active & in_stage)
        if len(eligible) == 0:
            # Every prompt of the stage was dropped as too easy: start the stage's pool afresh
            # rather than stall; the metric srpo/pool_size shows it.
            logger.warning(
                "SRPO: no prompt of domains %s left in the pool; re-admitting all of them",
                self.curriculum.active_domains,
            )
            self.history.readmit_oldest(int(in_stage.sum()), within=in_stage)
            eligible = np.flatnonzero(in_stage)
        order = self._epoch_order(eligible)
        while len(order) < min_len:  # a pool smaller than one batch: repeat it, reshuffled
            order = np.concatenate([order, self._epoch_order(eligible)])
        pad = -len(order) % min_len
        if self.config.history.pad_last_batch and pad:
            order = np.concatenate([order, self._epoch_order(eligible)[:pad]])
        self._order = order
        self._pos = 0
        self._epoch_open = True

    def _epoch_order(self, eligible: np.ndarray) -> np.ndarray:
        codes = self._domain_codes[eligible]
        by_domain = {d: eligible[codes == self._code_of(d)] for d in self.curriculum.active_domains}
        counts = {d: len(rows) for d, rows in by_domain.items()}
        shares = self.curriculum.mixture_shares(counts, self.history.informative_frac)
        if self.curriculum.stage == 1 or self.config.curriculum.mixture == "size":
            return self._rng.permutation(eligible)
        quota = split_quota(shares, len(eligible))
        parts = [self._cycle(by_domain[d], q) for d, q in sorted(quota.items()) if q > 0]
        return self._rng.permutation(np.concatenate(parts)) if parts else self._rng.permutation(eligible)

    def _cycle(self, rows: np.ndarray, count: int) -> np.ndarray:
        """``count`` rows from fresh permutations of ``rows`` (repeats only once all were used)."""
        reps = -(-count // len(rows))
        return np.concatenate([self._rng.permutation(rows) for _ in range(reps)])[:count]

    def _code_of(self, domain: str) -> int:
        """Integer code of ``domain`` (-1 when no row has it)."""
        hit = np.flatnonzero(self._domain_names == domain)
        return int(hit[0]) if len(hit) else -1

    # ------------------------------------------------------------------ views
    @property
    def epoch(self) -> int:
        return self.history.epoch

    @property
    def in_stage(self) -> np.ndarray:
        """Mask of the rows whose domain the current curriculum stage draws from."""
        codes = [self._code_of(d) for d in self.curriculum.active_domains]
        return np.isin(self._domain_codes, codes)

    def metrics(self) -> dict[str, float]:
        """``srpo/*`` metrics for verl's logger."""
        out = self.history.metrics()
        out["srpo/stage"] = float(self.curriculum.stage)
        out["srpo/epoch_progress"] = self._pos / max(len(self._order), 1)
        if self.skipper is not None:
            out.update(self.skipper.metrics())
        return out

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict[str, Any]:
        state = {
            "history": self.history.state_dict(),
            "curriculum": self.curriculum.state_dict(),
            "rng": self._rng.bit_generator.state,
            "order": self._order.tolist(),
            "pos": self._pos,
            "epoch_open": self._epoch_open,
            "step": self.step,
            "reports": [r.__dict__.copy() for r in self.reports],
        }
        if self.skipper is not None:  # absent when disabled: the state stays what it was before skipping
            state["skipper"] = self.skipper.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history.load_state_dict(state["history"])
        self.curriculum.load_state_dict(state["curriculum"])
        self._rng.bit_generator.state = state["rng"]
        self._order = np.asarray(state["order"], dtype=np.int64)
        self._pos = int(state["pos"])
        self._epoch_open = bool(state["epoch_open"])
        self.step = int(state["step"])
        self.reports = [EpochReport(**r) for r in state["reports"]]
        if self.skipper is not None:
            if "skipper" in state:
                self.skipper.load_state_dict(state["skipper"])
            else:
                logger.warning("SRPO: the checkpoint has no skipping state; skipping starts from scratch")
