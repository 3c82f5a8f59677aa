"""Local inputs of every kind: jsonl (plain and gzipped), JSON array, parquet, save_to_disk folders."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from srpo.data.readers import RecordSource, SourceError

FIXTURES = Path(__file__).parent / "fixtures"
ROWS = [{"question": "q1", "answer": "#### 1"}, {"question": "q2", "answer": "#### 2"}]


def _records(source):
    return [(r.index, r.data, r.error) for r in source]


def test_jsonl_keeps_going_past_a_broken_line():
    source = RecordSource(FIXTURES / "gsm8k.jsonl")
    records = list(source)
    assert len(source) == len(records) == 7
    broken = [r for r in records if r.data is None]
    assert [(r.index, r.error.split(":")[0]) for r in broken] == [(4, "line 5 is not valid JSON")]
    assert [r.index for r in records] == list(range(7))


def test_jsonl_gz_and_non_object_lines(tmp_path):
    path = tmp_path / "rows.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps(ROWS[0]) + "\n\n[1, 2]\n" + json.dumps(ROWS[1]) + "\n")
    assert _records(RecordSource(path)) == [
        (0, ROWS[0], None),
        (1, None, "record is a list, not a JSON object"),
        (2, ROWS[1], None),
    ]


def test_json_array(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([*ROWS, "oops"]))
    records = _records(RecordSource(path))
    assert records[:2] == [(0, ROWS[0], None), (1, ROWS[1], None)]
    assert records[2] == (2, None, "record is a str, not a JSON object")
    path.write_text(json.dumps({"not": "a list"}))
    with pytest.raises(SourceError, match="JSON array"):
        len(RecordSource(path))


def test_parquet(tmp_path):
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    source = RecordSource(path)
    assert len(source) == 2 and _records(source) == [(0, ROWS[0], None), (1, ROWS[1], None)]


def test_save_to_disk_dataset_and_dataset_dict(tmp_path):
    single = tmp_path / "single"
    datasets.Dataset.from_list(ROWS).save_to_disk(str(single))
    assert _records(RecordSource(single)) == [(0, ROWS[0], None), (1, ROWS[1], None)]
    with pytest.raises(SourceError, match="single Dataset has no splits"):
        RecordSource(single, split="train")

    both = tmp_path / "both"
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(ROWS), "test": datasets.Dataset.from_list(ROWS[:1])}
    ).save_to_disk(str(both))
    assert len(RecordSource(both, split="test")) == 1
    with pytest.raises(SourceError, match=r"choose one with --source-split"):
        RecordSource(both)
    with pytest.raises(SourceError, match=r"no split 'validation'; it has \['train', 'test'\]"):
        RecordSource(both, split="validation")


def test_unreadable_inputs(tmp_path):
    with pytest.raises(SourceError, match="no such file or folder"):
        RecordSource(tmp_path / "missing.jsonl")
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(SourceError, match="unknown input kind"):
        RecordSource(tmp_path / "data.csv")
    (tmp_path / "folder").mkdir()
    with pytest.raises(SourceError, match="save_to_disk"):
        RecordSource(tmp_path / "folder")


def test_glob_pattern_reads_shards_in_name_order(tmp_path):
    for n, rows in enumerate([ROWS, [{"question": "q3"}], ROWS[:1]]):
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / f"train-{n:05d}-of-00003.parquet")
    (tmp_path / "train-00003-of-00003.jsonl").write_text('{"question": "q4"}\n{broken\n')
    source = RecordSource(tmp_path / "train-*")
    records = list(source)
    assert len(source) == len(records) == 6
    assert [r.index for r in records] == list(range(6))
    assert [r.data["question"] for r in records[:5]] == ["q1", "q2", "q3", "q1", "q4"]
    assert records[5].error.startswith("train-00003-of-00003.jsonl: line 2 is not valid JSON")
    with pytest.raises(SourceError, match="no file matches this pattern"):
        RecordSource(tmp_path / "test-*.parquet")
    with pytest.raises(SourceError, match="--source-split is for save_to_disk folders"):
        RecordSource(tmp_path / "train-00000-of-00003.parquet", split="train")
