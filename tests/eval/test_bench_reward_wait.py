"""benchmarks/bench_reward_wait.py: step windows, busy time and tails, on synthetic timelines."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "bench_reward_wait", REPO / "benchmarks" / "bench_reward_wait.py"
)
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_reward_wait"] = bench
_spec.loader.exec_module(bench)

T0 = 1_000.0


def _call(domain: str, start: float, end: float, pid: int = 7) -> dict:
    return {"pid": pid, "domain": domain, "n": 1, "t_start": T0 + start, "t_end": T0 + end}


def test_union_length_counts_overlaps_once():
    assert bench.union_length([]) == 0.0
    assert bench.union_length([(0, 2), (1, 3), (5, 6)]) == pytest.approx(4.0)
    assert bench.union_length([(5, 6), (0, 10)]) == pytest.approx(10.0)


def test_windows_end_at_the_next_step_and_the_last_is_open():
    assert bench.windows({2: 20.0, 1: 10.0}) == {1: (10.0, 20.0), 2: (20.0, math.inf)}


def test_tails_measure_from_the_last_call_start():
    calls = bench.parse_calls(
        [_call("math", 0, 1), _call("code", 1, 4), _call("math", 3, 3.5), _call("code", 2, 3)]
    )
    t = bench.tails(calls)
    assert t["code"] == pytest.approx(1.0)  # last start 3, code ends 4
    assert t["math"] == pytest.approx(0.5)
    # a domain that finished before the last response was handed over did not make the step wait
    early = bench.parse_calls([_call("code", 0, 1), _call("math", 2, 2.1)])
    assert bench.tails(early) == {"code": 0.0, "math": pytest.approx(0.1)}
    assert bench.tails([]) == {"code": 0.0, "math": 0.0}
    mixed = bench.parse_calls([_call("mixed", 0, 2)])
    assert bench.tails(mixed) == {"code": pytest.approx(2.0), "math": pytest.approx(2.0)}


def test_analyse_assigns_calls_to_steps_and_summarizes_stage_two():
    starts = {1: (T0, 1), 2: (T0 + 10, 2), 3: (T0 + 20, 2)}
    calls = bench.parse_calls(
        [
            _call("math", -5, -4),  # validation before training: in no window
            _call("math", 1, 2),
            _call("math", 3, 3.2),  # step 1: math only, tail 0.2
            _call("code", 11, 14),
            _call("math", 12, 13),
            _call("code", 15, 16),  # step 2: last start 15, code tail 1, math tail 0
            _call("code", 21, 22, pid=8),
            _call("math", 22, 22.5, pid=8),  # step 3: code tail 0, math tail 0.5
            _call("code", 19.5, 23),  # starts in step 2's window, ends in step 3's
        ]
    )
    metrics = {
        1: {"timing_s/step": 9.0, "timing_s/gen": 4.0},
        2: {"timing_s/step": 8.0, "timing_s/gen": 7.0},
        3: {"timing_s/step": 10.0, "timing_s/gen": 3.0},
    }
    rows = {r.step: r for r in bench.analyse(metrics, starts, calls)}
    assert rows[1].calls == {"code": 0, "math": 2} and rows[1].tail_s["math"] == pytest.approx(0.2)
    assert rows[2].calls == {"code": 3, "math": 1}
    assert rows[2].tail_s["code"] == pytest.approx(23 - 19.5)  # the straggler counts for step 2
    assert rows[2].busy_s["code"] == pytest.approx(3 + 1 + 3.5)
    assert rows[3].tail_s == {"code": 0.0, "math": pytest.approx(0.5)}
    assert rows[3].pids == 1 and rows[2].pids == 1
    assert rows[1].after_reward_s == pytest.approx(4.0 - 3.2)

    s = bench.summarize(list(rows.values()), stage=2)
    assert s["steps"] == 2
    assert s["code_tail_share_total"] == pytest.approx(3.5 / 18)
    assert s["code_tail_share_median"] == pytest.approx((3.5 / 8 + 0.0) / 2)
    assert s["math_tail_share_total"] == pytest.approx(0.5 / 18)
    assert s["code_busy_share_total"] == pytest.approx((7.5 + 1.0) / 18)


def test_report_from_a_run_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    draws = [
        {"step": 1, "stage": 1, "prompt_ids": ["m1"], "t": T0},
        {"step": 2, "stage": 2, "prompt_ids": ["c1"], "t": T0 + 10},
    ]
    (run / "draws.jsonl").write_text("".join(json.dumps(d) + "\n" for d in draws))
    metrics = [{"step": s, "data": {"timing_s/step": 10.0, "timing_s/gen": 5.0}} for s in (1, 2)]
    (run / "metrics-1.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    timeline = [
        _call("math", -3, -2),
        _call("math", 1, 2),
        _call("code", 11, 11.9),
        _call("math", 11.5, 11.6),
    ]
    (run / "reward_timeline.jsonl").write_text("".join(json.dumps(c) + "\n" for c in timeline) + '{"pid": 1')
    report = tmp_path / "r.md"
    assert bench.main(["--from-run", str(run), "--report", str(report)]) == 0
    text = report.read_text()
    assert (
        text.splitlines()[2]
        == f"Command: `python benchmarks/bench_reward_wait.py --from-run {run} --report {report}`"
    )
    assert "1 reward calls started outside every step window" in text
    assert "Stage-2 code waiting: 4.0% of step time in total" in text and "meets the < 5% target" in text


def test_draws_without_timestamps_are_refused():
    with pytest.raises(ValueError, match="'t'"):
        bench.step_starts([{"step": 1, "stage": 1, "prompt_ids": []}])


def test_run_overrides_turn_validation_and_checkpoints_off():
    o = bench.run_overrides(Path("/x"), 5, 2, ["a=b"])
    assert o[0] == "output_dir=/x" and o[-1] == "a=b"
    assert {"trainer.test_freq=-1", "trainer.val_before_train=false", "trainer.save_freq=-1"} <= set(o)
    assert "trainer.total_training_steps=5" in o and "srpo.curriculum.switch_step=2" in o
