"""Start-up checks: stop a run before Ray starts, with one message that names the problem and the fix.

A misconfigured RL run otherwise fails minutes later, deep inside a Ray worker, with a traceback
that hides the cause. Everything here runs on the driver in a second or two.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from srpo.algorithm.config import SRPOConfig, SRPOConfigError, load_srpo_config


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


def check_transfer_queue(config: DictConfig) -> None:
    """The controller in the driver (srpo.verl_glue.tq_controller) has no Prometheus exporter."""
    in_driver = OmegaConf.select(config, "transfer_queue.controller.in_driver", default=False)
    if in_driver and OmegaConf.select(config, "transfer_queue.metrics.enabled", default=False):
        raise PreflightError(
            "transfer_queue.metrics.enabled=true needs TransferQueue's controller actor (its Prometheus "
            "exporter is a Ray method of it), but transfer_queue.controller.in_driver=true runs the controller "
            "in the driver. Set one of them to false."
        )


def _unknown_name(key: str, value: Any, valid: Collection[str], what: str) -> PreflightError:
    close = difflib.get_close_matches(str(value), list(valid), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return PreflightError(
        f"{key}={value!r} is not a registered {what}; valid: {', '.join(sorted(valid))}.{hint}"
    )


def check_registered_names(config: DictConfig) -> None:
    """The advantage estimator and trainer mode are in verl's registries (ours come from the plug-in).

    verl looks both up only inside the Ray task runner, a minute or more after start; the registries
    are the same dicts verl reads, filled by ``import verl`` (which loads our ``verl.plugins`` entry).
    """
    import verl  # noqa: F401  (loads the verl.plugins entry points, ours included)
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY
    from verl.trainer.ppo.v1 import trainer_base

    not_loaded = (
        " srpo's own names are missing: its verl plug-in did not load (see the warning above; is srpo "
        "installed in this environment, `pip install -e .`?)."
    )
    estimator = OmegaConf.select(config, "algorithm.adv_estimator")
    if estimator not in ADV_ESTIMATOR_REGISTRY:
        err = _unknown_name(
            "algorithm.adv_estimator", estimator, ADV_ESTIMATOR_REGISTRY, "advantage estimator"
        )
        raise PreflightError(f"{err}{not_loaded if 'srpo' not in ADV_ESTIMATOR_REGISTRY else ''}")
    if not OmegaConf.select(config, "trainer.use_v1", default=True):
        return
    mode = OmegaConf.select(config, "trainer.v1.trainer_mode")
    if mode not in trainer_base.TRAINER_REGISTRY:
        err = _unknown_name("trainer.v1.trainer_mode", mode, trainer_base.TRAINER_REGISTRY, "verl trainer")
        raise PreflightError(f"{err}{not_loaded if 'srpo' not in trainer_base.TRAINER_REGISTRY else ''}")


REWARD_KEY = "reward.custom_reward_function"
OUR_REWARD_MODULE = "reward_fns.dispatch"


def check_reward_function(config: DictConfig) -> None:
    """The custom reward function loads the way verl will load it; our own also gets its kwargs validated."""
    from verl.utils.import_utils import load_extern_object

    path = OmegaConf.select(config, f"{REWARD_KEY}.path")
    if not path:
        return  # verl's built-in scorers by data_source
    name = OmegaConf.select(config, f"{REWARD_KEY}.name", default=None) or "compute_score"
    try:
        fn = load_extern_object(module_path=str(path), object_name=str(name))
    except Exception as err:  # verl's loader raises FileNotFoundError, ImportError, AttributeError, ...
        raise PreflightError(
            f"{REWARD_KEY}.path={path!r} (name={name!r}) does not load: {type(err).__name__}: {err}. "
            f"srpo's rewards are {REWARD_KEY}.path=pkg://{OUR_REWARD_MODULE}."
        ) from None
    if not callable(fn):
        raise PreflightError(f"{REWARD_KEY}.name={name!r} in {path!r} is not a function")
    if getattr(fn, "__module__", None) != OUR_REWARD_MODULE:
        return
    from reward_fns.config import RewardConfigError, reward_config_from_kwargs

    kwargs = OmegaConf.select(config, f"{REWARD_KEY}.reward_kwargs", default=None)
    try:
        reward_config_from_kwargs(OmegaConf.to_container(kwargs, resolve=True) if kwargs is not None else {})
    except RewardConfigError as err:
        raise PreflightError(f"{REWARD_KEY}.reward_kwargs: {err}") from None


def check_reward_workers(config: DictConfig) -> None:
    """``reward.num_workers=0`` (score in the agent loop, srpo.verl_glue.local_reward): srpo's trainer, no reward model."""
    workers = OmegaConf.select(config, "reward.num_workers", default=None)
    if workers is None:
        return
    if int(workers) < 0:
        raise PreflightError(
            f"reward.num_workers={workers}: must be >= 0 (0 = score in the agent loop worker)"
        )
    if int(workers) == 0 and OmegaConf.select(config, "reward.reward_model.enable", default=False):
        raise PreflightError(
            "reward.num_workers=0 scores rule-based rewards in the agent loop worker, but "
            "reward.reward_model.enable=true needs verl's reward workers: set reward.num_workers >= 1."
        )
    if int(workers) == 0:
        from verl.trainer.ppo.v1.trainer_base import TRAINER_REGISTRY

        from srpo.verl_glue.trainer import SRPOTrainer

        mode = OmegaConf.select(config, "trainer.v1.trainer_mode")
        if not issubclass(TRAINER_REGISTRY[mode], SRPOTrainer):
            raise PreflightError(
                f"reward.num_workers=0 scores rewards in the agent loop worker, which srpo's trainer arranges "
                f"(trainer.v1.trainer_mode=srpo); trainer.v1.trainer_mode={mode!r} would give the agent loop "
                "no reward worker at all: set reward.num_workers >= 1 or trainer.v1.trainer_mode=srpo."
            )


def check_finished_output(config: DictConfig) -> None:
    """Refuse to "resume" a run that already reached its last step.

    With ``trainer.resume_mode=auto`` verl resumes from the newest checkpoint; when that checkpoint is
    the last step, it trains nothing and the report repeats the old run's table as if it were new.
    """
    if OmegaConf.select(config, "trainer.resume_mode", default="auto") != "auto":
        return
    if OmegaConf.select(config, "trainer.val_only", default=False):
        return
    total = OmegaConf.select(config, "trainer.total_training_steps", default=None)
    ckpt_dir = OmegaConf.select(config, "trainer.default_local_dir", default=None)
    if total is None or not ckpt_dir:
        return
    tracker = Path(os.path.expanduser(str(ckpt_dir))) / "latest_checkpointed_iteration.txt"
    try:
        step = int(tracker.read_text().strip())
    except (OSError, ValueError):
        return
    if step >= int(total) and (tracker.parent / f"global_step_{step}").is_dir():
        where = OmegaConf.select(config, "output_dir", default=None) or ckpt_dir
        raise PreflightError(
            f"{where} holds a finished run at step {step} (trainer.total_training_steps={total}); "
            "pass output_dir=... or trainer.resume_mode=disable to train again, or raise "
            "trainer.total_training_steps to train on from it."
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
    """The sandbox image the code reward will use (``reward_kwargs.code.sandbox.image`` or the default)."""
    from sandbox import DEFAULT_IMAGE

    image = OmegaConf.select(config, f"{SANDBOX_KEY}.image", default=None)
    return str(image or DEFAULT_IMAGE)


def check_sandbox(config: DictConfig) -> None:
    """The Docker daemon answers and the sandbox image exists (only when code rewards are configured)."""
    import docker

    from sandbox import DEFAULT_IMAGE
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
            f"{why} but the sandbox image {image!r} ({SANDBOX_KEY}.image) is missing. "
            f"Build it with `bash {IMAGE_BUILD_HINT}{'' if image == DEFAULT_IMAGE else f' --image {image}'}`."
        ) from None
    finally:
        client.close()


def run_preflight(config: DictConfig) -> SRPOConfig:
    """All start-up checks, cheapest first. Returns the validated SRPO config."""
    srpo_config = check_srpo_section(config)
    check_trainer_wiring(config)
    check_transfer_queue(config)
    check_finished_output(config)
    check_model_path(config)
    check_registered_names(config)
    check_reward_function(config)
    check_reward_workers(config)
    check_data_files(config)
    if needs_code_sandbox(srpo_config):
        check_sandbox(config)
    return srpo_config
