"""``python -m srpo.main [key=value ...]``: train with SRPO through verl's own trainer.

With no arguments it runs ``configs/embedded.yaml`` (a small model, bundled tasks, CPU). Any other
config in ``configs/`` is chosen with ``--config-name``, and every key can be overridden Hydra-style,
e.g. ``python -m srpo.main --config-name srpo actor_rollout_ref.model.path=/models/qwen``.

The run itself is verl's: ``run_ppo`` with verl's ``TaskRunnerV1``, which builds the trainer named
by ``trainer.v1.trainer_mode`` (``srpo``, registered by our ``verl.plugins`` entry point); the task
runner runs in this process rather than in a Ray actor of its own (``srpo.verl_glue.in_driver``). This
module adds start-up checks that fail fast with one clear message (``srpo.verl_glue.preflight``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


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


def _verbose_from_command_line() -> None:
    """``srpo.verbose=true`` must act before Hydra reads it: composing the config imports verl."""
    if any(arg.lower() in ("srpo.verbose=true", "++srpo.verbose=true") for arg in sys.argv[1:]):
        os.environ["SRPO_VERBOSE"] = "1"


def _transfer_queue_threads() -> str:
    """TransferQueue's thread-pool size: 8 by default, warning at every put and get where the machine
    has fewer physical cores (thousands of lines a run on 2 cores); the machine's own count is what it
    falls back to anyway."""
    import psutil

    return str(min(8, psutil.cpu_count(logical=False) or 1))


def _driver_env() -> None:
    """Environment of this process itself, set before anything imports verl or TransferQueue (which
    reads ``TQ_NUM_THREADS`` once, at import): verl's trainer loop runs here (srpo.verl_glue.in_driver)."""
    os.environ.setdefault("TQ_NUM_THREADS", _transfer_queue_threads())


_select_cpu_platform_without_gpu()
_verbose_from_command_line()
_driver_env()

import contextlib  # noqa: E402

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf, open_dict  # noqa: E402

from srpo.embedded.setup import finish_run, prepare_run  # noqa: E402
from srpo.paths import config_dir  # noqa: E402
from srpo.verl_glue.console import VERBOSE_ENV, ConsoleFilter, verbose  # noqa: E402
from srpo.verl_glue.in_driver import InDriver  # noqa: E402
from srpo.verl_glue.preflight import PreflightError, run_preflight  # noqa: E402

CONFIG_DIR = str(config_dir())
DEFAULT_CONFIG = "embedded"


WORKER_ENV_KEY = "ray_kwargs.ray_init.runtime_env.env_vars"


def set_worker_env(config: DictConfig) -> None:
    """Environment every Ray worker gets (``ray_kwargs.ray_init.runtime_env.env_vars``), unless set.

    * ``TQ_NUM_THREADS``: see ``_transfer_queue_threads``.
    * ``SRPO_VERBOSE``: ``srpo.verbose``, read by the plug-in in each worker (srpo.verl_glue.console).
    """
    env = OmegaConf.select(config, WORKER_ENV_KEY, default=None) or {}
    wanted = {"TQ_NUM_THREADS": _transfer_queue_threads()}
    wanted[VERBOSE_ENV] = os.environ[VERBOSE_ENV] = "1" if run_is_verbose(config) else "0"
    with open_dict(config):
        runtime_env = config.ray_kwargs.ray_init.runtime_env
        if runtime_env.get("env_vars") is None:
            runtime_env.env_vars = {}
        for key, value in wanted.items():
            if key not in env and (key == VERBOSE_ENV or key not in os.environ):
                runtime_env.env_vars[key] = value


def run_is_verbose(config: DictConfig) -> bool:
    return bool(OmegaConf.select(config, "srpo.verbose", default=False)) or verbose()


def _console(config: DictConfig, out_dir: Path) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext() if run_is_verbose(config) else ConsoleFilter(out_dir / "console.log")


def train(config: DictConfig) -> None:
    """Prepare assets, check the config, hand it to verl's PPO runner, then write the report."""
    out_dir = prepare_run(config)
    run_preflight(config)
    from verl.trainer.main_ppo import TaskRunnerV1, run_ppo
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config
    from verl.utils.device import auto_set_device

    from srpo.verl_glue.tq_controller import with_controller_in_driver

    if config.trainer.device == "cpu" and os.environ.get("VERL_PLATFORM") != "cpu":
        raise PreflightError(
            "trainer.device=cpu needs verl's CPU platform in every process: set VERL_PLATFORM=cpu "
            "before starting (srpo.main does it by itself on a machine without GPU)."
        )
    auto_set_device(config)
    set_worker_env(config)
    with _console(config, out_dir):
        validate_config(
            config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config)
        )
        try:
            run_ppo(config, task_runner_class=InDriver(with_controller_in_driver(TaskRunnerV1)))
        finally:
            import ray

            ray.shutdown()  # inside the console filter: the workers' last words go to console.log
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
