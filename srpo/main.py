"""``python -m srpo.main [key=value ...]``: train with SRPO through verl's own trainer.

With no arguments it runs ``configs/embedded.yaml`` (a small model, bundled tasks, CPU). Any other
config in ``configs/`` is chosen with ``--config-name``, and every key can be overridden Hydra-style,
e.g. ``python -m srpo.main --config-name srpo actor_rollout_ref.model.path=/models/qwen``.

The run itself is verl's: ``run_ppo`` with verl's ``TaskRunnerV1``, which builds the trainer named
by ``trainer.v1.trainer_mode`` (``srpo``, registered by our ``verl.plugins`` entry point). This
module adds start-up checks that fail fast with one clear message (``srpo.preflight``).
"""

from __future__ import annotations

import os
import sys


def _select_cpu_platform_without_gpu() -> None:
    """On a machine without GPU, choose verl's CPU platform (srpo/cpu) before anything imports verl.

    verl resolves its platform once per process, at first use, and without an accelerator falls back
    to 'nvidia'; Hydra imports verl while composing the config, so this must happen first. Every Ray
    worker inherits the environment from this process.
    """
    if "VERL_PLATFORM" in os.environ:
        return
    import torch

    if not torch.cuda.is_available():
        from srpo.cpu.overrides import cpu_env

        os.environ.update(cpu_env())


_select_cpu_platform_without_gpu()

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from srpo.embedded_setup import finish_run, prepare_run  # noqa: E402
from srpo.paths import config_dir  # noqa: E402
from srpo.preflight import PreflightError, run_preflight  # noqa: E402

CONFIG_DIR = str(config_dir())
DEFAULT_CONFIG = "embedded"


def train(config: DictConfig) -> None:
    """Prepare assets, check the config, hand it to verl's PPO runner, then write the report."""
    out_dir = prepare_run(config)
    run_preflight(config)
    from verl.trainer.main_ppo import TaskRunnerV1, run_ppo
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config
    from verl.utils.device import auto_set_device

    if config.trainer.device == "cpu" and os.environ.get("VERL_PLATFORM") != "cpu":
        raise PreflightError(
            "trainer.device=cpu needs verl's CPU platform in every process: set VERL_PLATFORM=cpu "
            "before starting (srpo.main does it by itself on a machine without GPU)."
        )
    auto_set_device(config)
    validate_config(
        config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config)
    )
    run_ppo(config, task_runner_class=TaskRunnerV1)
    finish_run(out_dir)


@hydra.main(config_path=CONFIG_DIR, config_name=DEFAULT_CONFIG, version_base=None)
def main(config: DictConfig) -> None:
    try:
        train(config)
    except PreflightError as err:
        print(f"srpo: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
