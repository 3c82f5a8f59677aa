"""What a test sees through the proxy is what it would see calling the function in one interpreter:
real values (floats with tolerances, tuples, sets, big ints), mutated arguments, exceptions that
`except` clauses catch, many calls, keyword arguments. On both backends."""

from __future__ import annotations

import textwrap

import pytest

from sandbox import TestSpec, Verdict

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


def check(body: str, entry: str = "f") -> TestSpec:
    code = f"def check(candidate):\n{textwrap.indent(textwrap.dedent(body), '    ')}\ncheck({entry})\n"
    return TestSpec.from_dict({"format": "assert", "entry_point": entry, "cases": [{"code": code}]})


CASES = {
    "values": (
        "def f(x):\n    return x\n",
        """
        import math
        for v in [0, -1, 2**200, 3**5000, 1.5, -0.0, "é", b"\\x00", (1, [2]), {1: {2}}, frozenset(), None, True]:
            got = candidate(v)
            assert got == v and type(got) is type(v), (got, v)
        assert math.isnan(candidate(float("nan"))) and candidate(float("-inf")) == float("-inf")
        assert abs(candidate(0.1) + candidate(0.2) - 0.3) < 1e-9
        """,
    ),
    "mutation": (
        "def f(xs, d):\n    xs.sort()\n    d['seen'] = len(xs)\n",
        """
        xs, d = [3, 1, 2], {}
        assert candidate(xs, d=d) is None
        assert xs == [1, 2, 3] and d == {"seen": 3}
        """,
    ),
    "exceptions": (
        "def f(x):\n    if x < 0:\n        raise ValueError('negative')\n    return 1 // x\n",
        """
        try:
            candidate(-1)
            assert False, "no exception"
        except ValueError as e:
            assert "negative" in str(e)
        try:
            candidate(0)
            assert False
        except ZeroDivisionError:
            pass
        """,
    ),
    "many_calls_and_helpers": (
        "def helper(x):\n    return x * 2\n\ndef f(x):\n    return helper(x) + 1\n",
        """
        for i in range(300):
            assert candidate(i) == helper(i) + 1 == 2 * i + 1
        """,
    ),
    "solution_state_is_kept_between_calls": (
        "calls = []\ndef f(x):\n    calls.append(x)\n    return len(calls)\n",
        "assert [candidate(0) for _ in range(3)] == [1, 2, 3]\n",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_semantics_match_one_interpreter(any_sandbox, name):
    program, body = CASES[name]
    t = any_sandbox.run(program, check(body)).tests[0]
    assert t.verdict is Verdict.PASSED, t


def test_failures_name_the_test_line(any_sandbox):
    t = any_sandbox.run(
        "def f(x):\n    return x + 1\n", check("assert candidate(1) == 2\nassert candidate(2) == 4\n")
    ).tests[0]
    assert t.verdict is Verdict.WRONG_ANSWER
    assert "test line 3: assert candidate(2) == 4" in t.detail


def test_a_return_value_that_is_not_plain_data_fails(any_sandbox):
    spec = check("assert candidate(1) is not None\n")
    t = any_sandbox.run("def f(x):\n    return iter([x])\n", spec).tests[0]
    assert t.verdict is Verdict.WRONG_ANSWER
    assert "list_iterator is not plain data" in t.detail
    swallowed = check("try:\n    candidate(1)\nexcept TypeError:\n    pass\n")
    assert (
        any_sandbox.run("def f(x):\n    return iter([x])\n", swallowed).tests[0].verdict
        is Verdict.WRONG_ANSWER
    )


def test_the_programs_output_does_not_disturb_the_calls(any_sandbox):
    program = "import sys\ndef f(x):\n    print('[\"value\", 99, {}]')\n    sys.stderr.write('noise\\n')\n    return x\n"
    assert any_sandbox.run(program, check("assert candidate(5) == 5\n")).tests[0].verdict is Verdict.PASSED
