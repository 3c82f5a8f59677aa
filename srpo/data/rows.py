"""The verl-format dataset row of ``docs/data_format.md`` as a typed schema, and its validator.

The trainer validates every row at start-up so that a malformed dataset stops the run with one
message naming the file, the row and the field, instead of failing hours later inside a reward
function. The converters validate every row they write with the same code.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from reward_fns.domains import domain_names

ROLES = ("system", "user", "assistant")
REQUIRED_COLUMNS = ("data_source", "prompt", "ability", "reward_model", "extra_info")

# The column types the converters write. verl reads any parquet, but writing one fixed schema keeps
# every file alike (optional fields are null, never missing) and lets files be concatenated.
ROW_ARROW_SCHEMA = pa.schema(
    [
        pa.field("data_source", pa.string(), nullable=False),
        pa.field(
            "prompt",
            pa.list_(pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])),
            nullable=False,
        ),
        pa.field("ability", pa.string(), nullable=False),
        pa.field(
            "reward_model",
            pa.struct([pa.field("style", pa.string()), pa.field("ground_truth", pa.string())]),
            nullable=False,
        ),
        pa.field(
            "extra_info",
            pa.struct(
                [
                    pa.field("prompt_id", pa.string()),
                    pa.field("domain", pa.string()),
                    pa.field("split", pa.string()),
                    pa.field("index", pa.int64()),
                    pa.field("difficulty", pa.string()),
                    pa.field("source_id", pa.string()),
                    pa.field("problem_hash", pa.string()),
                ]
            ),
            nullable=False,
        ),
    ]
)


class DataRowError(ValueError):
    """A dataset row breaks the row contract; the message names where (file and row) and the field."""


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class RewardModel:
    style: str
    ground_truth: str


@dataclass(frozen=True)
class ExtraInfo:
    prompt_id: str
    domain: str
    split: str | None = None
    index: int | None = None
    difficulty: str | None = None


@dataclass(frozen=True)
class Row:
    """One validated prompt: the contract's fields, typed (extra_info keys beyond them are not kept)."""

    data_source: str
    prompt: tuple[Message, ...]
    ability: str
    reward_model: RewardModel
    extra_info: ExtraInfo


def _fail(where: str, field: str, problem: str) -> DataRowError:
    return DataRowError(f"{where}: field '{field}' {problem}")


def _as_list(value: Any) -> list[Any] | None:
    """Lists come back from parquet as lists (pyarrow) or numpy arrays (pandas); accept both."""
    if isinstance(value, list | tuple):
        return list(value)
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        converted = value.tolist()
        return converted if isinstance(converted, list) else None
    return None


def _nonempty_str(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, field, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise _fail(where, field, "must not be empty")
    return value


def _optional_str(value: Any, where: str, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(where, field, f"must be a string or null, got {type(value).__name__}")
    return value


def _validate_prompt(value: Any, where: str) -> tuple[Message, ...]:
    items = _as_list(value)
    if items is None:
        raise _fail(where, "prompt", f"must be a list of messages, got {type(value).__name__}")
    if not items:
        raise _fail(where, "prompt", "must hold at least one message")
    messages = []
    for i, item in enumerate(items):
        field = f"prompt[{i}]"
        if not isinstance(item, Mapping):
            raise _fail(where, field, f"must be a {{role, content}} mapping, got {type(item).__name__}")
        role = item.get("role")
        if role not in ROLES:
            raise _fail(where, f"{field}.role", f"must be one of {list(ROLES)}, got {role!r}")
        content = _nonempty_str(item.get("content"), where, f"{field}.content")
        messages.append(Message(role=role, content=content))
    if not any(m.role == "user" for m in messages):
        raise _fail(where, "prompt", "must contain a user message")
    return tuple(messages)


def _validate_code_spec(ground_truth: str, where: str) -> None:
    # Imported here: the sandbox is a sibling package and only code rows need it.
    from sandbox import BadTestSpec, TestSpec

    try:
        TestSpec.from_json(ground_truth)
    except (BadTestSpec, ValueError, TypeError) as exc:
        raise _fail(where, "reward_model.ground_truth", f"is not a valid code test spec: {exc}") from exc


def validate_row(row: Mapping[str, Any], where: str) -> Row:
    """Check one row against the contract and return it typed; raise DataRowError naming the bad field.

    ``where`` says which row this is (e.g. ``"data/train.parquet row 17"``) and starts the message.
    """
    if not isinstance(row, Mapping):
        raise DataRowError(f"{where}: a row must be a mapping of columns, got {type(row).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in row]
    if missing:
        raise DataRowError(f"{where}: missing column(s) {missing}")

    data_source = _nonempty_str(row["data_source"], where, "data_source")
    prompt = _validate_prompt(row["prompt"], where)
    ability = row["ability"]
    if ability not in domain_names():
        raise _fail(where, "ability", f"must be one of {list(domain_names())}, got {ability!r}")

    reward_model = row["reward_model"]
    if not isinstance(reward_model, Mapping):
        raise _fail(where, "reward_model", f"must be a mapping, got {type(reward_model).__name__}")
    if reward_model.get("style") != "rule":
        raise _fail(where, "reward_model.style", f"must be 'rule', got {reward_model.get('style')!r}")
    ground_truth = _nonempty_str(reward_model.get("ground_truth"), where, "reward_model.ground_truth")

    extra = row["extra_info"]
    if not isinstance(extra, Mapping):
        raise _fail(where, "extra_info", f"must be a mapping, got {type(extra).__name__}")
    prompt_id = _nonempty_str(extra.get("prompt_id"), where, "extra_info.prompt_id")
    domain = extra.get("domain")
    if domain is None:
        domain = ability
    elif domain != ability:
        raise _fail(where, "extra_info.domain", f"is {domain!r} but ability is {ability!r}; they must agree")
    split = _optional_str(extra.get("split"), where, "extra_info.split")
    difficulty = extra.get("difficulty")
    if difficulty is not None and not isinstance(difficulty, str):
        # Numeric difficulties (e.g. a rating) are fine; keep them as text so the column has one type.
        if (
            isinstance(difficulty, bool)
            or not isinstance(difficulty, int | float)
            or not math.isfinite(difficulty)
        ):
            raise _fail(where, "extra_info.difficulty", f"must be a string or number, got {difficulty!r}")
        difficulty = str(difficulty)
    index = extra.get("index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        if hasattr(index, "item") and isinstance(index.item(), int):  # numpy integer from pandas
            index = int(index.item())
        else:
            raise _fail(where, "extra_info.index", f"must be an integer or null, got {index!r}")

    if ability == "code":
        _validate_code_spec(ground_truth, where)

    return Row(
        data_source=data_source,
        prompt=prompt,
        ability=ability,
        reward_model=RewardModel(style="rule", ground_truth=ground_truth),
        extra_info=ExtraInfo(
            prompt_id=prompt_id, domain=domain, split=split, index=index, difficulty=difficulty
        ),
    )


def iter_parquet_rows(path: str | Path, batch_size: int = 1024) -> Iterator[dict[str, Any]]:
    """Yield a parquet file's rows as plain dicts, a batch at a time (large files stay off the heap)."""
    parquet = pq.ParquetFile(str(path))
    for batch in parquet.iter_batches(batch_size=batch_size):
        yield from batch.to_pylist()


def validate_parquet(path: str | Path) -> int:
    """Validate every row of a verl-format parquet file; return the row count.

    Raises DataRowError naming the file, the row index and the field; also rejects two rows sharing
    a ``prompt_id``, since History Resampling keys its per-prompt records on it.
    """
    return _validate_file(Path(path), {})


def validate_parquet_files(paths: Sequence[str | Path]) -> int:
    """Validate the files read together (e.g. ``data.train_files``); return the total row count.

    A ``prompt_id`` must be unique across all of them, not only within each file.
    """
    seen: dict[str, str] = {}
    return sum(_validate_file(Path(p), seen) for p in paths)


def _validate_file(path: Path, seen: dict[str, str]) -> int:
    """Validate one file; ``seen`` maps the prompt ids met so far to where (``<file> row <i>``)."""
    if not path.is_file():
        raise DataRowError(f"{path}: no such dataset file")
    try:
        columns = pq.read_schema(str(path)).names
    except Exception as exc:  # pyarrow raises several types for a file that is not parquet
        raise DataRowError(f"{path}: not a readable parquet file: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise DataRowError(f"{path}: missing column(s) {missing} (has {columns})")

    count = 0
    for i, raw in enumerate(iter_parquet_rows(path)):
        where = f"{path} row {i}"
        pid = validate_row(raw, where).extra_info.prompt_id
        if pid in seen:
            raise _fail(where, "extra_info.prompt_id", f"{pid!r} repeats {seen[pid]}")
        seen[pid] = where
        count += 1
    if count == 0:
        raise DataRowError(f"{path}: the file holds no rows")
    return count
