"""Reward config: defaults, reward_kwargs parsing and errors that name the bad key."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from reward_fns.config import FORMAT_TEMPLATES, RewardConfig, RewardConfigError, reward_config_from_kwargs


def test_defaults():
    cfg = reward_config_from_kwargs({})
    assert cfg == RewardConfig()
    assert cfg.weights.accuracy == 1.0 and not cfg.code.partial_credit
    assert cfg.template_regex("math") == FORMAT_TEMPLATES["boxed"]


def test_nested_values_from_hydra_containers():
    kwargs = OmegaConf.create(
        {
            "weights": {"accuracy": 2, "format": 0.5},
            "math": {"timeout_s": 3, "mode": "lenient"},
            "code": {"partial_credit": True, "sandbox": {"pool_size": 2}},
            "format": {"math_template": "think_boxed", "code_template": r"^```"},
        }
    )
    cfg = reward_config_from_kwargs(dict(kwargs))
    assert cfg.weights.accuracy == 2.0 and isinstance(cfg.weights.accuracy, float)
    assert cfg.math.timeout_s == 3.0 and cfg.math.mode == "lenient"
    assert cfg.code.partial_credit and cfg.code.sandbox == {"pool_size": 2}
    assert cfg.template_regex("math") == FORMAT_TEMPLATES["think_boxed"]
    assert cfg.template_regex("code") == r"^```"


def test_verl_passthrough_keys_are_ignored():
    """verl adds these to reward_kwargs itself: they must neither fail validation nor change the config."""
    got = reward_config_from_kwargs(
        {"reward_router_address": "x", "reward_model_tokenizer": None, "weights": {"format": 0.5}}
    )
    assert got == reward_config_from_kwargs({"weights": {"format": 0.5}})
    assert got.weights.format == 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight": {}}, "'weight'"),
        ({"weights": {"acuracy": 1}}, "'weights.acuracy'"),
        ({"math": {"timeout": 1}}, "'math.timeout'"),
        ({"weights": {"format": "high"}}, "'weights.format' must be a number"),
        ({"code": {"partial_credit": 1}}, "'code.partial_credit' must be true/false"),
        ({"weights": {"language": -1}}, "'weights.language' must be >= 0"),
        ({"math": {"timeout_s": 0}}, "'math.timeout_s' must be > 0"),
        ({"math": {"timeout_s": 20}}, "'math.wall_timeout_s' must be >= 'math.timeout_s'"),
        ({"math": {"mode": "loose"}}, "'math.mode' must be one of ('strict', 'lenient')"),
        ({"math": {"float_rounding": 40}}, "'math.float_rounding' must be in 0..15"),
        ({"math": {"answer_patterns": ["ANS=(.*)"]}}, "unknown reward config key 'math.answer_patterns'"),
        ({"format": {"math_template": "(bad"}}, "'format.math_template' is neither a template name"),
        ({"weights": 3}, "section 'weights' must be a mapping"),
        ({"code": {"reuse_results": -1}}, "'code.reuse_results' must be >= 0"),
        (
            {"code": {"partial_credit": True, "sandbox": {"fail_fast": True}}},
            "'code.sandbox.fail_fast' must be false with code.partial_credit=true",
        ),
    ],
)
def test_errors_name_the_key(kwargs, message):
    with pytest.raises(RewardConfigError) as err:
        reward_config_from_kwargs(kwargs)
    assert message in str(err.value)


def test_worker_count_env_override(monkeypatch):
    cfg = reward_config_from_kwargs({"math": {"workers": 3}})
    assert cfg.math_workers() == 3
    monkeypatch.setenv("SRPO_REWARD_WORKERS", "1")
    assert cfg.math_workers() == 1


def test_fail_fast_follows_partial_credit_unless_set():
    assert reward_config_from_kwargs({}).code.sandbox_options() == {"fail_fast": True}
    partial = reward_config_from_kwargs({"code": {"partial_credit": True, "sandbox": {"pool_size": 2}}})
    assert partial.code.sandbox_options() == {"fail_fast": False, "pool_size": 2}
    kept = reward_config_from_kwargs({"code": {"sandbox": {"fail_fast": False}}})
    assert kept.code.sandbox_options() == {"fail_fast": False}
