"""Parsing of test specs and the host-side judging, without any sandbox."""

from __future__ import annotations

import json
import signal

import pytest

from sandbox import BadTestSpec, SandboxConfig, TestSpec, Verdict, plain
from sandbox.harness import build_request, json_equal, judge_case, stdout_matches

STDIO = {"format": "stdio", "compare": "tokens", "cases": [{"input": "1 2\n", "output": "3\n"}]}
CALL = {"format": "call", "fn_name": "add", "cases": [{"args": [1, 2], "kwargs": {}, "expected": 3}]}
ASSERT = {"format": "assert", "entry_point": "add", "cases": [{"code": "assert add(1, 2) == 3\n"}]}


@pytest.mark.parametrize("spec", [STDIO, CALL, ASSERT])
def test_examples_of_the_contract_round_trip(spec):
    parsed = TestSpec.from_json(json.dumps(spec))
    assert TestSpec.from_dict(parsed.to_dict()) == parsed
    assert parsed.format == spec["format"]
    assert len(parsed.cases) == 1


def test_optional_fields_are_read():
    spec = TestSpec.from_dict({**STDIO, "compare": "exact", "time_limit_s": 2, "memory_mb": 128})
    assert (spec.compare, spec.time_limit_s, spec.memory_mb, spec.language) == ("exact", 2.0, 128, "python")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"cases": []}', "missing required field 'format'"),
        ('{"format": "stdio"}', "missing required field 'cases'"),
        ('{"format": "stdio", "cases": []}', "'cases' is empty"),
        ('{"format": "yaml", "cases": [{}]}', "unknown format 'yaml'"),
        ('{"format": "stdio", "cases": [{"input": "1"}]}', "case 0: missing required field 'output'"),
        ('{"format": "stdio", "cases": [{"input": 1, "output": "1"}]}', "field 'input' must be str"),
        (
            '{"format": "stdio", "compare": "fuzzy", "cases": [{"input": "", "output": ""}]}',
            "compare mode 'fuzzy'",
        ),
        ('{"format": "call", "cases": [{"args": [], "expected": 1}]}', "needs 'fn_name'"),
        ('{"format": "call", "fn_name": "f", "cases": [{"args": []}]}', "missing required field 'expected'"),
        (
            '{"format": "call", "fn_name": "f", "cases": [{"args": 3, "expected": 1}]}',
            "'args' must be a list",
        ),
        ('{"format": "assert", "cases": [{"test": "x"}]}', "missing required field 'code'"),
        ('{"format": "assert", "language": "rust", "cases": [{"code": ""}]}', "language 'rust'"),
        (
            '{"format": "assert", "time_limit_s": -1, "cases": [{"code": ""}]}',
            "time_limit_s must be a positive",
        ),
        ('{"format": "assert", "memory_mb": "big", "cases": [{"code": ""}]}', "memory_mb must be an integer"),
    ],
)
def test_bad_specs_name_the_problem(raw, message):
    with pytest.raises(BadTestSpec, match=message.replace("(", r"\(")):
        TestSpec.from_json(raw)
    assert issubclass(BadTestSpec, ValueError)


def test_request_carries_no_expected_values():
    spec = TestSpec.from_dict(
        {"format": "call", "fn_name": "f", "cases": [{"args": [1], "expected": "SECRET-ANSWER"}]}
    )
    req = build_request(7, "def f(x): return x", spec, SandboxConfig())
    assert "SECRET-ANSWER" not in json.dumps(req)
    stdio = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "q", "output": "SECRET-OUT"}]})
    assert "SECRET-OUT" not in json.dumps(build_request(8, "", stdio, SandboxConfig()))


@pytest.mark.parametrize(
    ("actual", "expected", "mode", "same"),
    [
        ("3\n", "3", "tokens", True),
        ("1  2 \n3\n\n\n", "1 2\n3", "tokens", True),
        ("1 2 3\n", "1 2\n3\n", "tokens", False),  # line structure matters
        ("\n3\n", "3\n", "tokens", False),  # leading blank lines are not ignored
        ("3.0\n", "3\n", "tokens", False),
        ("3\n", "3\n", "exact", True),
        ("3", "3\n", "exact", False),
        ("3 \n", "3\n", "exact", False),
    ],
)
def test_stdout_comparison(actual, expected, mode, same):
    assert stdout_matches(actual, expected, mode) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ([1, [2, 3]], [1, [2, 3]], True),
        (1, 1.0, True),
        (True, 1, False),
        ({"a": [1]}, {"a": [1]}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ("1", 1, False),
        (None, None, True),
        ([1, 2], [1, 2, 3], False),
    ],
)
def test_json_equality(a, b, same):
    assert json_equal(a, b) is same


def _raw(**kw):
    base = {
        "status": "exited",
        "exit_code": 0,
        "signal": None,
        "wall_s": 0.01,
        "stdout": "",
        "stdout_size": 0,
    }
    return {**base, "stderr_tail": "", "oom": False, "leftover": 0, **kw}


def _judged(kind, status="judged", exit_code=None, signal=None, **report):
    return _raw(status=status, exit_code=exit_code, signal=signal, report={"kind": kind, **report})


def _replied(*messages, status="judged"):
    """A call case as the supervisor returns it: the program's raw replies, undecoded."""
    lines = [plain.encode(["ready", ["add"]]), *(plain.encode(m) for m in messages)]
    return _raw(status=status, exit_code=None, reply="".join(line + "\n" for line in lines))


@pytest.mark.parametrize(
    ("spec", "raw", "verdict"),
    [
        (STDIO, _raw(stdout="3\n", stdout_size=2), Verdict.PASSED),
        (STDIO, _raw(stdout="4\n", stdout_size=2), Verdict.WRONG_ANSWER),
        (STDIO, _raw(status="timeout", exit_code=-9, signal=9), Verdict.TIME_LIMIT),
        (
            STDIO,
            _raw(status="signaled", exit_code=-signal.SIGXCPU, signal=int(signal.SIGXCPU)),
            Verdict.TIME_LIMIT,
        ),
        (STDIO, _raw(status="signaled", exit_code=-9, signal=9, oom=True), Verdict.MEMORY_LIMIT),
        (STDIO, _raw(exit_code=1, stderr_tail="Traceback...\nMemoryError\n"), Verdict.MEMORY_LIMIT),
        (STDIO, _raw(stdout="x", stdout_size=(4 << 20) + 1), Verdict.OUTPUT_LIMIT),
        (STDIO, _raw(status="signaled", exit_code=-11, signal=11), Verdict.RUNTIME_ERROR),
        (
            STDIO,
            _raw(exit_code=1, stderr_tail="ZeroDivisionError: division by zero\n"),
            Verdict.RUNTIME_ERROR,
        ),
        (STDIO, _raw(status="error", message="boom"), Verdict.SANDBOX_ERROR),
        (CALL, _replied(["value", 3, {}]), Verdict.PASSED),
        (CALL, _replied(["value", (3,), {}]), Verdict.WRONG_ANSWER),  # (3,) is [3] in JSON
        (CALL, _replied(["value", {3}, {}]), Verdict.WRONG_ANSWER),  # no JSON for a set
        (CALL, _replied(["raised", "ZeroDivisionError", "division by zero"]), Verdict.RUNTIME_ERROR),
        (CALL, _replied(["not_plain", "a generator is not plain data"]), Verdict.WRONG_ANSWER),
        (CALL, _replied(["missing", "add"]), Verdict.RUNTIME_ERROR),
        (CALL, _replied(["raised", "MemoryError", ""]), Verdict.MEMORY_LIMIT),
        (CALL, _replied(["value", 3, {}], status="timeout"), Verdict.TIME_LIMIT),  # the limits come first
        (CALL, _raw(status="judged", exit_code=None, reply=""), Verdict.RUNTIME_ERROR),  # the program died
        (
            CALL,
            _raw(status="judged", exit_code=None, reply='["ready",["add"]]\n["value",3'),
            Verdict.RUNTIME_ERROR,
        ),
        (ASSERT, _judged("passed"), Verdict.PASSED),
        (
            ASSERT,
            _judged("assertion", error="AssertionError", line="test line 2: assert f(1) == 2"),
            Verdict.WRONG_ANSWER,
        ),
        (ASSERT, _judged("error", error="TypeError: bad operand"), Verdict.RUNTIME_ERROR),
        (ASSERT, _judged("not_defined", error="SyntaxError: invalid syntax"), Verdict.RUNTIME_ERROR),
        (ASSERT, _judged("program_gone", error="the program exited", exit_code=0), Verdict.RUNTIME_ERROR),
        (ASSERT, _judged("program_gone", exit_code=-24, signal=int(signal.SIGXCPU)), Verdict.TIME_LIMIT),
        (ASSERT, _judged("crashed", error="the test process failed"), Verdict.SANDBOX_ERROR),
        (ASSERT, _judged("passed", status="timeout"), Verdict.TIME_LIMIT),  # the limits come first
    ],
)
def test_judging(spec, raw, verdict):
    result = judge_case(TestSpec.from_dict(spec), 0, raw, SandboxConfig())
    assert result.verdict is verdict, result.detail


def test_local_backend_is_never_chosen_silently():
    from sandbox.local_backend import LocalSandbox

    with pytest.raises(ValueError, match="never chosen silently"):
        LocalSandbox(SandboxConfig())
    assert SandboxConfig().backend == "docker"
    with pytest.raises(ValueError, match="backend"):
        SandboxConfig(backend="subprocess")  # type: ignore[arg-type]
