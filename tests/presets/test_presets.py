"""Every preset in configs/presets composes over configs/srpo.yaml and passes the checks that run
without GPUs: SRPO's own config, verl's validate_config and config dataclasses, the reward's
kwargs, and the batch-size / parallelism arithmetic of tests/presets/batch_math.py.

Cost: one Hydra initialisation (~5-20 s, it imports verl's config package) and ~1 s per compose.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from srpo.algorithm.config import load_srpo_config
from srpo.main import CONFIG_DIR
from srpo.verl_glue.preflight import PreflightError, run_preflight
from tests.presets.batch_math import QWEN25, batch_problems

PRESET_DIR = Path(CONFIG_DIR) / "presets"
PRESETS = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
DUMMIES = [
    "actor_rollout_ref.model.path=/models/base",
    "data.train_files=[/data/train.parquet]",
    "data.val_files=[/data/test.parquet]",
]


def _scale(preset: str) -> str:
    return preset.rsplit("_stage", 1)[0]


@pytest.fixture(scope="module")
def hydra_ctx() -> Iterator[None]:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        yield


def _compose(preset: str, *overrides: str) -> DictConfig:
    return compose(config_name="srpo", overrides=[f"+presets={preset}", *overrides])


def test_every_scale_has_both_stages():
    assert len(PRESETS) == 6, PRESETS
    for scale in QWEN25:
        assert {f"{scale}_stage1", f"{scale}_stage2"} <= set(PRESETS), scale


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_composes_and_validates(hydra_ctx, preset: str):
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config
    from verl.workers.config import FSDPActorConfig, RolloutConfig

    cfg = _compose(preset, *DUMMIES)
    # the only key left missing is verl's own, for a reward model SRPO does not use
    assert set(OmegaConf.missing_keys(cfg)) <= {"reward.reward_model.rollout.name"}

    # SRPO's section and the paper's fixed choices survive the preset
    srpo = load_srpo_config(cfg.srpo)
    assert cfg.trainer.v1.trainer_mode == "srpo"
    assert cfg.algorithm.adv_estimator == "srpo" and not cfg.algorithm.use_kl_in_reward
    assert not cfg.actor_rollout_ref.actor.use_kl_loss
    assert cfg.actor_rollout_ref.actor.loss_agg_mode == "token-mean"
    assert list(cfg.actor_rollout_ref.actor.optim.betas) == [0.9, 0.95]
    assert cfg.actor_rollout_ref.rollout.name == "vllm"

    # verl's own start-up validation and its typed configs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # need_critic warns that GAE is off, which is intended
        validate_config(cfg, need_reference_policy(cfg), need_critic(cfg))
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    assert isinstance(actor, FSDPActorConfig) and actor.engine.strategy == "fsdp2"
    assert isinstance(omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout), RolloutConfig)
    assert isinstance(omega_conf_to_dataclass(cfg.algorithm), AlgoConfig)

    # the reward's kwargs and, for code, the sandbox settings are accepted by their own parsers
    from reward_fns.config import reward_config_from_kwargs
    from sandbox import SandboxConfig

    node = OmegaConf.select(cfg, "reward.custom_reward_function.reward_kwargs")
    kwargs = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    reward = reward_config_from_kwargs(kwargs)
    SandboxConfig(**dict(reward.code.sandbox))

    # batch sizes and parallel sizes fit together for this scale's model
    assert batch_problems(cfg, QWEN25[_scale(preset)]) == []

    # the stage decides the domains
    if preset.endswith("stage1"):
        assert srpo.curriculum.stage1_domains == ["math"] and srpo.curriculum.switch_at == "never"
    else:
        assert "code" in srpo.curriculum.stage1_domains and srpo.curriculum.switch_at == "never"
        assert reward.code.sandbox.get("backend") == "docker"


def test_paper_preset_is_the_paper_batch(hydra_ctx):
    cfg = _compose("32b_paper_stage1", *DUMMIES)
    assert (cfg.data.train_batch_size, cfg.actor_rollout_ref.rollout.n) == (256, 32)
    assert cfg.data.max_response_length >= 8192
    assert cfg.trainer.nnodes > 1


@pytest.mark.parametrize("nnodes", [4, 8, 16])
def test_paper_preset_divides_at_other_cluster_sizes(hydra_ctx, nnodes: int):
    cfg = _compose(
        "32b_paper_stage2", *DUMMIES, f"trainer.nnodes={nnodes}", f"reward.num_workers={4 * nnodes}"
    )
    assert batch_problems(cfg, QWEN25["32b_paper"]) == []


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("actor_rollout_ref.rollout.tensor_model_parallel_size=3", "vLLM replica"),
        ("actor_rollout_ref.actor.ppo_mini_batch_size=48", "multiple of ppo_mini_batch_size"),
        ("actor_rollout_ref.actor.ppo_max_token_len_per_gpu=1024", "cannot hold one prompt"),
        ("actor_rollout_ref.actor.ulysses_sequence_parallel_size=3", "ulysses_sequence_parallel_size=3"),
        ("trainer.nnodes=3", "split evenly"),
    ],
)
def test_batch_math_catches_bad_numbers(hydra_ctx, override: str, fragment: str):
    cfg = _compose("7b_8gpu_stage1", *DUMMIES, override)
    problems = batch_problems(cfg, QWEN25["7b_8gpu"])
    assert any(fragment in p for p in problems), problems


def test_one_run_hand_off_composes(hydra_ctx):
    """The one-run form (docs/scaling.md): a stage-2 preset from the base model, math first, then a switch."""
    cfg = _compose(
        "7b_8gpu_stage2",
        *DUMMIES,
        "srpo.curriculum.stage1_domains=[math]",
        "srpo.curriculum.switch_at=step",
        "srpo.curriculum.switch_step=200",
        "srpo.curriculum.mixture=adaptive",
        "trainer.experiment_name=srpo-7b-one-run",
    )
    srpo = load_srpo_config(cfg.srpo)
    assert srpo.curriculum.stage1_domains == ["math"]
    assert srpo.curriculum.stage2_domains == ["math", "code"]
    assert (srpo.curriculum.switch_at, srpo.curriculum.switch_step) == ("step", 200)
    assert cfg.reward.custom_reward_function.reward_kwargs.code.sandbox.backend == "docker"


def test_paths_must_be_given(hydra_ctx):
    """Without model and data paths a preset stops in preflight, naming the key (not verl's examples)."""
    cfg = _compose("small_1gpu_stage1")
    assert cfg.actor_rollout_ref.model.path is None and cfg.data.train_files is None
    with pytest.raises(PreflightError, match="actor_rollout_ref.model.path"):
        run_preflight(cfg)


def test_stage1_checkpoints_can_seed_stage2(hydra_ctx):
    """Stage 2 starts from stage 1's HF export: the 1- and 8-GPU stage-1 presets write it."""
    for scale in ("small_1gpu", "7b_8gpu"):
        ckpt = _compose(f"{scale}_stage1", *DUMMIES).actor_rollout_ref.actor.checkpoint
        assert "hf_model" in ckpt.save_contents and "hf_model" not in ckpt.load_contents
