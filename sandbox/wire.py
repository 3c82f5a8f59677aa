"""JSON form of `/run_batch` requests and replies, shared by the service and its client.

A request is ``{"request_id": str, "fail_fast": bool, "runs": [{"program": str, "spec": {...}}]}``
with specs in the form of docs/data_format.md; the reply is ``{"request_id": str, "results":
[[test, ...], ...]}``, one list of test results per run, in request order. The request id makes a
retry idempotent: a server that sees an id again answers from its record of the first run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sandbox.api import BadTestSpec, RunResult, TestResult, TestSpec, Verdict


class BadRequest(ValueError):
    """A request body the service cannot accept; the message names the bad field."""


def encode_batch(request_id: str, items: Sequence[tuple[str, TestSpec]], fail_fast: bool) -> bytes:
    """The body of a `/run_batch` request."""
    runs = [{"program": program, "spec": spec.to_dict()} for program, spec in items]
    return json.dumps({"request_id": request_id, "fail_fast": fail_fast, "runs": runs}).encode()


def body_digest(body: bytes) -> str:
    """Fingerprint of a request body: a reused request id must come with the same runs."""
    return hashlib.sha256(body).hexdigest()


def decode_batch(body: bytes) -> tuple[str, bool, list[tuple[str, TestSpec]]]:
    """``(request_id, fail_fast, [(program, spec)])`` of a `/run_batch` body, or BadRequest."""
    doc = _json_object(body)
    request_id = doc.get("request_id")
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 200:
        raise BadRequest("field 'request_id' must be a non-empty string of at most 200 characters")
    fail_fast = doc.get("fail_fast", False)
    if not isinstance(fail_fast, bool):
        raise BadRequest("field 'fail_fast' must be true or false")
    runs = doc.get("runs")
    if not isinstance(runs, list) or not runs:
        raise BadRequest("field 'runs' must be a non-empty list")
    items: list[tuple[str, TestSpec]] = []
    for i, run in enumerate(runs):
        if not isinstance(run, Mapping) or not isinstance(run.get("program"), str):
            raise BadRequest(f"runs[{i}]: needs a string field 'program' and an object field 'spec'")
        try:
            items.append((run["program"], TestSpec.from_dict(run.get("spec"))))
        except BadTestSpec as e:
            raise BadRequest(f"runs[{i}].spec: {e}") from None
    return request_id, fail_fast, items


def encode_results(request_id: str, results: Sequence[RunResult]) -> bytes:
    """The body of a `/run_batch` reply."""
    rows = [
        [
            {
                "verdict": t.verdict.value,
                "wall_time_s": round(t.wall_time_s, 6),
                "stderr_tail": t.stderr_tail,
                "detail": t.detail,
                "exit_code": t.exit_code,
            }
            for t in result.tests
        ]
        for result in results
    ]
    return json.dumps({"request_id": request_id, "results": rows}).encode()


def decode_results(body: bytes, request_id: str, specs: Sequence[TestSpec]) -> list[RunResult]:
    """The RunResults of a `/run_batch` reply, checked against what was asked.

    The reply must echo ``request_id`` and hold one result per run with one test per case of its
    spec; anything else raises ValueError, so a confused server never attributes results to the
    wrong program.
    """
    doc = _json_object(body)
    if doc.get("request_id") != request_id:
        raise ValueError(f"reply is for request {doc.get('request_id')!r}, not {request_id!r}")
    rows = doc.get("results")
    if not isinstance(rows, list) or len(rows) != len(specs):
        got = len(rows) if isinstance(rows, list) else type(rows).__name__
        raise ValueError(f"reply has {got} results for {len(specs)} runs")
    results = []
    for i, (row, spec) in enumerate(zip(rows, specs, strict=True)):
        if not isinstance(row, list) or len(row) != len(spec.cases):
            raise ValueError(f"reply result {i} does not have one test per case ({len(spec.cases)})")
        results.append(RunResult([_test(t, i) for t in row]))
    return results


def _test(t: Any, i: int) -> TestResult:
    if not isinstance(t, Mapping):
        raise ValueError(f"reply result {i}: a test result must be an object")
    try:
        verdict = Verdict(t.get("verdict"))
    except ValueError:
        raise ValueError(f"reply result {i}: unknown verdict {t.get('verdict')!r}") from None
    code = t.get("exit_code")
    return TestResult(
        verdict,
        float(t.get("wall_time_s") or 0.0),
        str(t.get("stderr_tail") or ""),
        str(t.get("detail") or ""),
        code if isinstance(code, int) else None,
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(f"body is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise BadRequest(f"body must be a JSON object, got {type(doc).__name__}")
    return doc
