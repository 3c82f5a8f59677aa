"""The one place where srpo registers itself with verl.

verl imports every ``verl.plugins`` entry point when ``verl`` is imported, in every process (driver,
Ray workers). Our entry point names this module, so each registration below is visible everywhere.
verl swallows plug-in import errors (logged at debug level), so this module must stay import-safe.
"""

from srpo import advantage  # noqa: F401  registers algorithm.adv_estimator=srpo
