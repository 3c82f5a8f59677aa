"""Shared helpers: convert a fixture file the way the CLI does, and look at the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from srpo.data.formats import get_format
from srpo.data.pipeline import PrepareReport, convert_records
from srpo.data.problem import ConvertOptions
from srpo.data.readers import RecordSource
from srpo.data.templates import load_template

FIXTURES = Path(__file__).parent / "fixtures"


def convert_fixture(
    fmt: str, filename: str, *, split: str = "train", options: ConvertOptions | None = None, reference=None
) -> tuple[list[dict[str, Any]], PrepareReport]:
    spec = get_format(fmt)
    path = FIXTURES / filename
    rows, report = convert_records(
        RecordSource(path),
        spec,
        load_template(spec.default_template),
        source=str(path),
        split=split,
        options=options,
        reference=reference,
    )
    # Nothing is lost: every record is kept, rejected or a duplicate.
    assert report.accounted() == report.total == len(RecordSource(path))
    return rows, report


def fixture_records(filename: str) -> list[dict[str, Any]]:
    """The records of a jsonl fixture, as written (for reference solutions and the like)."""
    with open(FIXTURES / filename, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def kept_indices(rows: list[dict[str, Any]]) -> list[int]:
    return [r["extra_info"]["index"] for r in rows]


def rejections(report: PrepareReport) -> dict[int, str]:
    return {r.index: r.reason for r in report.rejected}


def answers(rows: list[dict[str, Any]]) -> list[str]:
    return [r["reward_model"]["ground_truth"] for r in rows]


def spec_of(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["reward_model"]["ground_truth"])
