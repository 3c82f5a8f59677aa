"""Read source records from local files: jsonl (optionally gzipped), a JSON array, parquet, or a
Hugging Face ``datasets`` folder written by ``save_to_disk``. Nothing is downloaded.

A line of a jsonl file that does not parse is not fatal: it comes back as a record with an error,
so the converter reports it as a rejected row and every other row is still converted.
"""

from __future__ import annotations

import glob
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pyarrow.parquet as pq


class SourceError(ValueError):
    """The input as a whole cannot be read (missing file, unknown kind, split not in a DatasetDict)."""


@dataclass(frozen=True)
class SourceRecord:
    """One input record: its position in the source, and either its fields or why it is unreadable."""

    index: int
    data: dict[str, Any] | None
    error: str | None = None


class RecordSource:
    """The records of one input, with their count known up front (for the progress bar).

    ``path`` may be a glob pattern (``TACO/train-*.parquet``): the matching files are read in name
    order as one input, and record indices run on across them.
    """

    def __init__(self, path: str | Path, split: str | None = None) -> None:
        self.paths = _expand(str(path))
        self.split = split
        self.kinds = [_detect_kind(p) for p in self.paths]
        if "hf" in self.kinds and len(self.paths) > 1:
            raise SourceError(f"{path}: a save_to_disk folder cannot be combined with other inputs")
        self._hf = _load_hf(self.paths[0], split) if self.kinds[0] == "hf" else None
        if self._hf is None and split is not None:
            raise SourceError(
                f"{path}: --source-split is for save_to_disk folders, not {self.kinds[0]} files"
            )

    def __len__(self) -> int:
        if self._hf is not None:
            return len(self._hf)
        return sum(_count(p, kind) for p, kind in zip(self.paths, self.kinds, strict=True))

    def __iter__(self) -> Iterator[SourceRecord]:
        if self._hf is not None:
            for i, item in enumerate(self._hf):
                yield SourceRecord(i, dict(item))
            return
        offset = 0
        for path, kind in zip(self.paths, self.kinds, strict=True):
            n = 0
            for record in _iter_file(path, kind):
                error = record.error
                if error is not None and len(self.paths) > 1:
                    error = f"{path.name}: {error}"
                yield SourceRecord(offset + record.index, record.data, error)
                n += 1
            offset += n


def _expand(pattern: str) -> list[Path]:
    if Path(pattern).exists():
        return [Path(pattern)]
    if any(ch in pattern for ch in "*?["):
        matches = sorted(Path(p) for p in glob.glob(pattern))
        if matches:
            return matches
        raise SourceError(f"{pattern}: no file matches this pattern")
    raise SourceError(f"{pattern}: no such file or folder")


def _count(path: Path, kind: str) -> int:
    if kind == "parquet":
        return pq.ParquetFile(str(path)).metadata.num_rows
    if kind == "json":
        return len(_read_json_array(path))
    with _open_text(path) as f:
        return sum(1 for line in f if line.strip())


def _iter_file(path: Path, kind: str) -> Iterator[SourceRecord]:
    if kind == "parquet":
        i = 0
        for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=512):
            for item in batch.to_pylist():
                yield SourceRecord(i, item)
                i += 1
    elif kind == "json":
        for i, item in enumerate(_read_json_array(path)):
            yield _as_record(i, item)
    else:
        yield from _iter_jsonl(path)


def _detect_kind(path: Path) -> str:
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file():
            return "hf"
        raise SourceError(
            f"{path}: a folder must be a Hugging Face dataset saved with save_to_disk "
            "(it has no dataset_dict.json or dataset_info.json)"
        )
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return "jsonl"
    if name.endswith((".json", ".json.gz")):
        return "json"
    raise SourceError(
        f"{path}: unknown input kind; expected .jsonl[.gz], .json[.gz], .parquet or a dataset folder"
    )


def _load_hf(path: Path, split: str | None) -> Any:
    import datasets  # heavy import, only for dataset folders

    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        if split is None:
            raise SourceError(
                f"{path}: a DatasetDict with splits {list(loaded)}; choose one with --source-split"
            )
        if split not in loaded:
            raise SourceError(f"{path}: no split {split!r}; it has {list(loaded)}")
        return loaded[split]
    if split is not None:
        raise SourceError(f"{path}: a single Dataset has no splits, but split {split!r} was asked for")
    return loaded


def _open_text(path: Path) -> TextIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig")  # -sig: a byte-order mark is not part of the first record


def _read_json_array(path: Path) -> list[Any]:
    with _open_text(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise SourceError(
            f"{path}: a .json input must hold a JSON array of records, got {type(data).__name__}"
        )
    return data


def _as_record(index: int, item: Any) -> SourceRecord:
    if not isinstance(item, dict):
        return SourceRecord(index, None, f"record is a {type(item).__name__}, not a JSON object")
    return SourceRecord(index, item)


def _iter_jsonl(path: Path) -> Iterator[SourceRecord]:
    index = 0
    with _open_text(path) as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                yield SourceRecord(index, None, f"line {line_no} is not valid JSON: {exc.msg}")
            else:
                yield _as_record(index, item)
            index += 1
