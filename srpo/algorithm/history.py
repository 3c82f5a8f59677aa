"""History Resampling: SRPO's epoch-level filter of the prompt pool.

During an epoch every rollout's outcome is recorded against its prompt. At the end of the epoch:

* prompts whose rollouts were **all correct** are dropped (too easy: their group advantage is zero,
  they teach nothing);
* prompts with **mixed** outcomes are kept (they carry the gradient signal);
* prompts whose rollouts were **all wrong** are kept too (paper), since they may become learnable;
  ``keep_all_wrong=False`` drops them as well, which is closer to DAPO's dynamic sampling, and
  ``max_all_wrong_epochs=k`` drops only those all wrong in ``k`` epochs in a row (beyond the paper:
  prompts no skill solves, e.g. with a wrong reference answer, stop costing rollouts);
  ``too_easy_epochs=k`` likewise drops a prompt as too easy only once it was all correct in ``k``
  epochs in a row (beyond the paper: with few rollouts per prompt, one all-correct group is often luck).

Counters are numpy arrays indexed by dataset row, and domains are integer codes, so recording a batch
is two ``np.add.at`` calls and the end-of-epoch filter is a handful of vector operations: about 0.1 s
for a million prompts (``benchmarks/sim_cost.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from srpo.algorithm.config import HistoryResamplingConfig


@dataclass
class EpochReport:
    """What the end-of-epoch filter saw and did."""

    epoch: int
    seen: int
    too_easy: int
    all_wrong: int
    mixed: int
    dropped: int
    readmitted: int
    pool_size: int

    def metrics(self, prefix: str = "srpo/") -> dict[str, float]:
        """Grouped metric names for verl's tracking (``srpo/pool_size``, ``srpo/too_easy_frac``, ...)."""
        seen = max(self.seen, 1)
        return {
            f"{prefix}pool_size": float(self.pool_size),
            f"{prefix}epoch_seen": float(self.seen),
            f"{prefix}too_easy_frac": self.too_easy / seen,
            f"{prefix}all_wrong_frac": self.all_wrong / seen,
            f"{prefix}mixed_frac": self.mixed / seen,
            f"{prefix}dropped": float(self.dropped),
            f"{prefix}readmitted": float(self.readmitted),
        }

    def summary(self) -> str:
        """One line for the console at each epoch end."""
        return (
            f"History Resampling after epoch {self.epoch}: saw {self.seen} prompts "
            f"({self.mixed} mixed, {self.all_wrong} all wrong, {self.too_easy} too easy); "
            f"dropped {self.dropped}, re-admitted {self.readmitted}, pool now {self.pool_size}"
        )


class HistoryResampling:
    """Per-prompt outcome records for the current epoch and the resulting training pool.

    Args:
        prompt_ids: one stable id per dataset row (``extra_info.prompt_id``), in dataset order.
        config: the ``srpo.algorithm.history`` settings.
        domains: optional domain per row, to report each domain's share of informative prompts.
    """

    def __init__(
        self,
        prompt_ids: Sequence[str],
        config: HistoryResamplingConfig,
        domains: Sequence[str] | None = None,
    ) -> None:
        self.config = config
        self.prompt_ids = [str(p) for p in prompt_ids]
        self._row_of = {pid: i for i, pid in enumerate(self.prompt_ids)}
        if len(self._row_of) != len(self.prompt_ids):
            dup = next(p for p in self.prompt_ids if self.prompt_ids.count(p) > 1)
            raise ValueError(f"prompt ids must be unique; {dup!r} appears more than once")
        n = len(self.prompt_ids)
        self.domains = np.asarray(domains if domains is not None else ["all"] * n, dtype=object)
        if len(self.domains) != n:
            raise ValueError(f"got {len(self.domains)} domains for {n} prompts")
        # Integer codes: comparing a million Python strings at every epoch end costs seconds.
        self.domain_names, self.domain_codes = domain_codes(self.domains)
        self.active = np.ones(n, dtype=bool)
        self.dropped_epoch = np.full(n, -1, dtype=np.int64)
        self.all_wrong_epochs = np.zeros(n, dtype=np.int64)  # consecutive seen epochs all wrong
        self.too_easy_epochs = np.zeros(n, dtype=np.int64)  # consecutive seen epochs all correct
        self.n_rollouts = np.zeros(n, dtype=np.int64)
        self.n_correct = np.zeros(n, dtype=np.int64)
        self.epoch = 0
        self.last_report: EpochReport | None = None
        self.informative_frac: dict[str, float] = {}

    # ------------------------------------------------------------------ recording
    def rows_of(self, prompt_ids: Sequence[str]) -> np.ndarray:
        """Dataset rows of the given prompt ids; an unknown id is an error naming it."""
        try:
            return np.fromiter(
                (self._row_of[str(p)] for p in prompt_ids), dtype=np.int64, count=len(prompt_ids)
            )
        except KeyError as err:
            raise KeyError(
                f"prompt id {err.args[0]!r} is not in the training set History Resampling tracks"
            ) from None

    def record(self, prompt_ids: Sequence[str], rewards: Sequence[float] | np.ndarray) -> None:
        """Record one outcome per rollout (``prompt_ids[i]`` produced ``rewards[i]``)."""
        rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
        if len(rewards) != len(prompt_ids):
            raise ValueError(f"got {len(rewards)} rewards for {len(prompt_ids)} rollouts")
        if not self.config.enable or len(rewards) == 0:
            return
        rows = self.rows_of(prompt_ids)
        np.add.at(self.n_rollouts, rows, 1)
        np.add.at(self.n_correct, rows, (rewards >= self.config.success_threshold).astype(np.int64))

    # ------------------------------------------------------------------ filtering
    def end_epoch(self, eligible: np.ndarray | None = None) -> EpochReport:
        """Apply the filter to what this epoch recorded, reset the records, and report.

        ``eligible``: mask of the rows the next epoch may draw (the sampler passes the current
        stage's domains). ``min_pool_size`` counts, and ``refill`` re-admits, only those rows, so a
        domain that waits for stage 2 cannot hide a stage-1 pool that drained. ``None`` = all rows.
        """
        cfg = self.config
        eligible = np.ones_like(self.active) if eligible is None else np.asarray(eligible, dtype=bool)
        seen = self.n_rollouts > 0
        too_easy = seen & (self.n_correct == self.n_rollouts)
        all_wrong = seen & (self.n_correct == 0)
        mixed = seen & ~too_easy & ~all_wrong
        self._update_informative(seen, mixed)
        self.all_wrong_epochs[all_wrong] += 1
        self.all_wrong_epochs[seen & ~all_wrong] = 0
        self.too_easy_epochs[too_easy] += 1
        self.too_easy_epochs[seen & ~too_easy] = 0

        drop = np.zeros_like(self.active)
        if cfg.enable:
            drop_wrong = all_wrong if not cfg.keep_all_wrong else np.zeros_like(all_wrong)
            if cfg.keep_all_wrong and cfg.max_all_wrong_epochs > 0:
                drop_wrong = all_wrong & (self.all_wrong_epochs >= cfg.max_all_wrong_epochs)
            drop_easy = too_easy & (self.too_easy_epochs >= cfg.too_easy_epochs)
            drop = self.active & (drop_easy | drop_wrong)
            if cfg.refill == "keep_easy":
                drop = self._spare_to_min_pool(drop, eligible)
        self.active &= ~drop
        self.dropped_epoch[drop] = self.epoch

        readmit = np.zeros_like(self.active)
        if cfg.enable and cfg.readmit_after_epochs > 0:
            readmit = ~self.active & (self.epoch - self.dropped_epoch >= cfg.readmit_after_epochs)
        self._readmit(readmit)
        if cfg.enable and cfg.refill == "readmit_oldest":
            extra = self._oldest_dropped(cfg.min_pool_size - int((self.active & eligible).sum()), eligible)
            readmit |= extra
            self._readmit(extra)

        report = EpochReport(
            epoch=self.epoch,
            seen=int(seen.sum()),
            too_easy=int(too_easy.sum()),
            all_wrong=int(all_wrong.sum()),
            mixed=int(mixed.sum()),
            dropped=int(drop.sum()),
            readmitted=int(readmit.sum()),
            pool_size=int(self.active.sum()),
        )
        self.n_rollouts[:] = 0
        self.n_correct[:] = 0
        self.epoch += 1
        self.last_report = report
        return report

    def readmit_oldest(self, count: int, within: np.ndarray | None = None) -> int:
        """Put back up to ``count`` dropped prompts (of the ``within`` mask), dropped earliest first.

        Returns how many came back. The sampler uses it for ``fill_batch``.
        """
        mask = self._oldest_dropped(count, np.ones_like(self.active) if within is None else within)
        self._readmit(mask)
        return int(mask.sum())

    def _spare_to_min_pool(self, drop: np.ndarray, eligible: np.ndarray) -> np.ndarray:
        """Un-drop the lowest eligible rows of ``drop`` so that ``min_pool_size`` eligible prompts stay."""
        shortfall = self.config.min_pool_size - int((self.active & ~drop & eligible).sum())
        if shortfall <= 0:
            return drop
        drop = drop.copy()
        drop[np.flatnonzero(drop & eligible)[:shortfall]] = False
        return drop

    def _oldest_dropped(self, count: int, eligible: np.ndarray) -> np.ndarray:
        """Mask of up to ``count`` dropped eligible prompts, those dropped earliest first (ties: by row)."""
        mask = np.zeros_like(self.active)
        if count <= 0:
            return mask
        dropped = np.flatnonzero(~self.active & eligible)
        order = dropped[np.lexsort((dropped, self.dropped_epoch[dropped]))]
        mask[order[:count]] = True
        return mask

    def _readmit(self, mask: np.ndarray) -> None:
        self.active |= mask
        self.dropped_epoch[mask] = -1
        self.all_wrong_epochs[mask] = 0
        self.too_easy_epochs[mask] = 0

    def _update_informative(self, seen: np.ndarray, mixed: np.ndarray) -> None:
        n_codes = len(self.domain_names)
        n_seen = np.bincount(self.domain_codes[seen], minlength=n_codes)
        n_mixed = np.bincount(self.domain_codes[mixed], minlength=n_codes)
        for code in np.flatnonzero(n_seen):
            self.informative_frac[str(self.domain_names[code])] = float(n_mixed[code] / n_seen[code])

    # ------------------------------------------------------------------ views
    @property
    def pool_rows(self) -> np.ndarray:
        """Dataset rows currently in the training pool, ascending."""
        return np.flatnonzero(self.active)

    def metrics(self, prefix: str = "srpo/") -> dict[str, float]:
        """Current pool size plus the last epoch's report and per-domain informative shares."""
        out = {f"{prefix}pool_size": float(self.active.sum()), f"{prefix}epoch": float(self.epoch)}
        if self.last_report is not None:
            out.update(self.last_report.metrics(prefix))
            out[f"{prefix}pool_size"] = float(self.active.sum())
        for domain, frac in self.informative_frac.items():
            out[f"{prefix}informative_frac/{domain}"] = frac
        return out

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this object is, as plain Python values."""
        return {
            "prompt_ids": list(self.prompt_ids),
            "active": self.active.tolist(),
            "dropped_epoch": self.dropped_epoch.tolist(),
            "all_wrong_epochs": self.all_wrong_epochs.tolist(),
            "too_easy_epochs": self.too_easy_epochs.tolist(),
            "n_rollouts": self.n_rollouts.tolist(),
            "n_correct": self.n_correct.tolist(),
            "epoch": self.epoch,
            "last_report": asdict(self.last_report) if self.last_report else None,
            "informative_frac": dict(self.informative_frac),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from ``state_dict()``; the dataset's prompt ids must be the same."""
        if list(state["prompt_ids"]) != self.prompt_ids:
            raise ValueError(
                "History Resampling state was saved for a different training set "
                f"({len(state['prompt_ids'])} prompts vs {len(self.prompt_ids)} now, or a different order)"
            )
        self.active = np.asarray(state["active"], dtype=bool)
        self.dropped_epoch = np.asarray(state["dropped_epoch"], dtype=np.int64)
        # Checkpoints written before max_all_wrong_epochs existed have no streaks: start them at 0.
        streaks = state.get("all_wrong_epochs", [0] * len(self.prompt_ids))
        self.all_wrong_epochs = np.asarray(streaks, dtype=np.int64)
        # ... nor, before too_easy_epochs existed, all-correct streaks.
        easy = state.get("too_easy_epochs", [0] * len(self.prompt_ids))
        self.too_easy_epochs = np.asarray(easy, dtype=np.int64)
        self.n_rollouts = np.asarray(state["n_rollouts"], dtype=np.int64)
        self.n_correct = np.asarray(state["n_correct"], dtype=np.int64)
        self.epoch = int(state["epoch"])
        self.last_report = EpochReport(**state["last_report"]) if state["last_report"] else None
        self.informative_frac = dict(state["informative_frac"])


def domain_codes(domains: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct domain names and each row's index into them (one string sort, at set-up)."""
    names, codes = np.unique(np.asarray(domains, dtype=str), return_inverse=True)
    return names.astype(object), codes.astype(np.int64)


def zero_variance_group_fraction(group_keys: Sequence[Any] | np.ndarray, rewards: Sequence[float]) -> float:
    """Share of groups (rollouts of one prompt) whose rewards are all equal: zero GRPO advantage."""
    keys = np.asarray(group_keys, dtype=object).astype(str)
    rewards = np.asarray(rewards, dtype=np.float64)
    if len(keys) == 0:
        return 0.0
    _, ids = np.unique(keys, return_inverse=True)
    n = ids.max() + 1
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    np.minimum.at(lo, ids, rewards)
    np.maximum.at(hi, ids, rewards)
    return float(np.mean(hi - lo <= 1e-12))
