"""The three test formats end to end, on both backends (Docker and the opt-in local one)."""

from __future__ import annotations

import pytest

from sandbox import SandboxConfig, TestSpec, Verdict, make_sandbox
from tests.sandbox.conftest import docker_config

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

ADD_STDIO = TestSpec.from_dict(
    {
        "format": "stdio",
        "cases": [
            {"input": "1 2\n", "output": "3\n"},
            {"input": "10 -4\n", "output": "6"},
            {"input": "5 5\n", "output": "11\n"},  # wrong on purpose
        ],
    }
)


def verdicts(result):
    return [t.verdict for t in result.tests]


def test_stdio_one_verdict_per_case(any_sandbox):
    result = any_sandbox.run("a, b = map(int, input().split())\nprint(a + b)\n", ADD_STDIO)
    assert verdicts(result) == [Verdict.PASSED, Verdict.PASSED, Verdict.WRONG_ANSWER]
    assert result.fraction_passed == pytest.approx(2 / 3)
    assert not result.all_passed
    assert "expected '11\\n', got '10\\n'" in result.tests[2].detail
    assert all(0 < t.wall_time_s < 5 for t in result.tests)


def test_stdio_exact_mode(any_sandbox):
    spec = TestSpec.from_dict(
        {
            "format": "stdio",
            "compare": "exact",
            "cases": [{"input": "", "output": "a b\n"}, {"input": "", "output": "a  b\n"}],
        }
    )
    assert verdicts(any_sandbox.run("print('a b')", spec)) == [Verdict.PASSED, Verdict.WRONG_ANSWER]


def test_stdio_large_input(any_sandbox):
    numbers = list(range(200_000))
    spec = TestSpec.from_dict(
        {
            "format": "stdio",
            "cases": [{"input": " ".join(map(str, numbers)) + "\n", "output": f"{sum(numbers)}\n"}],
        }
    )
    assert any_sandbox.run("import sys\nprint(sum(map(int, sys.stdin.read().split())))", spec).all_passed


def test_runtime_error_keeps_the_tail_of_stderr(any_sandbox):
    result = any_sandbox.run("import sys\nsys.stderr.write('x' * 5000)\nprint(1 // 0)\n", ADD_STDIO)
    t = result.tests[0]
    assert t.verdict is Verdict.RUNTIME_ERROR
    assert t.stderr_tail.rstrip().endswith("ZeroDivisionError: integer division or modulo by zero")
    assert len(t.stderr_tail) <= 2000
    assert t.detail.startswith("ZeroDivisionError")


def test_syntax_error_is_a_runtime_error(any_sandbox):
    result = any_sandbox.run("def broken(:\n", ADD_STDIO)
    assert verdicts(result) == [Verdict.RUNTIME_ERROR] * 3
    assert "SyntaxError" in result.tests[0].stderr_tail


CALL = TestSpec.from_dict(
    {
        "format": "call",
        "fn_name": "pair",
        "cases": [
            {"args": [1, 2], "kwargs": {}, "expected": [1, 2]},
            {"args": [], "kwargs": {"a": "x", "b": None}, "expected": ["x", None]},
            {"args": [3, 3], "expected": [3, 4]},
        ],
    }
)


def test_call_top_level_function_tuples_equal_lists(any_sandbox):
    result = any_sandbox.run("def pair(a, b):\n    return (a, b)\n", CALL)
    assert verdicts(result) == [Verdict.PASSED, Verdict.PASSED, Verdict.WRONG_ANSWER]


def test_call_solution_method_leetcode_style(any_sandbox):
    program = "class Solution:\n    def pair(self, a, b):\n        return [a, b]\n\nif __name__ == '__main__':\n    input()\n"
    assert verdicts(any_sandbox.run(program, CALL))[:2] == [Verdict.PASSED, Verdict.PASSED]


def test_call_failures(any_sandbox):
    missing = any_sandbox.run("def other(a, b):\n    return a\n", CALL)
    assert verdicts(missing) == [Verdict.RUNTIME_ERROR] * 3
    assert "no function 'pair'" in missing.tests[0].detail
    unserializable = any_sandbox.run("def pair(a, b):\n    return {a, b}\n", CALL)
    assert unserializable.tests[0].verdict is Verdict.WRONG_ANSWER
    assert "not JSON" in unserializable.tests[0].detail
    bool_vs_int = TestSpec.from_dict(
        {"format": "call", "fn_name": "f", "cases": [{"args": [], "expected": 1}]}
    )
    assert verdicts(any_sandbox.run("def f():\n    return True\n", bool_vs_int)) == [Verdict.WRONG_ANSWER]
    exits = any_sandbox.run("import os\ndef pair(a, b):\n    os._exit(0)\n", CALL)
    assert verdicts(exits) == [Verdict.RUNTIME_ERROR] * 3


ASSERT = TestSpec.from_dict(
    {
        "format": "assert",
        "entry_point": "add",
        "cases": [
            {"code": "def check(candidate):\n    assert candidate(1, 2) == 3\ncheck(add)\n"},
            {"code": "assert add(2, 2) == 5\n"},
            {"code": "add(None, 1)\n"},
        ],
    }
)


def test_assert_based(any_sandbox):
    result = any_sandbox.run("def add(a, b):\n    return a + b\n", ASSERT)
    assert verdicts(result) == [Verdict.PASSED, Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR]
    assert "TypeError" in result.tests[2].detail


@pytest.mark.parametrize(
    "program",
    [
        "import sys\nsys.exit(0)\ndef add(a, b):\n    return a + b\n",
        "import os\ndef add(a, b):\n    os._exit(0)\n",
        "import sys\ndef add(a, b):\n    sys.exit(0)\n",
    ],
)
def test_exiting_early_never_passes(any_sandbox, program):
    result = any_sandbox.run(program, ASSERT)
    assert Verdict.PASSED not in verdicts(result)


def test_batch_keeps_order(any_sandbox):
    spec = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "", "output": "ok\n"}]})
    items = [(f"print({'ok' if i % 3 else 'no'!r})", spec) for i in range(12)]
    results = any_sandbox.run_batch(items)
    assert [r.all_passed for r in results] == [i % 3 != 0 for i in range(12)]
    assert any_sandbox.run_batch([]) == []


def test_per_spec_time_limit(any_sandbox):
    spec = TestSpec.from_dict(
        {"format": "stdio", "time_limit_s": 0.5, "cases": [{"input": "", "output": ""}]}
    )
    result = any_sandbox.run("import time\ntime.sleep(3)\n", spec)
    assert result.tests[0].verdict is Verdict.TIME_LIMIT
    assert result.tests[0].wall_time_s < 2.0


CALL_SQUARE = TestSpec.from_dict(
    {
        "format": "call",
        "fn_name": "f",
        "cases": [{"args": [2], "expected": 4}, {"args": [3], "expected": 9}, {"args": [0], "expected": 0}],
    }
)


@pytest.fixture(params=["docker", "local"], scope="module")
def fail_fast_sandbox(request):
    if request.param == "docker":
        request.getfixturevalue("docker_ready")
        config = docker_config(pool_size=1, fail_fast=True)
    else:
        config = SandboxConfig(backend="local", pool_size=1, time_limit_s=5.0, fail_fast=True)
    with make_sandbox(config) as sb:
        yield sb


def test_fail_fast_skips_cases_after_a_crash_or_a_wrong_first_answer(fail_fast_sandbox):
    """A crash stops the run inside the sandbox; a wrong answer is judged on the host, so the first
    case runs alone and only a wrong answer there stops the run."""
    sb = fail_fast_sandbox
    missing = sb.run("def g(x):\n    return x * x\n", CALL_SQUARE)
    assert verdicts(missing) == [Verdict.RUNTIME_ERROR, Verdict.SKIPPED, Verdict.SKIPPED]
    assert "defines no function 'f'" in missing.tests[0].detail
    assert missing.tests[1].detail.startswith("not run")
    crash_later = sb.run("def f(x):\n    return x * x if x != 3 else 1 // 0\n", CALL_SQUARE)
    assert verdicts(crash_later) == [Verdict.PASSED, Verdict.RUNTIME_ERROR, Verdict.SKIPPED]
    assert crash_later.fraction_passed == pytest.approx(1 / 3)
    wrong_first = sb.run("def f(x):\n    return 5 if x == 2 else x * x\n", CALL_SQUARE)
    assert verdicts(wrong_first) == [Verdict.WRONG_ANSWER, Verdict.SKIPPED, Verdict.SKIPPED]
    assert wrong_first.tests[1].detail == "not run: the first case did not pass (fail_fast)"
    wrong_later = sb.run("def f(x):\n    return 5 if x == 3 else x * x\n", CALL_SQUARE)
    assert verdicts(wrong_later) == [Verdict.PASSED, Verdict.WRONG_ANSWER, Verdict.PASSED]
    stdio = sb.run("a, b = map(int, input().split())\nprint(0 if a == 1 else a + b)\n", ADD_STDIO)
    assert verdicts(stdio) == [Verdict.WRONG_ANSWER, Verdict.SKIPPED, Verdict.SKIPPED]
    stdio_later = sb.run("a, b = map(int, input().split())\nprint(a + b)\n", ADD_STDIO)
    assert verdicts(stdio_later) == [Verdict.PASSED, Verdict.PASSED, Verdict.WRONG_ANSWER]
    exits_early = sb.run("import os\nos._exit(0)\n", CALL_SQUARE)
    assert verdicts(exits_early) == [Verdict.RUNTIME_ERROR, Verdict.SKIPPED, Verdict.SKIPPED]


def test_without_fail_fast_every_case_runs(any_sandbox):
    assert verdicts(any_sandbox.run("def g(x):\n    return x\n", CALL_SQUARE)) == [Verdict.RUNTIME_ERROR] * 3
