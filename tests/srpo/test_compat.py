"""The drift test: every private verl name the SRPO trainer uses still exists in the installed verl."""

from __future__ import annotations

import pytest

from srpo.verl_glue import compat as verl_compat
from srpo.verl_glue.trainer import SRPOTrainer


def test_installed_verl_has_everything_the_trainer_uses():
    assert verl_compat.api_drift() == []


def test_the_trainer_overrides_exactly_the_checked_methods():
    overridden = {
        name
        for name, value in vars(SRPOTrainer).items()
        if callable(value) and name.startswith("_") and not name.startswith("__")
    }
    overridden.discard("_record_outcomes")  # ours, not verl's
    assert overridden <= set(verl_compat.OVERRIDDEN_METHODS)
    assert "on_step_begin" in vars(SRPOTrainer) and "on_step_begin" in verl_compat.OVERRIDDEN_METHODS


class Moved:
    def _init_dataloader(self):
        pass

    def _compute_advantage(self, data, metrics):  # renamed parameter
        pass


def test_signature_drift_names_what_moved():
    problems = verl_compat.signature_drift(Moved, verl_compat.OVERRIDDEN_METHODS)
    assert (
        "Moved._compute_advantage('self', 'data', 'metrics') was _compute_advantage('self', 'batch', 'metrics')"
        in problems
    )
    assert "Moved._build_replay_buffer is gone" in problems and "Moved.on_step_begin is gone" in problems
    assert not any("_init_dataloader" in p for p in problems)


def test_another_verl_version_is_checked_and_refused_on_drift(monkeypatch, caplog):
    verl_compat.check_installed_verl(verl_compat.PINNED_VERL)  # the pinned version: no check, no noise
    verl_compat.check_installed_verl("0.9.2")  # same API: a warning only
    assert "verl 0.9.2 is installed" in caplog.text
    monkeypatch.setattr(verl_compat, "api_drift", lambda: ["PPOTrainerSync._compute_advantage is gone"])
    with pytest.raises(
        RuntimeError, match=r"verl 0\.10\.0 is installed(.|\n)*_compute_advantage is gone(.|\n)*verl==0\.9\.1"
    ):
        verl_compat.check_installed_verl("0.10.0")


def test_replay_poll_interval_is_set_or_refused():
    class Buffer:
        poll_interval = 2.0

    buffer = Buffer()
    verl_compat.set_replay_poll_interval(buffer, 0.1)
    assert buffer.poll_interval == 0.1
    with pytest.raises(RuntimeError, match="has no poll_interval"):
        verl_compat.set_replay_poll_interval(object(), 0.1)


def _trainer_with_fields(monkeypatch, reward_key: str, extra: dict | None = None):
    """An SRPOTrainer shell (no verl start-up) whose TransferQueue read returns two groups of rollouts."""
    import types

    import torch

    from srpo.algorithm.config import load_srpo_config
    from srpo.algorithm.sampler import SRPOSampler
    from srpo.verl_glue import trainer as trainer_module

    cfg = load_srpo_config({"history": {"reward_key": reward_key}})
    sampler = SRPOSampler(["m0", "m1"], ["math", "math"], cfg)
    sampler.draw(2)
    fields = {
        "uid": ["u0", "u0", "u1", "u1"],
        "rm_scores": [
            torch.tensor([0.0, 0.0]),  # verl puts the reward on the last response token
            torch.tensor([0.0, 1.2]),
            torch.tensor([0.0]),
            torch.tensor([0.0]),
        ],
        "extra_fields": [{"reward_extra_info": extra or {}}] * 4,
        "extra_info": [{"prompt_id": p, "domain": "math"} for p in ("m0", "m0", "m1", "m1")],
        "metrics": [{"generate_sequences": 1.0, "compute_score": 0.1}] * 4,
    }
    monkeypatch.setattr(trainer_module, "rollout_fields", lambda batch: fields)
    shell = types.SimpleNamespace(
        srpo_config=cfg, srpo_sampler=sampler, _srpo_reported_epochs=0, _srpo_reported_stage=None
    )
    return shell, sampler


def test_record_outcomes_feeds_history_and_metrics(monkeypatch):
    shell, sampler = _trainer_with_fields(monkeypatch, "score")
    metrics: dict = {}
    SRPOTrainer._record_outcomes(shell, object(), metrics)
    assert metrics["srpo/zero_adv_group_frac"] == 0.5  # u0 mixed, u1 all 0
    assert metrics["srpo/score/math"] == pytest.approx(0.3)
    assert any(k.startswith("srpo/reward_wait/") for k in metrics)
    assert shell._srpo_reported_stage == 1


def test_record_outcomes_names_a_missing_reward_key(monkeypatch):
    shell, _ = _trainer_with_fields(monkeypatch, "acc", extra={"score": 1.0})
    with pytest.raises(
        RuntimeError, match=r"srpo.history.reward_key='acc' is not among the reward function's outputs"
    ):
        SRPOTrainer._record_outcomes(shell, object(), {})
