"""Start-up checks: stop a run before Ray starts, with one message that names the problem and the fix.

A misconfigured RL run otherwise fails minutes later, deep inside a Ray worker, with a traceback
that hides the cause. Everything here runs on the driver in a second or two.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from srpo.config import SRPOConfig, SRPOConfigError, load_srpo_config


class PreflightError(RuntimeError):
    """A configuration or environment problem found before training starts."""


def _files(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, ListConfig | Sequence):
        return [str(v) for v in value]
    return [str(value)]


def check_srpo_section(config: DictConfig) -> SRPOConfig:
    """The ``srpo`` section is well-typed and valid (unknown keys, bad values name the key)."""
    try:
        return load_srpo_config(OmegaConf.select(config, "srpo"))
    except SRPOConfigError as err:
        raise PreflightError(f"{err}. Fix the override or configs/*.yaml.") from None


def check_trainer_wiring(config: DictConfig) -> None:
    """SRPO parts are selected together: the srpo trainer needs verl's v1 trainer."""
    mode = OmegaConf.select(config, "trainer.v1.trainer_mode")
    if mode == "srpo" and not OmegaConf.select(config, "trainer.use_v1", default=True):
        raise PreflightError(
            "trainer.v1.trainer_mode=srpo needs verl's v1 trainer, but trainer.use_v1=false. "
            "Set trainer.use_v1=true."
        )


def check_data_files(config: DictConfig) -> None:
    """Every data file exists and every row follows docs/data_format.md (prompt ids unique per split)."""
    from srpo.data.rows import validate_parquet_files

    for key in ("data.train_files", "data.val_files"):
        paths = [os.path.expanduser(p) for p in _files(OmegaConf.select(config, key))]
        if not paths:
            raise PreflightError(
                f"{key} is empty. Point it at verl-format parquet files (docs/data_format.md)."
            )
        for path in paths:
            if not Path(path).is_file():
                raise PreflightError(
                    f"{key}: no such file {path!r}. Make the embedded data with "
                    "`python scripts/make_embedded_data.py`, convert your own with `python scripts/prepare_data.py`, "
                    f"or override {key}=..."
                )
        try:
            validate_parquet_files(paths)
        except ValueError as err:
            raise PreflightError(f"{key}: {err}") from None


def check_model_path(config: DictConfig) -> None:
    """The policy is a local Hugging Face model directory: srpo never downloads weights."""
    path = OmegaConf.select(config, "actor_rollout_ref.model.path")
    if not path:
        raise PreflightError("actor_rollout_ref.model.path is not set. Point it at a local model directory.")
    model_dir = Path(os.path.expanduser(str(path)))
    if not (model_dir / "config.json").is_file():
        raise PreflightError(
            f"actor_rollout_ref.model.path={path!r} is not a local model directory (no config.json there). "
            "srpo does not download models: build the embedded one with `python scripts/build_base_model.py` "
            "or point the key at a downloaded checkpoint."
        )


def needs_code_sandbox(srpo_config: SRPOConfig) -> bool:
    """Code rewards run in Docker whenever a stage trains on code."""
    cur = srpo_config.curriculum
    domains = set(cur.stage1_domains) | (set() if cur.switch_at == "never" else set(cur.stage2_domains))
    return "code" in domains


SANDBOX_KEY = "reward.custom_reward_function.reward_kwargs.code.sandbox"


def sandbox_image(config: DictConfig) -> str:
    """The sandbox image the code reward will use (``reward_kwargs.sandbox.image`` or the default)."""
    from sandbox import DEFAULT_IMAGE

    image = OmegaConf.select(
        config, "reward.custom_reward_function.reward_kwargs.sandbox.image", default=None
    )
    return str(image or DEFAULT_IMAGE)


def check_sandbox(config: DictConfig) -> None:
    """The Docker daemon answers and the sandbox image exists (only when code rewards are configured)."""
    import docker

    from sandbox.api import IMAGE_BUILD_HINT

    if OmegaConf.select(config, f"{SANDBOX_KEY}.backend", default="docker") != "docker":
        return  # the local backend was asked for explicitly; it warns about its weaker isolation itself
    image = sandbox_image(config)
    why = "code rewards are configured (srpo.curriculum trains on 'code')"
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as err:  # the SDK raises several types for "no daemon"
        raise PreflightError(
            f"{why} but the Docker daemon is not reachable ({type(err).__name__}). "
            "Start it with `bash scripts/start_dockerd.sh`, or train on math only with "
            "srpo.curriculum.switch_at=never."
        ) from None
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise PreflightError(
            f"{why} but the sandbox image {image!r} is missing. Build it with `bash {IMAGE_BUILD_HINT}`."
        ) from None
    finally:
        client.close()


def run_preflight(config: DictConfig) -> SRPOConfig:
    """All start-up checks, cheapest first. Returns the validated SRPO config."""
    srpo_config = check_srpo_section(config)
    check_trainer_wiring(config)
    check_model_path(config)
    check_data_files(config)
    if needs_code_sandbox(srpo_config):
        check_sandbox(config)
    return srpo_config
