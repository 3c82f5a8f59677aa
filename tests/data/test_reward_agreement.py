"""Rows written by the converters score as they should with the project's reward (reward_fns):
the reference answer / reference program earns accuracy 1, a wrong one 0. Code runs in the local
sandbox backend (no Docker needed)."""

from __future__ import annotations

import json

from reward_fns.dispatch import compute_score_batch

from .helpers import FIXTURES, convert_fixture, fixture_records

MATH_FIXTURES = {
    "gsm8k": "gsm8k.jsonl",
    "math": "math.jsonl",
    "deepscaler": "deepscaler.json",
    "dapo_math": "dapo_math.jsonl",
}


def _accuracies(rows, responses, **kwargs):
    out = compute_score_batch(
        [r["data_source"] for r in rows],
        responses,
        [r["reward_model"]["ground_truth"] for r in rows],
        [r["extra_info"] for r in rows],
        **kwargs,
    )
    return [o["acc"] for o in out]


def test_math_rows_grade_the_reference_answer_correct():
    for fmt, filename in MATH_FIXTURES.items():
        rows, _ = convert_fixture(fmt, filename)
        answers = [r["reward_model"]["ground_truth"] for r in rows]
        right = [f"Working it out step by step.\n\\boxed{{{a}}}" for a in answers]
        wrong = ["Working it out step by step.\n\\boxed{123456789}" for _ in answers]
        assert _accuracies(rows, right) == [1.0] * len(rows), fmt
        assert _accuracies(rows, wrong) == [0.0] * len(rows), fmt


def test_code_rows_grade_the_reference_program_correct():
    lcb = json.loads((FIXTURES / "livecodebench_solutions.json").read_text())
    solutions = {
        "taco": lambda r: json.loads(r["solutions"])[0],
        "apps": lambda r: json.loads(r["solutions"])[0],
        "leetcode": lambda r: r["prompt"] + r["completion"],
        "mbpp": lambda r: r["code"],
        "livecodebench": lambda r: lcb[r["question_id"]],
    }
    rows, right = [], []
    for fmt, solution in solutions.items():
        converted, _ = convert_fixture(fmt, f"{fmt}.jsonl")
        records = fixture_records(f"{fmt}.jsonl")
        rows += converted
        right += [f"```python\n{solution(records[r['extra_info']['index']])}\n```" for r in converted]
    local = {"code": {"sandbox": {"backend": "local", "pool_size": 2}}}
    assert _accuracies(rows, right, **local) == [1.0] * len(rows)
    assert _accuracies(rows, ["```python\nprint(0)\n```"] * len(rows), **local) == [0.0] * len(rows)
