"""Objects one process shares between its threads (verifier pools, sandboxes), closed at its exit.

A forked child starts with an empty cache: the parent's worker processes and containers belong to
the parent, and closing or reusing them from the child would break both.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> None: ...


K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Closable)


class ProcessCache(Generic[K, V]):
    """One object per key per process, made on first use; every one is closed at interpreter exit."""

    def __init__(self) -> None:
        self._items: dict[K, V] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()
        atexit.register(self.close_all)

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The object for ``key``, made by ``make()`` if this process has none yet."""
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's objects are not ours
                self._items.clear()
                self._pid = os.getpid()
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = make()
            return item

    def close_all(self) -> None:
        """Close and forget every object this process made (a forked child closes nothing of its parent's)."""
        with self._lock:
            items = list(self._items.values()) if self._pid == os.getpid() else []
            self._items.clear()
        for item in items:
            item.close()
