"""What a converter extracts from one source record, and how it says that a record is unusable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

TEST_FORMATS = ("stdio", "call", "assert")
CODE_LANGUAGES = ("python", "cpp")  # what the sandbox runs (sandbox.api.SUPPORTED_LANGUAGES)


class RecordRejected(Exception):
    """A source record cannot become a row. ``reason`` is a short stable code (the report groups by it),
    ``detail`` says what exactly was wrong with this record."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Problem:
    """A converted record, before a prompt template turns it into a row.

    ``problem`` is the statement (also the de-duplication key); ``ground_truth`` the reference answer
    (math) or the JSON test spec (code); ``test_format`` is None for math, else the spec's format.
    """

    problem: str
    ground_truth: str
    test_format: str | None = None
    starter_code: str = ""
    fn_name: str = ""
    source_id: str | None = None
    difficulty: str | None = None
    language: str = "python"  # code only: the language the program is asked in (the spec's)


@dataclass(frozen=True)
class ConvertOptions:
    """Choices that apply to every record of a conversion."""

    # Keep at most this many test cases per code problem (public ones come first); None keeps all.
    max_cases: int | None = None
    # Keep only problems released in [date_from, date_until] (sources with a date, e.g. LiveCodeBench).
    date_from: date | None = None
    date_until: date | None = None
    # Code: the language the rows ask for. "cpp" keeps the problems whose tests are stdin/stdout
    # (language-neutral) and rejects call/assert ones, whose tests are Python code.
    language: str = "python"

    def __post_init__(self) -> None:
        if self.language not in CODE_LANGUAGES:
            raise ValueError(
                f"ConvertOptions.language must be one of {list(CODE_LANGUAGES)}, got {self.language!r}"
            )


def get_text(record: Mapping[str, Any], *names: str) -> str:
    """The first of ``names`` present in the record, as non-empty text; RecordRejected otherwise."""
    for name in names:
        if name in record and record[name] is not None:
            value = record[name]
            if not isinstance(value, str):
                raise RecordRejected(
                    "bad_field_type", f"field '{name}' must be text, got {type(value).__name__}"
                )
            if not value.strip():
                raise RecordRejected("empty_field", f"field '{name}' is empty")
            return value
    nulls = [n for n in names if n in record]
    if nulls:
        raise RecordRejected("empty_field", f"field '{nulls[0]}' is null")
    listed = " or ".join(f"'{n}'" for n in names)
    raise RecordRejected("missing_field", f"no field {listed} (has {sorted(record)})")


def get_optional_text(record: Mapping[str, Any], *names: str) -> str:
    """The first of ``names`` holding text, or '' (starter code and the like are optional)."""
    for name in names:
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def get_id(record: Mapping[str, Any], *names: str) -> str | None:
    """The record's own identifier (task_id, question_id...) as text, kept for tracing a row to its source."""
    for name in names:
        value = record.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value)
    return None
