"""Math converters on fixtures in the shapes of GSM8K, MATH, DeepScaleR and DAPO-Math-17k."""

from __future__ import annotations

import pytest

from srpo.data.math_formats import convert_problem_answer
from srpo.data.problem import RecordRejected
from srpo.data.rows import validate_row

from .helpers import answers, convert_fixture, kept_indices, rejections


def _check_rows(rows, data_source):
    for row in rows:
        validate_row(row, "converted row")
        assert row["data_source"] == data_source and row["ability"] == "math"
        assert row["extra_info"]["prompt_id"] == f"{data_source}/{row['extra_info']['problem_hash']}"
        assert "\\boxed{}" in row["prompt"][-1]["content"]


def test_gsm8k():
    rows, report = convert_fixture("gsm8k", "gsm8k.jsonl")
    assert kept_indices(rows) == [0, 1, 6]
    assert answers(rows) == ["18", "2000", "90"]
    assert rejections(report) == {2: "no_final_answer", 4: "unreadable_record", 5: "missing_field"}
    # Record 3 is record 0 with other case and spacing.
    assert [(d.index, d.of, d.conflicting) for d in report.duplicates_in_split] == [(3, "record 0", False)]
    _check_rows(rows, "gsm8k")
    assert rows[0]["prompt"][0]["content"].startswith("A baker makes 12 muffins per tray")


def test_math_last_box_and_math500_answer_field():
    rows, report = convert_fixture("math", "math.jsonl")
    assert kept_indices(rows) == [0, 1, 2, 5]
    assert answers(rows) == ["\\frac{1}{2}", "\\{-3, 3\\}", "1024", "6"]
    assert rejections(report) == {3: "no_final_answer", 4: "no_final_answer"}
    # Record 6 repeats record 0's problem with another answer: dropped, and flagged as a conflict.
    assert [(d.index, d.of, d.conflicting) for d in report.duplicates_in_split] == [(6, "record 0", True)]
    assert "(1 with a different answer or tests than the row kept)" in report.summary()
    assert [r["extra_info"]["difficulty"] for r in rows] == ["Level 1", "Level 2", "Level 1", "2"]
    assert rows[3]["extra_info"]["source_id"] == "test/number_theory/1.json"
    _check_rows(rows, "math")


def test_deepscaler_problem_answer():
    rows, report = convert_fixture("deepscaler", "deepscaler.json")
    assert kept_indices(rows) == [0, 1, 2]
    assert answers(rows) == ["13", "55", "23"]  # a numeric answer is kept as its text
    assert rejections(report) == {3: "empty_field", 4: "bad_field_type"}
    _check_rows(rows, "deepscaler")


def test_dapo_math_shapes_and_repeated_rows():
    rows, report = convert_fixture("dapo_math", "dapo_math.jsonl")
    assert kept_indices(rows) == [0, 2, 3]
    assert answers(rows) == ["5", "4", "9"]
    # The original instruction wrapper is gone; our template's answer format replaces it.
    content = rows[0]["prompt"][0]["content"]
    assert content.startswith("Let $f(x)=x^2+1$. Find $f(f(1))$.") and "Answer:" not in content
    assert rows[0]["extra_info"]["source_id"] == "a1f0c2d4-0001"
    assert [(d.index, d.of) for d in report.duplicates_in_split] == [(1, "record 0")]
    assert rejections(report) == {4: "missing_field"}
    _check_rows(rows, "dapo_math")


def test_field_errors_say_which_field_and_what_is_wrong():
    cases = [
        ({"problem": None, "answer": "1"}, "empty_field", "field 'problem' is null"),
        ({"answer": "1"}, "missing_field", "no field 'problem' or 'question' (has ['answer'])"),
        ({"problem": 7, "answer": "1"}, "bad_field_type", "field 'problem' must be text, got int"),
        (
            {"problem": "p", "answer": float("nan")},
            "bad_field_type",
            "field 'answer' must be text, got float",
        ),
    ]
    for record, reason, detail in cases:
        with pytest.raises(RecordRejected) as err:
            convert_problem_answer(record)
        assert (err.value.reason, err.value.detail) == (reason, detail)
