"""The one place where srpo registers itself with verl.

verl imports every ``verl.plugins`` entry point when ``verl`` is imported, in every process (driver,
Ray workers). Our entry point names this module, so each registration below is visible everywhere.
verl swallows plug-in import errors at debug level; here each registration is imported on its own and
a failure is logged as a warning, so one broken part neither hides nor disables the others.
"""

import importlib
import logging

from srpo.console import quiet_known_warnings

logger = logging.getLogger(__name__)
quiet_known_warnings()  # before the registrations below import verl's engines, which warn

REGISTRATIONS = (
    "srpo.cpu.plugin",  # VERL_PLATFORM=cpu: platform, cpu engines, shims (first: before any get_platform())
    "srpo.advantage",  # algorithm.adv_estimator=srpo
    "srpo.trainer",  # trainer.v1.trainer_mode=srpo
)

for _module in REGISTRATIONS:
    try:
        importlib.import_module(_module)
    except Exception:  # a plug-in must never break `import verl`
        logger.warning("srpo could not register %s with verl", _module, exc_info=True)
