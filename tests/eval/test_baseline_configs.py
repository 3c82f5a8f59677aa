"""Every baseline of the comparison study composes over the training config and has a valid srpo section."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from srpo.algorithm.config import load_srpo_config

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")
BASELINES = sorted(p.stem for p in (Path(CONFIG_DIR) / "baselines").glob("*.yaml"))


def _compose(name: str, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        return compose(config_name=name, overrides=list(overrides))


def test_the_study_methods_exist() -> None:
    assert {"grpo", "dapo", "srpo", "srpo_drop_all_wrong", "srpo_one_stage", "grpo_skip"} <= set(BASELINES)


@pytest.mark.parametrize("name", BASELINES)
def test_composes_with_valid_srpo_section(name: str) -> None:
    cfg = _compose("embedded", f"+baselines={name}", "srpo.seed=3")
    srpo = load_srpo_config(cfg.srpo)
    assert srpo.seed == 3
    # Same engine and budget as the embedded training run.
    embedded = _compose("embedded")
    assert cfg.trainer.v1.trainer_mode == "srpo"
    for key in ("total_training_steps", "test_freq"):
        assert cfg.trainer[key] == embedded.trainer[key]
    assert cfg.data.train_batch_size == embedded.data.train_batch_size
    assert cfg.actor_rollout_ref.rollout.n == embedded.actor_rollout_ref.rollout.n
    assert cfg.output_dir == f"runs/baselines/{name}"


def test_methods_differ_where_they_should() -> None:
    cfgs = {
        n: _compose("embedded", f"+baselines={n}")
        for n in ("grpo", "dapo", "srpo", "srpo_drop_all_wrong", "srpo_one_stage", "grpo_skip")
    }
    srpo = {n: load_srpo_config(c.srpo) for n, c in cfgs.items()}
    assert cfgs["grpo"].algorithm.adv_estimator == "grpo" and not srpo["grpo"].history.enable
    assert not cfgs["grpo"].algorithm.filter_groups.enable
    assert (
        cfgs["dapo"].algorithm.filter_groups.enable and cfgs["dapo"].algorithm.filter_groups.metric == "acc"
    )
    assert not srpo["dapo"].history.enable
    assert srpo["srpo"].history.enable and srpo["srpo"].history.keep_all_wrong
    assert cfgs["srpo"].algorithm.adv_estimator == "srpo" and not cfgs["srpo"].algorithm.filter_groups.enable
    assert not srpo["srpo_drop_all_wrong"].history.keep_all_wrong
    one = srpo["srpo_one_stage"].curriculum
    assert one.switch_at == "never" and set(one.stage1_domains) == {"math", "code"}
    assert srpo["srpo"].curriculum.stage1_domains == ["math"]
    # grpo_skip = grpo + pre-rollout skipping, which no other method turns on
    assert [n for n, c in srpo.items() if c.skipping.enable] == ["grpo_skip"]
    assert cfgs["grpo_skip"].algorithm.adv_estimator == "grpo" and not srpo["grpo_skip"].history.enable
    assert not cfgs["grpo_skip"].algorithm.filter_groups.enable
    assert srpo["grpo_skip"].curriculum == srpo["grpo"].curriculum


def test_eval_config_overlay_and_override_order() -> None:
    from srpo.eval import load_eval_config

    cfg = load_eval_config("embedded", ["eval.ks=[1,4]", "output_dir=/tmp/e", "trainer.val_only=false"])
    assert list(cfg.eval.ks) == [1, 4] and cfg.eval.reward_key == "acc"
    assert cfg.output_dir == "/tmp/e"  # the command line wins over eval.yaml ...
    assert cfg.trainer.validation_data_dir == "/tmp/e/generations"  # ... and interpolations follow it
    assert cfg.trainer.val_only is False
    assert cfg.trainer.val_before_train and cfg.actor_rollout_ref.rollout.val_kwargs.do_sample
    assert cfg.actor_rollout_ref.rollout.val_kwargs.n == 8  # from eval.yaml over embedded's 1
    assert cfg.trainer.total_training_steps == 40  # the rest is embedded's
    kwargs = cfg.reward.custom_reward_function.reward_kwargs
    assert kwargs.math.mode == "lenient" and kwargs.code.sandbox.pool_size == 2  # both layers kept
    load_srpo_config(cfg.srpo)


def test_eval_rejects_k_above_samples() -> None:
    from srpo.eval import EvalError, load_eval_config, run_eval

    cfg = load_eval_config("embedded", ["eval.ks=[1,16]"])
    with pytest.raises(EvalError, match="val_kwargs.n >= 16"):
        run_eval(cfg)
