"""SRPO inside verl's own v1 trainer: a registered ``PPOTrainerSync`` subclass.

verl's synchronous trainer does the rollout, rewards, FSDP update, weight sync and checkpointing;
this subclass adds only what SRPO needs, through the trainer's overridable methods:

* ``_init_dataloader``: the prompt loader draws rows from ``SRPOSampler`` (History Resampling pool x
  curriculum stage) instead of verl's random sampler. Its ``state_dict`` is the sampler's, so verl's
  own checkpoint file (``data.pt``) carries the SRPO state and a resumed run draws exactly what the
  uninterrupted run would have drawn.
* ``on_step_begin``: tells the sampler the global step (for the stage switch).
* ``_compute_advantage``: after verl computed the advantage, records each rollout's outcome against
  its prompt (History Resampling), feeds the curriculum's plateau detector, and adds ``srpo/*``
  metrics.

Selected with ``trainer.v1.trainer_mode=srpo`` in any verl run that imports ``srpo`` (our
``verl.plugins`` entry point does). It runs verl's synchronous schedule. Every verl name used here
beyond the public config goes through :mod:`srpo.verl_glue.compat`, which checks them against the
installed verl when this module registers the trainer.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from srpo.algorithm.config import load_srpo_config
from srpo.algorithm.history import zero_variance_group_fraction
from srpo.algorithm.sampler import SRPOSampler
from srpo.verl_glue.compat import (
    PPOTrainerSync,
    check_installed_verl,
    collate_fn,
    dataset_extra_infos,
    register_trainer,
    rollout_fields,
    set_replay_poll_interval,
)
from srpo.verl_glue.local_reward import InProcessRewardWorker, scores_in_agent_loop
from srpo.verl_glue.reward_wait import reward_tail_metrics

logger = logging.getLogger(__name__)

TRAINER_NAME = "srpo"


class SRPOPromptLoader:
    """Endless loader of collated prompt batches drawn by an ``SRPOSampler``.

    verl's trainer only iterates it, and saves/loads its ``state_dict`` in the checkpoint.
    """

    def __init__(
        self, dataset: Any, sampler: SRPOSampler, batch_size: int, draws_path: str | None = None
    ) -> None:
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = batch_size
        self.draws_path = draws_path

    def __iter__(self) -> Iterator[dict]:
        while True:
            rows = self.sampler.draw(self.batch_size)
            self._log_draw(rows)
            yield collate_fn([self.dataset[r] for r in rows])

    def _log_draw(self, rows: list[int]) -> None:
        """Append the batch, in draw order, to ``draws.jsonl``: which prompts trained when."""
        if not self.draws_path:
            return
        record = {
            "step": self.sampler.step,
            "epoch": self.sampler.epoch,
            "stage": self.sampler.curriculum.stage,
            "prompt_ids": [self.sampler.history.prompt_ids[r] for r in rows],
            "t": time.time(),  # when the batch was drawn: the step's start
        }
        with open(self.draws_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def __len__(self) -> int:
        return max(len(self.sampler.history.pool_rows) // self.batch_size, 1)

    def state_dict(self) -> dict[str, Any]:
        return {"srpo_sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "srpo_sampler" not in state:
            raise ValueError(
                "this checkpoint's data.pt was not written by the SRPO trainer "
                "(no 'srpo_sampler' state); resume it with the trainer that wrote it"
            )
        self.sampler.load_state_dict(state["srpo_sampler"])


def dataset_prompt_ids_and_domains(dataset: Any) -> tuple[list[str], list[str]]:
    """``extra_info.prompt_id`` and ``extra_info.domain`` of every row verl kept, in dataset order."""
    infos = dataset_extra_infos(dataset)
    ids, domains = [], []
    for i, info in enumerate(infos):
        info = info or {}
        if "prompt_id" not in info or "domain" not in info:
            raise ValueError(
                f"training row {i} lacks extra_info.prompt_id / extra_info.domain, which SRPO needs "
                "(see docs/data_format.md; the scripts in scripts/ write them)"
            )
        ids.append(str(info["prompt_id"]))
        domains.append(str(info["domain"]))
    return ids, domains


check_installed_verl()


@register_trainer(TRAINER_NAME)
class SRPOTrainer(PPOTrainerSync):
    """verl's synchronous PPO trainer with SRPO's History Resampling and two-stage curriculum."""

    def __init__(self, config: Any) -> None:
        self.srpo_config = load_srpo_config(OmegaConf.select(config, "srpo"))
        super().__init__(config)

    # verl branches on ``trainer_mode == "sync"`` (replay buffer, refill, checkpoint contents). The
    # configured name is "srpo" (it selects this class); the schedule is verl's synchronous one.
    @property
    def trainer_mode(self) -> str:
        return "sync"

    @trainer_mode.setter
    def trainer_mode(self, _configured_name: str) -> None:
        pass

    def _build_replay_buffer(self):
        """verl's replay buffer, polling for finished rollouts every ``srpo.replay_poll_interval_s``.

        A step's batch is taken at the first poll after its last rollout is scored, so verl's fixed
        2 s poll rounds every generation phase up to a multiple of 2 s: most of a short step.
        """
        buffer = super()._build_replay_buffer()
        set_replay_poll_interval(buffer, self.srpo_config.replay_poll_interval_s)
        return buffer

    def _init_dataloader(self) -> None:
        super()._init_dataloader()
        ids, domains = dataset_prompt_ids_and_domains(self.train_dataset)
        self.srpo_sampler = SRPOSampler(ids, domains, self.srpo_config)
        self._srpo_reported_epochs = 0
        self._srpo_reported_stage: int | None = None
        gen_batch_size = self.config.data.get("gen_batch_size", None) or self.config.data.train_batch_size
        out_dir = OmegaConf.select(self.config, "output_dir", default=None)
        draws_path = os.path.join(str(out_dir), "draws.jsonl") if out_dir else None
        self.train_dataloader = SRPOPromptLoader(
            self.train_dataset, self.srpo_sampler, gen_batch_size, draws_path
        )
        self.train_dataloader_it = None

    def get_reward_handles(self) -> list:
        """verl's reward workers, or with ``reward.num_workers=0`` one that scores in the agent loop worker."""
        if scores_in_agent_loop(self.config):
            return [InProcessRewardWorker(self.config)]
        return super().get_reward_handles()

    def on_step_begin(self) -> None:
        super().on_step_begin()
        self.srpo_sampler.set_step(self.global_steps)

    def _compute_advantage(self, batch, metrics: dict):
        batch = super()._compute_advantage(batch, metrics=metrics)
        self._record_outcomes(batch, metrics)
        return batch

    def _record_outcomes(self, batch, metrics: dict) -> None:
        """Feed each rollout's outcome to History Resampling and the curriculum; add metrics."""
        reward_key = self.srpo_config.history.reward_key
        data = rollout_fields(batch)
        uids = [str(u) for u in data["uid"]]
        infos = [v or {} for v in data["extra_info"]]
        scores = np.array([float(s.sum()) for s in data["rm_scores"]], dtype=np.float64)
        if reward_key == "score":
            signal = scores
        else:
            extras = [(v or {}).get("reward_extra_info", {}) for v in data["extra_fields"]]
            missing = [i for i, e in enumerate(extras) if reward_key not in e]
            if missing:
                raise RuntimeError(
                    f"srpo.history.reward_key={reward_key!r} is not among the reward function's outputs "
                    f"(got {sorted(extras[missing[0]])}); set it to one of those or to 'score'"
                )
            signal = np.array([float(e[reward_key]) for e in extras], dtype=np.float64)
        prompt_ids = [str(info.get("prompt_id")) for info in infos]
        domains = [str(info.get("domain")) for info in infos]
        self.srpo_sampler.record(prompt_ids, signal)

        stage1 = set(self.srpo_config.curriculum.stage1_domains)
        in_stage1 = np.array([d in stage1 for d in domains])
        if self.srpo_sampler.curriculum.stage == 1 and in_stage1.any():
            self.srpo_sampler.curriculum.observe(float(signal[in_stage1].mean()))

        metrics.update(self.srpo_sampler.metrics())
        metrics["srpo/zero_adv_group_frac"] = zero_variance_group_fraction(uids, scores)
        timings = [v or {} for v in data["metrics"]]
        metrics.update(
            reward_tail_metrics(
                [float(t.get("generate_sequences", 0.0)) for t in timings],
                [float(t.get("compute_score", 0.0)) for t in timings],
                domains,
            )
        )
        for domain in sorted(set(domains)):
            mask = np.array([d == domain for d in domains])
            metrics[f"srpo/{reward_key}/{domain}"] = float(signal[mask].mean())
        for report in self.srpo_sampler.reports[self._srpo_reported_epochs :]:
            print(report.summary(), flush=True)
        self._srpo_reported_epochs = len(self.srpo_sampler.reports)
        curriculum = self.srpo_sampler.curriculum
        if self._srpo_reported_stage not in (None, curriculum.stage):
            print(
                f"SRPO curriculum: stage {curriculum.stage} ({', '.join(curriculum.active_domains)}) "
                f"from step {curriculum.switched_at_step}",
                flush=True,
            )
        self._srpo_reported_stage = curriculum.stage
