"""Code converters on fixtures in the shapes of LiveCodeBench, TACO, APPS, LeetCodeDataset and MBPP.

Besides the fields, each kept row's test spec is parsed by the sandbox's TestSpec and run against
the fixture's reference solution (which must pass every case) and a wrong one (which must not).
"""

from __future__ import annotations

import json
from datetime import date

from sandbox import TestSpec
from srpo.data.problem import ConvertOptions
from srpo.data.rows import validate_row

from .helpers import FIXTURES, convert_fixture, fixture_records, kept_indices, rejections, spec_of
from .spec_runner import case_results


def _check_rows(rows, data_source):
    for row in rows:
        validate_row(row, "converted row")
        assert row["data_source"] == data_source and row["ability"] == "code"
        TestSpec.from_json(row["reward_model"]["ground_truth"])
        assert "```python" in row["prompt"][-1]["content"]


def _passes(program, row):
    return all(case_results(program, spec_of(row)))


def test_livecodebench_public_and_private_tests():
    rows, report = convert_fixture("livecodebench", "livecodebench.jsonl")
    assert kept_indices(rows) == [0, 1, 2]
    assert rejections(report) == {3: "bad_tests", 4: "bad_tests", 5: "no_tests"}
    _check_rows(rows, "livecodebench")

    stdin_spec = spec_of(rows[0])
    assert stdin_spec["format"] == "stdio"
    # Two public tests, then the two private ones decoded from the compressed blob.
    assert [c["input"] for c in stdin_spec["cases"]] == ["1 2\n", "0 0\n", "100 100\n", "7 5\n"]
    call = spec_of(rows[1])
    assert call["fn_name"] == "maxSum"
    assert call["cases"][0] == {"args": [[1, 5, 3], 2], "kwargs": {}, "expected": 8}
    assert "class Solution:" in rows[1]["prompt"][0]["content"]

    solutions = json.loads((FIXTURES / "livecodebench_solutions.json").read_text())
    for row in rows:
        assert _passes(solutions[row["extra_info"]["source_id"]], row)
    assert not _passes("a, b = map(int, input().split())\nprint(a - b)\n", rows[0])


def test_livecodebench_date_window_and_case_limit():
    window = ConvertOptions(date_from=date(2024, 8, 1), date_until=date(2024, 12, 31), max_cases=3)
    rows, report = convert_fixture("livecodebench", "livecodebench.jsonl", options=window)
    assert kept_indices(rows) == [0, 1]
    assert rejections(report)[2] == "outside_date_window"
    assert [len(spec_of(r)["cases"]) for r in rows] == [3, 3]


def test_taco_stdio_and_call_based():
    rows, report = convert_fixture("taco", "taco.jsonl")
    assert kept_indices(rows) == [0, 1, 2, 3]
    assert rejections(report) == {4: "bad_tests", 5: "no_tests", 6: "bad_tests"}
    _check_rows(rows, "taco")
    specs = [spec_of(r) for r in rows]
    assert [s["format"] for s in specs] == ["stdio", "call", "call", "stdio"]
    # Call outputs stored wrapped ([[2, 4, 6]], [True]) are unwrapped.
    assert specs[1]["cases"][0] == {"args": [[1, 2, 3]], "kwargs": {}, "expected": [2, 4, 6]}
    assert [c["expected"] for c in specs[2]["cases"]] == [True, False]
    assert specs[3]["cases"][0]["output"] == "a\nb\n"  # output stored as a list of lines
    source = fixture_records("taco.jsonl")
    for row in rows:
        assert _passes(json.loads(source[row["extra_info"]["index"]]["solutions"])[0], row)
    assert not _passes("def is_even(n):\n    return n % 2 == 1\n", rows[2])


def test_apps_unwrapped_call_outputs():
    rows, report = convert_fixture("apps", "apps.jsonl")
    assert kept_indices(rows) == [0, 1]
    assert rejections(report) == {2: "bad_tests"}
    assert [r["extra_info"]["source_id"] for r in rows] == ["4001", "4002"]
    assert [c["expected"] for c in spec_of(rows[1])["cases"]] == [3, 5]
    _check_rows(rows, "apps")
    assert _passes("print(input()[::-1])\n", rows[0])
    assert _passes("def total(xs):\n    return sum(xs)\n", rows[1])
    assert not _passes("def total(xs):\n    return [sum(xs)]\n", rows[1])


def test_leetcode_keyword_arguments():
    rows, report = convert_fixture("leetcode", "leetcode.jsonl")
    assert kept_indices(rows) == [0, 1]
    assert rejections(report) == {2: "unsupported_tests", 3: "bad_tests"}
    assert "TreeNode" in report.rejected[0].detail
    _check_rows(rows, "leetcode")
    assert spec_of(rows[0])["cases"][0] == {
        "args": [],
        "kwargs": {"nums": [2, 7, 11, 15], "target": 9},
        "expected": [0, 1],
    }
    assert [c["expected"] for c in spec_of(rows[1])["cases"]] == [True, False]
    source = fixture_records("leetcode.jsonl")
    for row in rows:
        record = source[row["extra_info"]["index"]]
        assert _passes(record["prompt"] + record["completion"], row)
    assert not _passes("class Solution:\n    def isPal(self, s):\n        return True\n", rows[1])


def test_mbpp_original_and_sanitized():
    rows, report = convert_fixture("mbpp", "mbpp.jsonl")
    assert kept_indices(rows) == [0, 1, 2]
    assert rejections(report) == {3: "no_tests"}
    _check_rows(rows, "mbpp")
    assert [spec_of(r)["entry_point"] for r in rows] == ["remove_char", "circle_area", "triangular"]
    assert "def remove_char(s, ch):" in rows[0]["prompt"][0]["content"]
    # The setup code runs before each assert of task 9002.
    assert all(c["code"].startswith("import math\n") for c in spec_of(rows[1])["cases"])
    source = fixture_records("mbpp.jsonl")
    for row in rows:
        assert _passes(source[row["extra_info"]["index"]]["code"], row)
    assert not _passes("def triangular(n):\n    return n * n\n", rows[2])
