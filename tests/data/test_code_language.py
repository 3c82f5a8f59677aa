"""C++ rows from the code sources: stdio problems carry over (their tests do not depend on the
language), call/assert problems are refused, and the language is in the spec and in extra_info."""

from __future__ import annotations

import pytest

from srpo.data.formats import get_format
from srpo.data.pipeline import convert_records
from srpo.data.problem import ConvertOptions
from srpo.data.readers import RecordSource
from srpo.data.rows import DataRowError, validate_row
from srpo.data.templates import TemplateError, load_template

from .helpers import FIXTURES, convert_fixture, rejections, spec_of


def convert(fmt: str, template: str, language: str):
    path = FIXTURES / f"{fmt}.jsonl"
    return convert_records(
        RecordSource(path),
        get_format(fmt),
        load_template(template),
        source=str(path),
        options=ConvertOptions(language=language),
    )


@pytest.mark.parametrize("fmt", ["taco", "livecodebench"])
def test_cpp_keeps_the_stdio_test_sets_and_refuses_the_rest(fmt):
    python_rows, _ = convert_fixture(fmt, f"{fmt}.jsonl")
    rows, report = convert(fmt, "code_fenced_cpp", "cpp")
    stdio = {r["extra_info"]["index"]: spec_of(r) for r in python_rows if spec_of(r)["format"] == "stdio"}
    assert stdio, "the fixture must have stdio problems"
    assert {r["extra_info"]["index"] for r in rows} == set(stdio)
    for row in rows:
        spec = spec_of(row)
        assert spec["language"] == row["extra_info"]["language"] == "cpp"
        assert spec["cases"] == stdio[row["extra_info"]["index"]]["cases"], "the test set is kept as it is"
        assert "```cpp" in row["prompt"][-1]["content"] and "```python" not in row["prompt"][-1]["content"]
    refused = {i for i, reason in rejections(report).items() if reason == "bad_tests"}
    calls = {r["extra_info"]["index"] for r in python_rows if spec_of(r)["format"] != "stdio"}
    assert calls <= refused
    assert all(r["extra_info"]["language"] == "python" for r in python_rows)


def test_template_and_conversion_must_agree_on_the_language():
    with pytest.raises(TemplateError, match="asks for python programs, the conversion is for cpp"):
        convert("taco", "code_fenced", "cpp")
    with pytest.raises(TemplateError, match="asks for cpp programs, the conversion is for python"):
        convert("taco", "code_fenced_cpp", "python")
    with pytest.raises(ValueError, match="ConvertOptions.language must be one of"):
        ConvertOptions(language="rust")


def test_rows_must_say_the_specs_language():
    rows, _ = convert("taco", "code_fenced_cpp", "cpp")
    row = {**rows[0], "extra_info": {**rows[0]["extra_info"], "language": "python"}}
    with pytest.raises(
        DataRowError, match="extra_info.language' is 'python' but the test spec's language is 'cpp'"
    ):
        validate_row(row, "row 0")
    assert validate_row(rows[0], "row 0").extra_info.language == "cpp"
