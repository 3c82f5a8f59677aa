"""benchmarks.harness: the timing, table and result-file helpers every benchmark uses."""

from __future__ import annotations

import json
import time

import pytest

from benchmarks import harness


def test_repeat_times_each_call_after_the_warmup() -> None:
    calls = []

    def work() -> None:
        calls.append(None)
        time.sleep(0.01)

    times = harness.repeat(work, repeats=3, warmup=2)
    assert len(calls) == 5 and len(times) == 3
    assert all(0.009 < t < 1.0 for t in times)
    assert harness.median_seconds(lambda: None, repeats=3) < 0.01


def test_timed_returns_the_result() -> None:
    seconds, out = harness.timed(lambda: 42)
    assert out == 42 and seconds >= 0


@pytest.mark.parametrize(
    ("xs", "expected"),
    [([0.010, 0.020, 0.030], "20.0 ms (p90 30.0)"), ([0.001] * 9 + [1.0], "1.0 ms (p90 1000.0)")],
)
def test_ms_quotes_median_and_p90(xs: list[float], expected: str) -> None:
    assert harness.ms(xs) == expected


def test_span_ratio_and_table() -> None:
    assert harness.span([3.0, 1.25, 2.0], ".2f") == "1.25 - 3.00"
    assert harness.ratio(3.0, 2.0) == "1.50x" and harness.ratio(1.0, 0.0) == "-"
    assert harness.table(("a", "b"), [(1, "x"), (2, "y")], align="lr") == [
        "| a | b |",
        "| --- | ---: |",
        "| 1 | x |",
        "| 2 | y |",
    ]


def test_emit_prints_and_writes(tmp_path, capsys) -> None:
    out = tmp_path / "results" / "x.md"
    text = harness.emit(["# title", "", "body"], out)
    assert text == "# title\n\nbody\n" == out.read_text() == capsys.readouterr().out
    assert harness.emit("no file", None) == "no file\n"


def test_write_json_round_trip(tmp_path) -> None:
    path = tmp_path / "deep" / "r.json"
    harness.write_json(path, {"a": [1, 2]})
    assert harness.read_json(path) == {"a": [1, 2]} == json.loads(path.read_text())


def test_command_line_and_machine(monkeypatch) -> None:
    monkeypatch.setattr("sys.argv", ["/x/bench_y.py", "--out", "a b.md"])
    assert harness.command_line("benchmarks.bench_y") == "python -m benchmarks.bench_y --out 'a b.md'"
    assert harness.machine("Docker 27").startswith("Machine: ") and harness.machine("Docker 27").endswith(
        ", Docker 27"
    )
