"""Building the code test specs of ``docs/data_format.md`` from the test encodings of public datasets.

Every helper raises RecordRejected with reason ``bad_tests`` (unparsable), ``no_tests`` (none left)
or ``unsupported_tests`` (well-formed, but not expressible as a spec the sandbox runs).
"""

from __future__ import annotations

import ast
import base64
import binascii
import io
import json
import pickle
import re
import zlib
from collections.abc import Sequence
from typing import Any

from srpo.data.problem import RecordRejected

# LeetCode problems on linked lists and trees pass ListNode/TreeNode objects, which JSON call
# arguments cannot express; those problems are rejected rather than silently mis-tested.
_HELPER_CLASSES = re.compile(r"\b(ListNode|TreeNode|Node)\b")


def spec_json(spec: dict[str, Any]) -> str:
    """The spec as JSON text; NaN/inf or non-JSON values reject the record instead of writing bad JSON."""
    if not spec.get("cases"):
        raise RecordRejected("no_tests", "the record has no test cases")
    try:
        return json.dumps(spec, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RecordRejected("bad_tests", f"test values are not JSON-serialisable: {exc}") from exc


def stdio_spec(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"format": "stdio", "compare": "tokens", "cases": [{"input": i, "output": o} for i, o in pairs]}


def call_spec(fn_name: str, cases: Sequence[tuple[list[Any], dict[str, Any], Any]]) -> dict[str, Any]:
    if not fn_name.isidentifier():
        raise RecordRejected("bad_tests", f"function name {fn_name!r} is not a Python identifier")
    return {
        "format": "call",
        "fn_name": fn_name,
        "cases": [{"args": args, "kwargs": kwargs, "expected": expected} for args, kwargs, expected in cases],
    }


def assert_spec(entry_point: str, programs: Sequence[str]) -> dict[str, Any]:
    return {"format": "assert", "entry_point": entry_point, "cases": [{"code": p} for p in programs]}


def reject_helper_classes(starter_code: str) -> None:
    """Reject problems whose signature takes or returns LeetCode's ListNode/TreeNode/Node objects."""
    found = _HELPER_CLASSES.search(starter_code)
    if found:
        raise RecordRejected(
            "unsupported_tests",
            f"the signature uses {found.group(1)} objects, which JSON call arguments cannot build",
        )


def io_text(value: Any, what: str) -> str:
    """A test input/output as text; datasets sometimes store it as a list of lines."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value) + ("\n" if value else "")
    raise RecordRejected(
        "bad_tests", f"a test {what} must be text or a list of lines, got {type(value).__name__}"
    )


class _StringsOnly(pickle.Unpickler):
    """LiveCodeBench pickles a JSON string; refuse anything that would import or build objects."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a test-case blob")


def decode_lcb_tests(value: Any, field: str) -> list[dict[str, Any]]:
    """LiveCodeBench test cases: a JSON list, or (private tests of code_generation_lite) the same JSON
    pickled, zlib-compressed and base64-encoded."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    if isinstance(value, list):
        cases: Any = value
    elif isinstance(value, str):
        try:
            cases = json.loads(value)
        except json.JSONDecodeError:
            try:
                blob = zlib.decompress(base64.b64decode(value.encode("ascii"), validate=True))
                text = _StringsOnly(io.BytesIO(blob)).load()
                cases = json.loads(text) if isinstance(text, str) else text
            except (
                binascii.Error,
                zlib.error,
                pickle.UnpicklingError,
                UnicodeEncodeError,
                ValueError,
                EOFError,
            ) as exc:
                raise RecordRejected(
                    "bad_tests", f"field '{field}' is neither JSON nor an encoded test blob: {exc}"
                ) from exc
    else:
        raise RecordRejected(
            "bad_tests", f"field '{field}' must be text or a list, got {type(value).__name__}"
        )
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        raise RecordRejected("bad_tests", f"field '{field}' must decode to a list of test objects")
    return cases


def json_lines_args(text: str, what: str) -> list[Any]:
    """LiveCodeBench functional input: one JSON value per line, one line per argument."""
    try:
        return [json.loads(line) for line in text.split("\n") if line.strip()]
    except json.JSONDecodeError as exc:
        raise RecordRejected("bad_tests", f"{what} is not one JSON value per line: {exc.msg}") from exc


def python_literal(text: str, what: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise RecordRejected("bad_tests", f"{what} {text[:80]!r} is not a Python literal") from exc


def python_call_arguments(text: str, what: str) -> tuple[list[Any], dict[str, Any]]:
    """LeetCode example input such as ``nums = [2,7], target = 9`` -> (args, kwargs)."""
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError as exc:
        raise RecordRejected("bad_tests", f"{what} {text[:80]!r} is not an argument list") from exc
    assert isinstance(call, ast.Call)
    try:
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {}
        for kw in call.keywords:
            if kw.arg is None:
                raise ValueError("** unpacking")
            kwargs[kw.arg] = ast.literal_eval(kw.value)
    except (ValueError, SyntaxError, TypeError) as exc:
        raise RecordRejected(
            "bad_tests", f"{what} {text[:80]!r} holds a value that is not a literal"
        ) from exc
    return args, kwargs


def unwrap_call_outputs(outputs: list[Any]) -> list[Any]:
    """APPS/TACO store a call-based expected value wrapped in a one-element list (``[[3], [5]]``),
    and their checkers accept either form. When every output of a problem is so wrapped we unwrap,
    otherwise we keep the values as they are."""
    if outputs and all(isinstance(o, list) and len(o) == 1 for o in outputs):
        return [o[0] for o in outputs]
    return outputs
