"""benchmarks.bench_reward_tail: the per-stage report from a run's metrics file."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_reward_tail as bench


def _step(step: int, stage: int, step_s: float, code_tail: float | None) -> dict:
    data = {"srpo/stage": stage, "timing_s/step": step_s, "timing_s/gen": step_s / 2}
    data |= {"srpo/reward_wait/tail_s": code_tail or 0.01, "srpo/reward_wait/tail_s/math": 0.01}
    data |= {"srpo/reward_wait/score_mean_s/math": 0.002}
    if code_tail is not None:
        data |= {"srpo/reward_wait/tail_s/code": code_tail, "srpo/reward_wait/score_mean_s/code": 0.1}
    return {"step": step, "data": data}


def test_report_gives_the_code_share_per_stage(tmp_path):
    lines = [{"step": 0, "data": {"val-core/x/acc/mean@1": 0.3}}]  # validation only: not a trained step
    lines += [_step(1, 1, 10.0, None), _step(2, 1, 10.0, None)]
    lines += [_step(3, 2, 10.0, 0.2), _step(4, 2, 20.0, 0.7), _step(5, 2, 10.0, 0.0)]
    (tmp_path / "metrics-1.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    stages = bench.stage_rows(bench.load_metrics(tmp_path.glob("metrics-*.jsonl")))
    assert sorted(stages) == [1, 2] and len(stages[2]) == 3
    code = bench.summarize(stages[2], "code")
    assert code["share_total"] == pytest.approx(0.9 / 40)
    assert code["tail_median_s"] == pytest.approx(0.2) and code["tail_max_s"] == pytest.approx(0.7)
    text = bench.report(tmp_path, "cmd")
    assert "| 2 | code | 3 |" in text and "2.2% |" in text
    assert "| 1 | code" not in text  # stage 1 had no code rollouts


def test_a_run_without_the_metric_is_refused(tmp_path):
    (tmp_path / "metrics-1.jsonl").write_text(json.dumps({"step": 1, "data": {"timing_s/step": 1.0}}) + "\n")
    with pytest.raises(SystemExit, match="no step logged srpo/reward_wait/tail_s"):
        bench.report(tmp_path, "cmd")
