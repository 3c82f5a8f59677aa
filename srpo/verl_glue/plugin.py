"""The one place where srpo registers itself with verl.

verl imports every ``verl.plugins`` entry point when ``verl`` is imported, in every process (driver,
Ray workers). Our entry point names this module, so each registration below is visible everywhere
(the heavier ones when the process imports the verl module they extend, see ``srpo.verl_glue.import_hooks``).
verl swallows plug-in import errors at debug level; here each registration is imported on its own and
a failure is logged as a warning, so one broken part neither hides nor disables the others.
"""

import functools
import importlib
import logging

from srpo.verl_glue.console import quiet_known_warnings
from srpo.verl_glue.import_hooks import after_import

logger = logging.getLogger(__name__)
quiet_known_warnings()  # before the registrations below import verl's engines, which warn

# (module to import, verl module whose import triggers it; None = now)
REGISTRATIONS = (
    # VERL_PLATFORM=cpu: platform, cpu engines, shims (first: before any get_platform())
    ("srpo.cpu.plugin", None),
    ("srpo.verl_glue.estimator", None),  # algorithm.adv_estimator=srpo (light: verl's core_algos)
    # trainer.v1.trainer_mode=srpo, where verl's v1 trainers are loaded (the task runner, the driver's
    # preflight), not in the reward, rollout and storage workers, which would pay ~60 MB each for it
    ("srpo.verl_glue.trainer", "verl.trainer.ppo.v1"),
    # transfer_queue.backend.storage_backend=InProcessSimpleStorage, wherever TransferQueue is loaded
    ("srpo.verl_glue.tq_storage", "transfer_queue"),
)


def _register(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # a plug-in must never break `import verl`
        logger.warning("srpo could not register %s with verl", module, exc_info=True)


for _module, _trigger in REGISTRATIONS:
    if _trigger is None:
        _register(_module)
    else:
        after_import(_trigger, functools.partial(_register, _module))
