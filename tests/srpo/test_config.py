"""Bad SRPO settings are rejected at start-up with an error naming the key."""

import pytest
from omegaconf import OmegaConf

from srpo.algorithm.config import SRPOConfig, SRPOConfigError, load_srpo_config


def test_defaults_are_the_papers():
    cfg = load_srpo_config(None)
    assert cfg == SRPOConfig()
    assert cfg.history.keep_all_wrong is True
    assert cfg.history.readmit_after_epochs == 0
    assert cfg.curriculum.stage1_domains == ["math"]
    assert cfg.curriculum.stage2_domains == ["math", "code"]


def test_overrides_merge():
    cfg = load_srpo_config(
        OmegaConf.create({"history": {"keep_all_wrong": False}, "curriculum": {"switch_step": 7}})
    )
    assert cfg.history.keep_all_wrong is False
    assert cfg.curriculum.switch_step == 7


@pytest.mark.parametrize(
    ("node", "key"),
    [
        ({"history": {"success_threshold": -0.5}}, "srpo.history.success_threshold"),
        ({"history": {"min_pool_size": 0}}, "srpo.history.min_pool_size"),
        ({"history": {"readmit_after_epochs": -1}}, "srpo.history.readmit_after_epochs"),
        ({"history": {"refill": "sometimes"}}, "srpo.history.refill"),
        ({"history": {"max_all_wrong_epochs": -1}}, "srpo.history.max_all_wrong_epochs"),
        ({"history": {"too_easy_epochs": 0}}, "srpo.history.too_easy_epochs"),
        (
            {"history": {"max_all_wrong_epochs": 2, "keep_all_wrong": False}},
            "srpo.history.max_all_wrong_epochs",
        ),
        ({"history": {"fill_batch": "sometimes"}}, "srpo.history.fill_batch"),  # wrong type
        ({"curriculum": {"stage2_domains": ["math", "poetry"]}}, "srpo.curriculum.stage2_domains"),
        ({"curriculum": {"stage1_domains": ["chess"]}}, "srpo.curriculum.stage1_domains"),
        (
            {"curriculum": {"stage1_domains": ["code"], "stage2_domains": ["math"]}},
            "srpo.curriculum.stage2_domains",
        ),
        ({"curriculum": {"switch_step": 0}}, "srpo.curriculum.switch_step"),
        ({"curriculum": {"switch_at": "epoch", "switch_epoch": 0}}, "srpo.curriculum.switch_epoch"),
        ({"curriculum": {"mixture": "random"}}, "srpo.curriculum.mixture"),
        ({"curriculum": {"domain_weights": {"math": -1.0}}}, "srpo.curriculum.domain_weights.math"),
        ({"curriculum": {"domain_weights": {"art": 1.0}}}, "srpo.curriculum.domain_weights"),
        ({"replay_poll_interval_s": 0}, "srpo.replay_poll_interval_s"),
        ({"histroy": {"enable": False}}, "histroy"),  # typo in a key
        ({"history": {"min_pool_size": "many"}}, "srpo.history.min_pool_size"),  # wrong type
    ],
)
def test_bad_values_name_the_key(node, key):
    with pytest.raises(SRPOConfigError) as err:
        load_srpo_config(OmegaConf.create(node))
    assert key in str(err.value)
