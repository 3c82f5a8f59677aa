"""verl on a CPU-only machine, through verl's own plug-in registries.

- ``platform``: the ``cpu`` platform (``VERL_PLATFORM=cpu``) for verl's ``PlatformRegistry``.
- ``device``: the ``torch.cpu``-like device module that platform hands to verl.
- ``engines``: verl's FSDP engines registered for device ``cpu``.
- ``rollout`` / ``vllm_rollout``: verl's vLLM replica and rollout adapter with a weight sync that works
  on vLLM's CPU build, on a socket of the run's own.
- ``shims``: the one compensation for a verl line that has no extension point.
- ``overrides``: the Hydra overrides and environment a CPU run of ``verl.trainer.main_ppo`` needs.
- ``launch``: runs verl's trainer with them (``python -m srpo.cpu.launch``); ``memory`` samples the
  peak memory of the run's process tree.

Nothing here is active unless ``VERL_PLATFORM=cpu``; see ``activate``.
"""

from __future__ import annotations

import os

PLATFORM_NAME = "cpu"


def is_selected() -> bool:
    """True when the process asked verl for the CPU platform (``VERL_PLATFORM=cpu``)."""
    return os.environ.get("VERL_PLATFORM", "").strip().lower() == PLATFORM_NAME


def _register_engines() -> None:
    from srpo.cpu import engines

    engines.register_cpu_engines()


def _register_rollout() -> None:
    from srpo.cpu import rollout

    rollout.register_cpu_rollout()


def _register_rollout_adapter() -> None:
    """verl's ``vllm`` rollout adapter (the FSDP worker's side of the weight sync) -> ours.

    verl looks adapters up by dotted name in ``_ROLLOUT_REGISTRY``, so vLLM stays unimported until a
    worker builds its rollout. (Not in ``rollout``: that module imports verl's replica module, whose
    own import runs this hook.)
    """
    from verl.workers.rollout import base

    base._ROLLOUT_REGISTRY[("vllm", "async")] = "srpo.cpu.vllm_rollout.CPUServerAdapter"


def activate() -> bool:
    """Register the CPU platform always; engines, rollout and shims only when it is selected.

    Returns whether the CPU platform is selected. Registering the platform class alone changes
    nothing elsewhere: it never reports itself available to verl's auto-detection. The engines and
    the rollout are registered when the process imports verl's registry for them
    (``srpo.verl_glue.import_hooks``): most of verl's processes never build an engine.
    """
    from srpo.cpu import platform  # noqa: F401  registers PlatformRegistry["cpu"]

    if not is_selected():
        return False
    from srpo.cpu import shims
    from srpo.verl_glue.import_hooks import after_import

    after_import("verl.workers.engine", _register_engines)
    after_import("verl.workers.rollout.replica", _register_rollout)
    after_import("verl.workers.rollout.base", _register_rollout_adapter)
    shims.install()
    return True
