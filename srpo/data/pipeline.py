"""Source records -> validated, de-duplicated verl rows, with an account of every record.

Each input record ends up in exactly one place: kept, rejected (with a reason code and detail), or
dropped as a duplicate (of an earlier record of this input, or of a row in another split's file).
The report's totals therefore always add up to the input's size: nothing is lost silently.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from srpo.data.formats import SourceFormat
from srpo.data.problem import ConvertOptions, Problem, RecordRejected
from srpo.data.readers import SourceError, SourceRecord
from srpo.data.rows import ROW_ARROW_SCHEMA, DataRowError, iter_parquet_rows, validate_row
from srpo.data.templates import PromptTemplate, TemplateError
from srpo.data.text import make_prompt_id, text_hash


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    index: int
    of: str  # "record <i>" (same input) or the path of the other split's file
    # Same problem text but a different reference answer / test spec than the row kept (in-split only):
    # worth a look, since one of the two sources is likely wrong.
    conflicting: bool = False


@dataclass
class PrepareReport:
    source: str
    format: str
    split: str
    total: int = 0
    kept: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    duplicates_in_split: list[Duplicate] = field(default_factory=list)
    duplicates_other_split: list[Duplicate] = field(default_factory=list)

    def rejected_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(r.reason for r in self.rejected).items()))

    def accounted(self) -> int:
        return (
            self.kept + len(self.rejected) + len(self.duplicates_in_split) + len(self.duplicates_other_split)
        )

    def summary(self, examples_per_reason: int = 3) -> str:
        lines = [
            f"{self.source} ({self.format}, split {self.split}): {self.total} records",
            f"  kept: {self.kept}",
            f"  rejected: {len(self.rejected)}",
        ]
        for reason, count in self.rejected_by_reason().items():
            lines.append(f"    {reason}: {count}")
            for r in [r for r in self.rejected if r.reason == reason][:examples_per_reason]:
                lines.append(f"      record {r.index}: {r.detail}")
        for title, dups in (
            ("duplicates within this input", self.duplicates_in_split),
            ("duplicates of another split", self.duplicates_other_split),
        ):
            conflicts = sum(d.conflicting for d in dups)
            note = f" ({conflicts} with a different answer or tests than the row kept)" if conflicts else ""
            lines.append(f"  {title}: {len(dups)}{note}")
            lines.extend(
                f"      record {d.index}: same problem as {d.of}" for d in dups[:examples_per_reason]
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rejected_by_reason"] = self.rejected_by_reason()
        return data


def _prompt_key(messages: Sequence[Mapping[str, Any]]) -> str:
    """Fallback de-duplication key for files without ``problem_hash``: the last user message."""
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    return "prompt:" + text_hash(users[-1] if users else "")


def reference_keys(paths: Sequence[str | Path]) -> dict[str, str]:
    """De-duplication keys of other splits' verl parquet files, each mapped to its file's path.

    Rows written by this package are matched on ``extra_info.problem_hash`` (the normalised problem
    text, independent of the prompt template); every row also on its normalised last user message.
    """
    keys: dict[str, str] = {}
    for path in paths:
        try:
            pq.read_schema(str(path))
        except Exception as exc:  # missing file, not parquet: pyarrow raises several types
            raise SourceError(f"{path}: cannot read this split's file for de-duplication: {exc}") from exc
        for row in iter_parquet_rows(path):
            extra = row.get("extra_info") or {}
            if extra.get("problem_hash"):
                keys.setdefault("problem:" + extra["problem_hash"], str(path))
            prompt = row.get("prompt")
            if isinstance(prompt, list):
                keys.setdefault(_prompt_key(prompt), str(path))
    return keys


def convert_records(
    records: Iterable[SourceRecord],
    fmt: SourceFormat,
    template: PromptTemplate,
    *,
    source: str,
    split: str = "train",
    options: ConvertOptions | None = None,
    reference: Mapping[str, str] | None = None,
) -> tuple[list[dict[str, Any]], PrepareReport]:
    """Convert, de-duplicate, render and validate; return the kept rows (input order) and the report.

    ``reference`` holds other splits' keys (``reference_keys``): a problem found there is dropped.
    """
    if template.domain != fmt.domain:
        raise TemplateError(
            f"template {template.name!r} is for {template.domain}, format {fmt.name!r} is {fmt.domain}"
        )
    options = options or ConvertOptions()
    if fmt.domain == "code" and template.language != options.language:
        raise TemplateError(
            f"template {template.name!r} asks for {template.language} programs, the conversion is for "
            f"{options.language} (choose a template with language: {options.language})"
        )
    reference = reference or {}
    report = PrepareReport(source=source, format=fmt.name, split=split)
    rows: list[dict[str, Any]] = []
    kept_row_of: dict[str, int] = {}  # problem hash -> position in ``rows``

    for record in records:
        report.total += 1
        if record.data is None:
            report.rejected.append(Rejection(record.index, "unreadable_record", record.error or "unreadable"))
            continue
        try:
            problem = fmt.convert(record.data, options)
            if fmt.domain == "code":
                problem = in_language(problem, options.language)
        except RecordRejected as exc:
            report.rejected.append(Rejection(record.index, exc.reason, exc.detail))
            continue
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            # A record of a shape no converter rule foresaw: reported (it may reveal a converter bug)
            # rather than ending a long conversion with every other record lost.
            detail = f"{type(exc).__name__}: {exc}"
            report.rejected.append(Rejection(record.index, "converter_error", detail))
            continue

        # Repeats are common (DAPO-Math-17k ships each problem ~100 times): settle them before the
        # costlier rendering and validation. Only kept rows count as seen.
        problem_hash = text_hash(problem.problem)
        if problem_hash in kept_row_of:
            kept = rows[kept_row_of[problem_hash]]
            conflicting = kept["reward_model"]["ground_truth"] != problem.ground_truth
            origin = f"record {kept['extra_info']['index']}"
            report.duplicates_in_split.append(Duplicate(record.index, origin, conflicting))
            continue
        try:
            messages = template.render(problem)
        except TemplateError as exc:
            report.rejected.append(Rejection(record.index, "template_error", str(exc)))
            continue
        row = _make_row(fmt, problem, messages, split, record.index, problem_hash)
        try:
            validate_row(row, f"{source} record {record.index}")
        except DataRowError as exc:
            report.rejected.append(Rejection(record.index, "invalid_row", str(exc)))
            continue
        other = reference.get("problem:" + problem_hash) or reference.get(_prompt_key(messages))
        if other is not None:
            report.duplicates_other_split.append(Duplicate(record.index, other))
            continue
        kept_row_of[problem_hash] = len(rows)
        rows.append(row)
        report.kept += 1
    return rows, report


def in_language(problem: Problem, language: str) -> Problem:
    """The code problem asked in ``language``: its spec says so; only stdio tests carry over from Python."""
    if language == "python":
        return problem
    if problem.test_format != "stdio":
        raise RecordRejected(
            "bad_tests",
            f"{problem.test_format} tests are Python code; only stdio problems can be kept for {language}",
        )
    spec = {**json.loads(problem.ground_truth), "language": language}
    return replace(
        problem, ground_truth=json.dumps(spec, ensure_ascii=False), language=language, starter_code=""
    )


def _make_row(
    fmt: SourceFormat,
    problem: Problem,
    messages: list[dict[str, str]],
    split: str,
    index: int,
    problem_hash: str,
) -> dict[str, Any]:
    return {
        "data_source": fmt.data_source,
        "prompt": messages,
        "ability": fmt.domain,
        "reward_model": {"style": "rule", "ground_truth": problem.ground_truth},
        "extra_info": {
            "prompt_id": make_prompt_id(fmt.data_source, problem_hash),
            "domain": fmt.domain,
            "split": split,
            "index": index,
            "difficulty": problem.difficulty,
            "source_id": problem.source_id,
            "problem_hash": problem_hash,
            "language": problem.language if fmt.domain == "code" else None,
        },
    }


def write_rows(rows: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Write rows as parquet with the fixed row schema; atomically, so a crash leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(list(rows), schema=ROW_ARROW_SCHEMA)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def write_report(report: PrepareReport, path: str | Path) -> None:
    """The full account as JSON (compact: a large source can have millions of duplicates)."""
    Path(path).write_text(json.dumps(report.to_dict(), ensure_ascii=False) + "\n", encoding="utf-8")


__all__ = [
    "Duplicate",
    "PrepareReport",
    "Rejection",
    "convert_records",
    "reference_keys",
    "write_report",
    "write_rows",
]
