"""The row contract: validate_row / validate_parquet accept good rows and name the bad field otherwise."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from srpo.data.pipeline import write_rows
from srpo.data.rows import DataRowError, validate_parquet, validate_parquet_files, validate_row

CODE_SPEC = {"format": "stdio", "compare": "tokens", "cases": [{"input": "1 2\n", "output": "3\n"}]}


def math_row(prompt_id: str = "gsm8k/1") -> dict:
    return {
        "data_source": "gsm8k",
        "prompt": [{"role": "user", "content": "What is 1 + 2?"}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": "3"},
        "extra_info": {"prompt_id": prompt_id, "domain": "math", "split": "train", "index": 0},
    }


def code_row(prompt_id: str = "taco/1") -> dict:
    return {
        "data_source": "taco",
        "prompt": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Add two numbers."},
        ],
        "ability": "code",
        "reward_model": {"style": "rule", "ground_truth": json.dumps(CODE_SPEC)},
        "extra_info": {
            "prompt_id": prompt_id,
            "domain": "code",
            "split": "test",
            "index": 3,
            "difficulty": "EASY",
        },
    }


def test_good_rows_come_back_typed():
    row = validate_row(math_row(), "here")
    assert (row.ability, row.reward_model.ground_truth, row.extra_info.prompt_id) == ("math", "3", "gsm8k/1")
    row = validate_row(code_row(), "here")
    assert [m.role for m in row.prompt] == ["system", "user"]
    assert row.extra_info.difficulty == "EASY" and row.extra_info.index == 3


def test_domain_defaults_to_ability_and_numeric_difficulty_becomes_text():
    row = math_row()
    del row["extra_info"]["domain"]
    row["extra_info"]["difficulty"] = 5
    typed = validate_row(row, "here")
    assert typed.extra_info.domain == "math" and typed.extra_info.difficulty == "5"


def _broken(base, path: str, value):
    row = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = row
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is KeyError:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return row


@pytest.mark.parametrize(
    ("base", "path", "value", "field"),
    [
        (math_row, "data_source", "", "'data_source' must not be empty"),
        (math_row, "prompt", [], "'prompt' must hold at least one message"),
        (math_row, "prompt", "What is 1 + 2?", "'prompt' must be a list"),
        (math_row, "prompt.0.role", "robot", "'prompt[0].role'"),
        (math_row, "prompt.0.content", None, "'prompt[0].content' must be a string"),
        (math_row, "prompt.0.role", "system", "'prompt' must contain a user message"),
        (math_row, "ability", "MATH", "'ability' must be one of"),
        (math_row, "reward_model.style", "model", "'reward_model.style'"),
        (math_row, "reward_model.ground_truth", "  ", "'reward_model.ground_truth' must not be empty"),
        (math_row, "reward_model.ground_truth", 3, "'reward_model.ground_truth' must be a string"),
        (math_row, "extra_info.prompt_id", KeyError, "'extra_info.prompt_id'"),
        (math_row, "extra_info.domain", "code", "'extra_info.domain' is 'code' but ability is 'math'"),
        (math_row, "extra_info.index", "7", "'extra_info.index'"),
        (math_row, "extra_info.difficulty", [1], "'extra_info.difficulty'"),
        (math_row, "extra_info.split", 1, "'extra_info.split'"),
        (code_row, "reward_model.ground_truth", "not json", "not a valid code test spec"),
        (
            code_row,
            "reward_model.ground_truth",
            json.dumps({"format": "stdio", "cases": []}),
            "'cases' is empty",
        ),
        (
            code_row,
            "reward_model.ground_truth",
            json.dumps({"format": "call", "cases": [{"args": [], "expected": 1}]}),
            "fn_name",
        ),
    ],
)
def test_bad_field_is_named(base, path, value, field):
    with pytest.raises(DataRowError) as err:
        validate_row(_broken(base(), path, value), "train.parquet row 7")
    message = str(err.value)
    assert message.startswith("train.parquet row 7: ")
    assert field in message


def test_missing_columns_and_non_mapping_rows():
    row = math_row()
    del row["reward_model"]
    with pytest.raises(DataRowError, match=r"row 2: missing column\(s\) \['reward_model'\]"):
        validate_row(row, "row 2")
    with pytest.raises(DataRowError, match="must be a mapping"):
        validate_row(["not", "a", "row"], "row 3")


def test_parquet_round_trip_and_pandas_arrays(tmp_path):
    path = tmp_path / "mixed.parquet"
    write_rows([math_row("a"), code_row("b")], path)
    assert validate_parquet(path) == 2
    # pandas hands nested lists over as numpy arrays; the validator accepts them too.
    for i, record in enumerate(pd.read_parquet(path).to_dict("records")):
        validate_row(record, f"pandas row {i}")
    other = tmp_path / "other.parquet"
    write_rows([math_row("c")], other)
    assert validate_parquet_files([path, other]) == 3


def test_parquet_errors_name_file_and_row(tmp_path):
    bad = math_row("c")
    bad["ability"] = "chemistry"
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([math_row("a"), math_row("b"), bad]), path)
    with pytest.raises(DataRowError, match=rf"{path} row 2: field 'ability'"):
        validate_parquet(path)


def test_parquet_rejects_repeated_prompt_id(tmp_path):
    path = tmp_path / "dup.parquet"
    write_rows([math_row("same"), math_row("other"), math_row("same")], path)
    with pytest.raises(
        DataRowError, match=rf"row 2: field 'extra_info.prompt_id' 'same' repeats {path} row 0"
    ):
        validate_parquet(path)


def test_prompt_ids_are_unique_across_the_files_read_together(tmp_path):
    first, second = tmp_path / "math.parquet", tmp_path / "more.parquet"
    write_rows([math_row("a"), math_row("b")], first)
    write_rows([code_row("c"), math_row("b")], second)
    assert validate_parquet(first) == 2 and validate_parquet(second) == 2
    with pytest.raises(DataRowError, match=rf"{second} row 1: .*'b' repeats {first} row 1"):
        validate_parquet_files([first, second])


def test_parquet_file_level_errors(tmp_path):
    with pytest.raises(DataRowError, match="no such dataset file"):
        validate_parquet(tmp_path / "absent.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(DataRowError, match="not a readable parquet file"):
        validate_parquet(junk)
    narrow = tmp_path / "narrow.parquet"
    pq.write_table(pa.Table.from_pylist([{"prompt": "x"}]), narrow)
    with pytest.raises(DataRowError, match=r"missing column\(s\) \['data_source', 'ability'"):
        validate_parquet(narrow)
    empty = tmp_path / "empty.parquet"
    write_rows([], empty)
    with pytest.raises(DataRowError, match="holds no rows"):
        validate_parquet(empty)
