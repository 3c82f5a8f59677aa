"""Parquet rows follow docs/data_format.md, and prompts stay short for the tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from srpo.embedded.dataset import generate

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_embedded_data.py"

EXTRA_KEYS = {"prompt_id", "domain", "split", "index", "difficulty"}
# srpo.data.rows' schema also has these, null for generated tasks (no upstream dataset; a null
# language means the spec's, Python here)
UPSTREAM_KEYS = {"source_id", "problem_hash", "language"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("embedded")
    args = [
        "--out",
        str(out),
        "--n-train",
        "200",
        "--n-test",
        "40",
        "--code-n-train",
        "80",
        "--code-n-test",
        "20",
    ]
    subprocess.run([sys.executable, str(SCRIPT), *args], check=True, capture_output=True, timeout=120)
    return out


@pytest.mark.parametrize(
    ("family", "source", "domain"), [("arith", "srpo/arith", "math"), ("codegen", "srpo/codegen", "code")]
)
def test_rows_follow_the_contract(data_dir, family, source, domain):
    for split, count in (
        ("train", 200 if family == "arith" else 80),
        ("test", 40 if family == "arith" else 20),
    ):
        rows = pq.read_table(data_dir / f"{family}_{split}.parquet").to_pylist()
        assert len(rows) == count
        assert len({r["extra_info"]["prompt_id"] for r in rows}) == count
        for i, row in enumerate(rows):
            assert row["data_source"] == source
            assert row["ability"] == domain
            assert [m["role"] for m in row["prompt"]] == ["user"] and row["prompt"][0]["content"]
            assert row["reward_model"]["style"] == "rule"
            extra = row["extra_info"]
            assert set(extra) == EXTRA_KEYS | UPSTREAM_KEYS
            assert all(extra[k] is None for k in UPSTREAM_KEYS)
            assert (extra["domain"], extra["split"], extra["index"]) == (domain, split, i)
            assert extra["difficulty"] in {"1", "2", "3"}
            truth = row["reward_model"]["ground_truth"]
            if domain == "math":
                assert "\\boxed{}" in row["prompt"][0]["content"]
                assert truth.lstrip("-").replace("/", "").isdigit()
            else:
                spec = json.loads(truth)
                assert spec["format"] == "call" and spec["fn_name"] == "f" and len(spec["cases"]) == 4
                assert all(set(c) == {"args", "kwargs", "expected"} for c in spec["cases"])


def test_splits_on_disk_are_disjoint(data_dir):
    for family in ("arith", "codegen"):
        ids = [
            {
                r["prompt_id"]
                for r in pq.read_table(data_dir / f"{family}_{s}.parquet").column("extra_info").to_pylist()
            }
            for s in ("train", "test")
        ]
        assert ids[0].isdisjoint(ids[1])


def test_the_projects_row_validator_accepts_the_files(data_dir):
    rows = pytest.importorskip("srpo.data.rows")
    for path in sorted(data_dir.glob("*.parquet")):
        assert rows.validate_parquet(path) > 0


def test_prompt_plus_answer_fits_the_tiny_context(tiny_tokenizer):
    longest = 0
    for family in ("arith", "codegen"):
        for p in generate(family, "train", 300, (1, 2, 3), seed=0):
            text = tiny_tokenizer.apply_chat_template(
                [{"role": "user", "content": p.question}, {"role": "assistant", "content": p.solution}],
                tokenize=False,
            )
            longest = max(longest, len(tiny_tokenizer.encode(text, add_special_tokens=False)))
    assert longest < 128
