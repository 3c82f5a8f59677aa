"""Load: 1,000 runs at concurrency 8; every result comes back, attributed to the right run.

Each program prints a value only it knows (its index and a per-run nonce read from stdin); one
run in seven is wrong on purpose, so a result swapped between runs would show up as a mismatch.
Costs about 40-60 s on 2 cores.
"""

from __future__ import annotations

import random
import subprocess

import pytest

from sandbox import TestSpec, Verdict, make_sandbox

from .conftest import TEST_LABEL, docker_config

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

RUNS = 1000
CONCURRENCY = 8


def test_thousand_runs_at_concurrency_8(docker_ready):
    rng = random.Random(4)
    items, expected, nonces = [], [], []
    for i in range(RUNS):
        nonce = rng.getrandbits(64)
        nonces.append(nonce)
        wrong = i % 7 == 3
        program = f"n = int(input())\nprint(n * 3 + {i + 1 if wrong else i})\n"
        spec = TestSpec.from_dict(
            {"format": "stdio", "cases": [{"input": f"{nonce}\n", "output": f"{nonce * 3 + i}\n"}]}
        )
        items.append((program, spec))
        expected.append(Verdict.WRONG_ANSWER if wrong else Verdict.PASSED)

    config = docker_config(pool_size=CONCURRENCY, max_concurrency=CONCURRENCY, recycle_after=50)
    with make_sandbox(config) as sb:
        results = sb.run_batch(items)
        session = sb.session
    assert len(results) == RUNS
    got = [r.tests[0].verdict for r in results]
    mismatches = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
    assert mismatches == []
    for i, r in enumerate(results):
        if expected[i] is Verdict.WRONG_ANSWER:  # the detail names this run's own numbers
            assert f"got '{nonces[i] * 3 + i + 1}\\n'" in r.tests[0].detail
    leaked = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={TEST_LABEL}.session={session}"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.split()
    assert leaked == []
