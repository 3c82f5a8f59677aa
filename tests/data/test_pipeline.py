"""The conversion pipeline and the prepare_data CLI: de-duplication across splits, stable prompt ids,
the report, and the files written."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from srpo.data.formats import SourceFormat, get_format
from srpo.data.pipeline import convert_records, reference_keys, write_rows
from srpo.data.problem import Problem
from srpo.data.readers import SourceRecord
from srpo.data.rows import validate_parquet
from srpo.data.templates import TemplateError, load_template

from .helpers import FIXTURES, convert_fixture, fixture_records, kept_indices

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "prepare_data.py"


def _cli():
    spec = importlib.util.spec_from_file_location("prepare_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _records(items):
    return [SourceRecord(i, item) for i, item in enumerate(items)]


def _convert(items, fmt="deepscaler", template=None, **kwargs):
    spec = get_format(fmt)
    return convert_records(
        _records(items), spec, load_template(template or spec.default_template), source="mem", **kwargs
    )


def test_prompt_ids_do_not_depend_on_order_or_template():
    items = [{"problem": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(5)]
    rows, _ = _convert(items)
    shuffled, _ = _convert(items[::-1], template="math_think_boxed")
    ids = {r["extra_info"]["prompt_id"] for r in rows}
    assert len(ids) == 5 and ids == {r["extra_info"]["prompt_id"] for r in shuffled}
    assert rows[0]["prompt"] != shuffled[-1]["prompt"]


def test_cross_split_dedup_against_our_own_and_foreign_files(tmp_path):
    test_rows, _ = convert_fixture("gsm8k", "gsm8k.jsonl", split="test")
    test_path = tmp_path / "test.parquet"
    write_rows(test_rows[:1], test_path)  # the muffin problem only

    train_items = [
        {
            "question": "A baker makes 12 muffins per tray and bakes 4 trays.  She sells 30 muffins. How many muffins are left?",
            "answer": "#### 18",
        },
        {"question": "Something new?", "answer": "#### 1"},
    ]
    rows, report = _convert(train_items, fmt="gsm8k", reference=reference_keys([test_path]))
    assert kept_indices(rows) == [1]
    assert [(d.index, d.of) for d in report.duplicates_other_split] == [(0, str(test_path))]

    # A file written by another tool (no problem_hash) is matched on its normalised user message.
    foreign = dict(test_rows[1])
    foreign["extra_info"] = {"prompt_id": "other/1", "domain": "math", "index": 0}
    foreign_path = tmp_path / "foreign.parquet"
    write_rows([foreign], foreign_path)
    again, report = _convert(
        [
            {
                "question": "Tom has 3 boxes with 250 stamps each and buys 1,250 more. How many stamps does he have?",
                "answer": "#### 2,000",
            }
        ],
        fmt="gsm8k",
        reference=reference_keys([foreign_path]),
    )
    assert again == [] and len(report.duplicates_other_split) == 1


def test_template_of_the_wrong_domain_is_refused():
    with pytest.raises(TemplateError, match="template 'code_fenced' is for code, format 'gsm8k' is math"):
        _convert([{"question": "q", "answer": "#### 1"}], fmt="gsm8k", template="code_fenced")


def test_converter_errors_and_invalid_rows_are_rejected_not_written():
    rows, report = _convert(
        [{"question": "Q", "input_output": json.dumps({"inputs": ["1"], "outputs": [5]})}], fmt="taco"
    )
    assert rows == [] and report.rejected[0].reason == "bad_tests"
    assert "must be text or a list of lines" in report.rejected[0].detail

    # A converter whose spec the sandbox's parser refuses: the row validator is the last line of defence.
    def cobol(record, options):
        spec = {"format": "stdio", "language": "cobol", "cases": [{"input": "", "output": "1"}]}
        return Problem(problem=record["q"], ground_truth=json.dumps(spec), test_format="stdio")

    fmt = SourceFormat("cobol", "code", "cobol", "code_fenced", cobol, "test only")
    rows, report = convert_records(
        _records([{"q": "Print 1."}, {"q": "Print 1 again."}]),
        fmt,
        load_template("code_fenced"),
        source="mem",
    )
    assert rows == [] and [r.reason for r in report.rejected] == ["invalid_row", "invalid_row"]
    assert "mem record 0: field 'reward_model.ground_truth'" in report.rejected[0].detail
    assert "cobol" in report.rejected[0].detail

    # A converter tripping over a shape it did not foresee loses that record only.
    def fragile(record, options):
        return Problem(problem=record["q"], ground_truth=record["a"])

    fmt = SourceFormat("fragile", "math", "fragile", "math_boxed", fragile, "test only")
    rows, report = convert_records(
        _records([{"q": "1+1?", "a": "2"}, {"q": "2+2?"}, {"q": "3+3?", "a": "6"}]),
        fmt,
        load_template("math_boxed"),
        source="mem",
    )
    assert [r["reward_model"]["ground_truth"] for r in rows] == ["2", "6"]
    assert [(r.index, r.reason, r.detail) for r in report.rejected] == [
        (1, "converter_error", "KeyError: 'a'")
    ]


def test_cli_end_to_end_writes_valid_parquet_and_report(tmp_path, capsys):
    main = _cli()
    test_out, train_out = tmp_path / "gsm8k" / "test.parquet", tmp_path / "gsm8k" / "train.parquet"
    assert (
        main(
            [
                "--format",
                "gsm8k",
                "--input",
                str(FIXTURES / "gsm8k.jsonl"),
                "--split",
                "test",
                "--output",
                str(test_out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert validate_parquet(test_out) == 3
    out = capsys.readouterr().out
    assert "kept: 3" in out and "no_final_answer: 1" in out and "duplicates within this input: 1" in out
    report = json.loads((tmp_path / "gsm8k" / "test.parquet.report.json").read_text())
    assert report["total"] == 7 and report["rejected_by_reason"] == {
        "missing_field": 1,
        "no_final_answer": 1,
        "unreadable_record": 1,
    }
    assert pq.read_table(test_out).column("extra_info").to_pylist()[0]["split"] == "test"

    # The same problems as a train split, de-duplicated against the test split: nothing is left.
    assert (
        main(
            [
                "--format",
                "gsm8k",
                "--input",
                str(FIXTURES / "gsm8k.jsonl"),
                "--output",
                str(train_out),
                "--dedup-against",
                str(test_out),
                "--no-progress",
            ]
        )
        == 1
    )
    assert not train_out.exists()
    assert "duplicates of another split: 4" in capsys.readouterr().out


def test_cli_reads_a_save_to_disk_folder_and_a_parquet(tmp_path):
    main = _cli()
    rows = fixture_records("mbpp.jsonl")
    for row in rows:  # one schema for the Arrow table: sanitized rows lack some original columns
        row.setdefault("test_setup_code", "")
        row.setdefault("test_imports", [])
        row.pop("challenge_test_list", None)
        row.pop("source_file", None)
        row["text"] = row.pop("text", None) or row.pop("prompt")
    folder = tmp_path / "mbpp_hf"
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)}).save_to_disk(str(folder))
    out = tmp_path / "mbpp.parquet"
    assert (
        main(
            [
                "--format",
                "mbpp",
                "--input",
                str(folder),
                "--source-split",
                "test",
                "--split",
                "test",
                "--output",
                str(out),
                "--report",
                str(tmp_path / "r.json"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert validate_parquet(out) == 3
    assert json.loads((tmp_path / "r.json").read_text())["rejected_by_reason"] == {"no_tests": 1}

    again = tmp_path / "again.parquet"
    # A verl file is not an MBPP source: every record is rejected, nothing is written.
    assert main(["--format", "mbpp", "--input", str(out), "--output", str(again), "--no-progress"]) == 1
    assert not again.exists()


def test_cli_usage_errors(tmp_path, capsys):
    main = _cli()
    assert main(["--format", "gsm8k", "--output", str(tmp_path / "x.parquet")]) == 2
    assert "--input is required" in capsys.readouterr().err
    assert (
        main(
            [
                "--format",
                "gsm8k",
                "--input",
                str(tmp_path / "absent.jsonl"),
                "--output",
                str(tmp_path / "x.parquet"),
            ]
        )
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "test.parquet").write_text("not parquet")
    assert main(["--format", "gsm8k", "--input", str(FIXTURES / "gsm8k.jsonl"), "--output", str(tmp_path / "x.parquet"),
                 "--dedup-against", str(tmp_path / "test.parquet")]) == 2  # fmt: skip
    assert "cannot read this split's file for de-duplication" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--format", "livecodebench", "--input", "x", "--output", "y", "--date-from", "last week"])


def test_script_runs_as_a_program():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0
    assert "humaneval" in done.stdout and "code_fenced" in done.stdout


def test_cli_parquet_source_and_template_choice(tmp_path):
    """DAPO-Math-17k ships as parquet of verl rows: nested prompt lists must come through pyarrow."""
    main = _cli()
    source = tmp_path / "dapo-math-17k.parquet"
    pq.write_table(pa.Table.from_pylist(fixture_records("dapo_math.jsonl")[:3]), source)  # the verl rows
    out = tmp_path / "dapo.parquet"
    assert main(["--format", "dapo_math", "--input", str(source), "--template", "math_think_boxed",
                 "--output", str(out), "--no-progress"]) == 0  # fmt: skip
    rows = pq.read_table(out).to_pylist()
    assert [r["reward_model"]["ground_truth"] for r in rows] == ["5", "4"]
    assert [m["role"] for m in rows[0]["prompt"]] == ["system", "user"]
    assert rows[0]["prompt"][1]["content"].startswith("Let $f(x)=x^2+1$.")
    assert validate_parquet(out) == 2
