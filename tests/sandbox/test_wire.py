"""`/run_batch` wire format and the service's Prometheus text, without Docker (fast)."""

from __future__ import annotations

import json
import re

import pytest

from sandbox.api import RunResult, TestResult, TestSpec, Verdict
from sandbox.metrics import ServiceMetrics
from sandbox.remote import RemoteSandbox, url_list
from sandbox.wire import BadRequest, decode_batch, decode_results, encode_batch, encode_results

STDIO = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "1\n", "output": "1\n"}] * 2})
CALL = TestSpec.from_dict({"format": "call", "fn_name": "f", "cases": [{"args": [[1, 2]], "expected": 3}]})


def test_batch_round_trip_keeps_programs_specs_and_order():
    body = encode_batch("r-1", [("print(1)", STDIO), ("def f(x): return sum(x)", CALL)], fail_fast=True)
    request_id, fail_fast, items = decode_batch(body)
    assert (request_id, fail_fast) == ("r-1", True)
    assert items == [("print(1)", STDIO), ("def f(x): return sum(x)", CALL)]


def test_results_round_trip_and_mismatches_are_refused():
    results = [
        RunResult(
            [TestResult(Verdict.PASSED, 0.01), TestResult(Verdict.RUNTIME_ERROR, 0.02, "tb", "boom", 1)]
        ),
        RunResult([TestResult(Verdict.WRONG_ANSWER, 0.03, "", "expected 3, got 4")]),
    ]
    body = encode_results("r-2", results)
    assert decode_results(body, "r-2", [STDIO, CALL]) == results
    with pytest.raises(ValueError, match="is for request 'r-2'"):
        decode_results(body, "r-3", [STDIO, CALL])
    with pytest.raises(ValueError, match="2 results for 1 runs"):
        decode_results(body, "r-2", [STDIO])
    with pytest.raises(ValueError, match="one test per case"):
        decode_results(body, "r-2", [CALL, STDIO])
    doc = json.loads(body)
    doc["results"][0][0]["verdict"] = "great"
    with pytest.raises(ValueError, match="unknown verdict 'great'"):
        decode_results(json.dumps(doc).encode(), "r-2", [STDIO, CALL])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[]", "JSON object"),
        (b'{"runs": []}', "request_id"),
        (b'{"request_id": "a", "runs": []}', "runs"),
        (b'{"request_id": "a", "fail_fast": 1, "runs": [{}]}', "fail_fast"),
        (
            b'{"request_id": "a", "runs": [{"program": "x", "spec": {"format": "stdio", "cases": []}}]}',
            "runs[0].spec",
        ),
    ],
)
def test_bad_batches_name_the_field(body: bytes, field: str):
    with pytest.raises(BadRequest, match=re.escape(field)):
        decode_batch(body)


def test_metrics_text_is_prometheus_exposition():
    m = ServiceMetrics()
    m.enqueue(3)
    m.start()
    m.finish(["passed", "wrong_answer"], 0.5)
    m.request("/run_batch", 200)
    text = m.render(workers=4, healthy=True)
    sample = re.compile(r'^srpo_sandbox_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$')
    for line in text.strip().splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
    assert "srpo_sandbox_queue_depth 2" in text and "srpo_sandbox_runs_total 1" in text
    assert 'srpo_sandbox_tests_total{verdict="wrong_answer"} 1' in text
    assert 'srpo_sandbox_requests_total{endpoint="/run_batch",code="200"} 1' in text


def test_server_urls_are_checked():
    assert url_list("http://a:1, http://b:2,") == ["http://a:1", "http://b:2"]
    with pytest.raises(ValueError, match="at least one"):
        url_list([])
    with pytest.raises(ValueError, match="chunk_size"):
        RemoteSandbox(["http://a:1"], chunk_size=0)
