"""ProcessCache: one object per key per process; a forked child neither reuses nor closes the parent's."""

from __future__ import annotations

import os

from reward_fns.process_cache import ProcessCache


class Thing:
    def __init__(self) -> None:
        self.closed = False
        self.pid = os.getpid()

    def close(self) -> None:
        self.closed = True


def test_one_object_per_key_closed_together():
    cache: ProcessCache[str, Thing] = ProcessCache()
    a = cache.get("a", Thing)
    assert cache.get("a", Thing) is a and cache.get("b", Thing) is not a
    cache.close_all()
    assert a.closed
    assert cache.get("a", Thing) is not a  # made again after close_all


def test_forked_child_starts_empty_and_leaves_the_parents_objects_open():
    cache: ProcessCache[str, Thing] = ProcessCache()
    parent = cache.get("a", Thing)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports whether it got its own object, then closes all of its own
        try:
            mine = cache.get("a", Thing)
            ok = mine is not parent and mine.pid == os.getpid()
            cache.close_all()
            ok = ok and mine.closed and not parent.closed
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"1"
    os.waitpid(pid, 0)
    assert not parent.closed and cache.get("a", Thing) is parent
    cache.close_all()
