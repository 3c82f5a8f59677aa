"""The worker pool's hard bounds: time, memory, crashes, threads. Costs about 15 s."""

from __future__ import annotations

import threading
import time

import pytest

from reward_fns.bounded import BoundedPool
from tests.reward_fns import _tasks


@pytest.fixture(scope="module")
def pool():
    p = BoundedPool(workers=2, timeout_s=1.5, memory_mb=512)
    yield p
    p.close()


def test_returns_value(pool):
    r = pool.run(_tasks.echo, {"a": [1, 2]})
    assert r.ok and r.value == {"a": [1, 2]} and r.reason == ""


def test_timeout_kills_and_replaces_worker(pool):
    before = pool.replacements
    start = time.monotonic()
    r = pool.run(_tasks.spin_forever)
    elapsed = time.monotonic() - start
    assert not r.ok and r.reason == "timeout"
    assert 1.4 <= elapsed < 3.0
    assert pool.replacements == before + 1
    # the pool still answers afterwards, on a fresh worker
    assert pool.run(_tasks.echo, 7).value == 7


def test_per_call_timeout_override(pool):
    assert pool.run(_tasks.sleep, 0.3, timeout_s=0.1).reason == "timeout"
    assert pool.run(_tasks.sleep, 0.3, timeout_s=1.0).value == "woke"


def test_memory_bound(pool):
    r = pool.run(_tasks.allocate, 2048)
    assert not r.ok and r.reason == "memory"
    assert pool.run(_tasks.allocate, 16).value == 16 * 1024 * 1024


def test_task_exception_is_a_result(pool):
    r = pool.run(_tasks.fail)
    assert not r.ok and r.reason.startswith("error: ValueError") and "bad input 42" in r.reason


def test_recursion_is_a_result(pool):
    r = pool.run(_tasks.recurse, 0)
    assert not r.ok and "RecursionError" in r.reason


def test_worker_death_is_a_result(pool):
    r = pool.run(_tasks.die)
    assert not r.ok and r.reason == "worker_crashed"
    assert pool.run(_tasks.echo, "alive").value == "alive"


def test_partial_results_survive_timeout(pool):
    r = pool.run(_tasks.partial_then_hang, timeout_s=0.5)
    assert not r.ok and r.reason == "timeout" and r.value == "second"


def test_usable_from_many_threads(pool):
    results: dict[int, object] = {}

    def call(i: int) -> None:
        results[i] = pool.run(_tasks.echo, i).value

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == {i: i for i in range(12)}


def test_map_runs_in_parallel_and_keeps_order(pool):
    start = time.monotonic()
    out = pool.map(_tasks.sleep, [(0.5,), (0.5,)])
    assert [r.value for r in out] == ["woke", "woke"]
    assert time.monotonic() - start < 0.95  # two workers: both sleeps overlap


def test_batch_survives_a_hung_call(pool):
    """One message carries the batch; a hung call times out alone and the rest still run."""
    before = pool.replacements
    start = time.monotonic()
    out = pool.run_batch(_tasks.echo_or_spin, [(1,), ("spin",), (3,), (4,)], timeout_s=0.5)
    assert [(r.ok, r.value, r.reason) for r in out] == [
        (True, 1, ""),
        (False, None, "timeout"),
        (True, 3, ""),
        (True, 4, ""),
    ]
    assert time.monotonic() - start < 2.0 and pool.replacements == before + 1


def test_map_batches_keep_order(pool):
    args = [(i,) for i in range(50)] + [("spin",)] + [(i,) for i in range(50, 60)]
    out = pool.map(_tasks.echo_or_spin, args, timeout_s=0.5, chunk=8)
    assert [r.value for r in out] == list(range(50)) + [None] + list(range(50, 60))
    assert [r.reason for r in out].count("timeout") == 1


def test_workers_are_persistent(pool):
    pids = {pool.run(_tasks.pid).value for _ in range(6)}
    assert len(pids) <= 2


def test_closed_pool_refuses():
    p = BoundedPool(workers=1, timeout_s=1.0, memory_mb=256)
    p.close()
    with pytest.raises(RuntimeError, match="closed"):
        p.run(_tasks.echo, 1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="workers"):
        BoundedPool(workers=0)
    with pytest.raises(ValueError, match="timeout_s"):
        BoundedPool(workers=1, timeout_s=0)
