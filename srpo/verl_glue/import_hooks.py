"""Run a registration when (and only if) a process imports the verl module it extends.

verl loads our plug-in in every process that imports verl: the driver, the trainer, the FSDP and
vLLM workers, the reward, agent-loop and load-balancer actors. Registering everything eagerly made
each of them import verl's FSDP engines and trainer (~0.2 GB and ~5 s per process) although only
some ever look them up. ``after_import("verl.workers.engine", register)`` instead runs ``register``
right after that module finishes loading, in the processes that load it, which are exactly those
that can consult the registry; if the module is already loaded it runs at once.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

_lock = threading.Lock()


class _HookedLoader(importlib.abc.Loader):
    """The module's own loader, plus the callbacks once the module has executed."""

    def __init__(self, loader: Any, name: str, callbacks: Sequence[Callable[[], object]]) -> None:
        self._loader = loader
        self._name = name
        self._callbacks = list(callbacks)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        for callback in self._callbacks:
            _run(self._name, callback)

    def __getattr__(self, attr: str) -> Any:  # get_source, get_filename, is_package, resources ...
        return getattr(self._loader, attr)


class _AfterImportFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader other finders return for a watched module."""

    def __init__(self) -> None:
        self.pending: dict[str, list[Callable[[], object]]] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        with _lock:
            callbacks = self.pending.pop(fullname, None)
        if callbacks is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _HookedLoader(spec.loader, fullname, callbacks)
                return spec
        return None


_finder = _AfterImportFinder()


def _run(name: str, callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:  # a plug-in registration must never break the import that triggered it
        logger.warning("srpo: registration after importing %s failed", name, exc_info=True)


def after_import(module: str, callback: Callable[[], object]) -> None:
    """Call ``callback`` once ``module`` is imported in this process (now, if it already is)."""
    if module in sys.modules:
        _run(module, callback)
        return
    with _lock:
        _finder.pending.setdefault(module, []).append(callback)
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
