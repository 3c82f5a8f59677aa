"""reward_fns/timeline.py: whole JSON lines from many threads and processes; nothing when unset."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
from pathlib import Path

import pytest

from reward_fns import timeline


@timeline.timed
def _score(domain: str, n: int = 1) -> str:
    timeline.note(domain, n)
    return domain


@timeline.timed
async def _score_async(domain: str, delay: float) -> str:
    await asyncio.sleep(delay)
    timeline.note(domain)
    return domain


@timeline.timed
def _fails() -> None:
    timeline.note("code")
    raise RuntimeError("boom")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _many_calls(path: str, count: int) -> None:
    import os

    os.environ[timeline.ENV_VAR] = path
    for i in range(count):
        _score("code" if i % 2 else "math")


def test_unset_writes_nothing_and_returns_the_result(tmp_path, monkeypatch):
    monkeypatch.delenv(timeline.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert _score("code") == "code"
    assert asyncio.run(_score_async("math", 0.0)) == "math"
    assert list(tmp_path.iterdir()) == []


def test_records_domain_rows_and_interval(tmp_path, monkeypatch):
    path = tmp_path / "t.jsonl"
    monkeypatch.setenv(timeline.ENV_VAR, str(path))
    _score("mixed", 5)
    with pytest.raises(RuntimeError):
        _fails()
    ok, failed = _lines(path)
    assert ok["domain"] == "mixed" and ok["n"] == 5 and ok["t_start"] <= ok["t_end"] and "error" not in ok
    assert failed["domain"] == "code" and failed["error"] is True


def test_coroutines_stay_coroutines_and_note_their_own_domain(tmp_path, monkeypatch):
    import inspect

    path = tmp_path / "t.jsonl"
    monkeypatch.setenv(timeline.ENV_VAR, str(path))
    assert inspect.iscoroutinefunction(_score_async)

    async def both() -> list[str]:  # interleaved: each call keeps the domain it noted
        return await asyncio.gather(_score_async("code", 0.05), _score_async("math", 0.01))

    assert asyncio.run(both()) == ["code", "math"]
    by_domain = {r["domain"]: r for r in _lines(path)}
    assert set(by_domain) == {"code", "math"}
    assert by_domain["code"]["t_end"] - by_domain["code"]["t_start"] >= 0.04


def test_threads_and_processes_write_whole_lines(tmp_path, monkeypatch):
    path = tmp_path / "t.jsonl"
    monkeypatch.setenv(timeline.ENV_VAR, str(path))
    threads = [threading.Thread(target=_many_calls, args=(str(path), 200)) for _ in range(4)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_many_calls, args=(str(path), 200)) for _ in range(3)]
    for w in [*threads, *procs]:
        w.start()
    for w in [*threads, *procs]:
        w.join()
    assert all(p.exitcode == 0 for p in procs)
    records = _lines(path)  # every line parses
    assert len(records) == 7 * 200
    assert len({r["pid"] for r in records}) == 4  # this process and the three children
    assert {r["domain"] for r in records} == {"math", "code"}


def test_unwritable_file_does_not_fail_the_reward(tmp_path, monkeypatch):
    monkeypatch.setenv(timeline.ENV_VAR, str(tmp_path / "missing" / "t.jsonl"))
    assert _score("code") == "code"


def test_domain_label():
    assert timeline.domain_label(2, 0) == "math"
    assert timeline.domain_label(0, 3) == "code"
    assert timeline.domain_label(1, 1) == "mixed"
    assert timeline.domain_label(0, 0) == "none"
