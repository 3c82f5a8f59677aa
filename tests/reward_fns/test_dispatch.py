"""verl entry points: routing, row errors, the result contract, weights, batching, hostile bounds.

Code rows use the sandbox's local backend here; test_code_e2e.py covers Docker. About 40 s.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import time

import numpy as np
import pytest
from omegaconf import OmegaConf

from reward_fns.dispatch import RESULT_KEYS, compute_score, compute_score_batch, route

from .hostile import hostile_cases

LOCAL = {"code": {"sandbox": {"backend": "local", "pool_size": 2}}}
ADD_SPEC = json.dumps({"format": "call", "fn_name": "add", "cases": [{"args": [1, 2], "expected": 3}]})
GOOD_CODE = "Here it is.\n```python\ndef add(a, b):\n    return a + b\n```\n"
BAD_CODE = "Here it is.\n```python\ndef add(a, b):\n    return a * b\n```\n"


def test_math_result_contract():
    r = compute_score("gsm8k", r"Half of it: \boxed{\frac12}", "0.5", {"index": 1})
    assert tuple(r) == RESULT_KEYS
    assert r["acc"] == 1.0 and r["format"] == 1.0 and r["language"] == 1.0
    assert r["pred"] == r"\frac12" and r["reason"] == "equal" and r["verifier_timeout"] == 0.0
    assert r["score"] == pytest.approx(1.2)


def test_weights_shape_the_score():
    kwargs = {"weights": {"accuracy": 2.0, "format": 0.5, "language": 1.0}}
    mixed_wrong = compute_score(
        "gsm8k", r"答案是这个数字，我们算出来了 so we get \boxed{3} for this problem", "4", **kwargs
    )
    assert (mixed_wrong["acc"], mixed_wrong["format"], mixed_wrong["language"]) == (0.0, 1.0, 0.0)
    assert mixed_wrong["score"] == pytest.approx(0.5 - 1.0)
    no_format = compute_score("gsm8k", "The answer is 4.", "4", **kwargs)
    assert (no_format["acc"], no_format["format"], no_format["reason"]) == (0.0, 0.0, "no_answer")
    lenient = compute_score("gsm8k", "The answer is 4.", "4", **kwargs, math={"mode": "lenient"})
    assert (lenient["acc"], lenient["format"]) == (1.0, 0.0)
    assert lenient["score"] == pytest.approx(2.0)


def test_routing():
    assert route("anything", {"domain": "code"}) == "code"
    assert route("gsm8k", {"domain": "code"}) == "code"  # extra_info.domain wins
    assert route("humaneval", None) == "code" and route("gsm8k", {}) == "math"
    with pytest.raises(
        ValueError, match=r"row\(data_source='mystery', prompt_id='p7'\): no extra_info.domain"
    ):
        route("mystery", {"prompt_id": "p7"})
    with pytest.raises(ValueError, match=r"extra_info.domain='chemistry' is not one of"):
        route("srpo/arith", {"domain": "chemistry", "index": 2})


@pytest.mark.parametrize("ground_truth", [None, "", "   "])
def test_math_row_without_ground_truth_is_named(ground_truth):
    with pytest.raises(ValueError, match=r"row\(data_source='srpo/arith', prompt_id='a-1', index=3\)"):
        compute_score(
            "srpo/arith", r"\boxed{1}", ground_truth, {"prompt_id": "a-1", "index": 3, "domain": "math"}
        )


def test_numeric_ground_truth_is_accepted():
    assert compute_score("gsm8k", r"\boxed{72}", 72)["acc"] == 1.0


def test_code_rows_and_constant_keys_across_domains():
    math_r = compute_score("gsm8k", r"\boxed{2}", "2")
    good = compute_score("srpo/codegen", GOOD_CODE, ADD_SPEC, {"domain": "code"}, **LOCAL)
    bad = compute_score("srpo/codegen", BAD_CODE, ADD_SPEC, {"domain": "code"}, **LOCAL)
    none = compute_score("srpo/codegen", "I cannot write it.", ADD_SPEC, {"domain": "code"}, **LOCAL)
    assert good["acc"] == 1.0 and good["reason"] == "all_passed" and good["pred"].startswith("code:")
    assert bad["acc"] == 0.0 and bad["reason"] == "passed 0/1: wrong_answer x1"
    assert none["acc"] == 0.0 and none["reason"] == "no_code_block" and none["format"] == 0.0
    # verl's agent loop builds one array per key of the *first* result: every result needs every key
    results = [math_r, good, bad, none]
    for key in results[0]:
        column = np.array([r[key] for r in results])
        assert column.shape == (4,)
    assert all(set(r) == set(RESULT_KEYS) for r in results)
    assert all(isinstance(r[k], float) for r in results for k in ("score", "acc", "format", "language"))


def test_all_or_nothing_stops_a_crashing_program_partial_credit_runs_it_all():
    spec = json.dumps({"format": "call", "fn_name": "add", "cases": [{"args": [1, 2], "expected": 3}] * 3})
    crash = "```python\ndef plus(a, b):\n    return a + b\n```\n"
    r = compute_score("srpo/codegen", crash, spec, {"domain": "code"}, **LOCAL)
    assert r["reason"] == "passed 0/3: runtime_error x1, skipped x2"
    partial = {"code": {**LOCAL["code"], "partial_credit": True}}
    r = compute_score("srpo/codegen", crash, spec, {"domain": "code"}, **partial)
    assert r["reason"] == "passed 0/3: runtime_error x3"


def test_unparsable_code_spec_is_named():
    with pytest.raises(ValueError, match=r"row\(data_source='mbpp', index=9\): unparsable code test spec"):
        compute_score("mbpp", GOOD_CODE, "{not json", {"index": 9}, **LOCAL)


def test_batch_matches_single_calls_and_keeps_order():
    sources = ["gsm8k", "srpo/codegen", "gsm8k", "srpo/codegen", "srpo/arith"]
    responses = [r"\boxed{1}", GOOD_CODE, r"\boxed{5}", BAD_CODE, "The answer is 7"]
    truths = ["1", ADD_SPEC, "4", ADD_SPEC, "7"]
    infos = [{"index": i, "domain": "code" if "code" in s else "math"} for i, s in enumerate(sources)]
    batch = compute_score_batch(sources, responses, truths, infos, **LOCAL)
    assert [r["acc"] for r in batch] == [1.0, 1.0, 0.0, 0.0, 0.0]  # strict: no box, no answer
    singles = [
        compute_score(s, r, t, i, **LOCAL)
        for s, r, t, i in zip(sources, responses, truths, infos, strict=True)
    ]
    assert batch == singles


def test_batch_checks_every_row_before_running():
    with pytest.raises(ValueError, match=r"index=1\): unparsable code test spec"):
        compute_score_batch(
            ["gsm8k", "mbpp"], [r"\boxed{1}", GOOD_CODE], ["1", "[]"], [{}, {"index": 1}], **LOCAL
        )
    with pytest.raises(ValueError, match="lengths differ"):
        compute_score_batch(["gsm8k"], ["a", "b"], ["1", "2"], None)


def test_through_verls_custom_reward_loader():
    """verl 0.9.1 loads the function and merges reward_kwargs exactly like a training run would."""
    from verl.trainer.ppo.reward import get_custom_reward_fn

    config = OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {
                    "path": "pkg://reward_fns.dispatch",
                    "name": "compute_score",
                    "reward_kwargs": {"weights": {"format": 0.0, "language": 0.0}},
                }
            }
        }
    )
    fn = get_custom_reward_fn(config)
    r = fn(data_source="gsm8k", solution_str=r"\boxed{9}", ground_truth="9", extra_info={"index": 0})
    assert r["score"] == 1.0 and r["acc"] == 1.0


def test_async_entry_point_through_verls_loader_matches_the_sync_one():
    """verl's reward loop awaits a coroutine reward function; results equal compute_score's."""
    from verl.trainer.ppo.reward import get_custom_reward_fn

    config = OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {
                    "path": "pkg://reward_fns.dispatch",
                    "name": "compute_score_async",
                    "reward_kwargs": LOCAL,
                }
            }
        }
    )
    fn = get_custom_reward_fn(config)
    assert inspect.iscoroutinefunction(fn)  # what verl's NaiveRewardManager checks
    code = [GOOD_CODE if i % 2 == 0 else BAD_CODE for i in range(8)] + ["no code here"]
    rows = [("srpo/codegen", c, ADD_SPEC, {"domain": "code"}) for c in code]
    rows += [("gsm8k", r"\boxed{2}", "2", {"index": 3}), ("gsm8k", r"\boxed{5}", "2", None)]

    async def step():
        return await asyncio.gather(
            *(fn(data_source=d, solution_str=s, ground_truth=g, extra_info=e) for d, s, g, e in rows)
        )

    got = asyncio.run(step())
    assert got == [compute_score(d, s, g, e, **LOCAL) for d, s, g, e in rows]
    assert [r["acc"] for r in got] == [1.0, 0.0] * 4 + [0.0, 1.0, 0.0]


def test_hostile_responses_return_within_the_bound():
    kwargs = {"math": {"timeout_s": 2.0}}
    compute_score("gsm8k", r"\boxed{1}", "1", **kwargs)  # pool started outside the timed part
    for name, response, truth, expected in hostile_cases():
        start = time.monotonic()
        r = compute_score("gsm8k", response, truth, **kwargs)
        elapsed = time.monotonic() - start
        # the bound is 2 s of CPU (+0.2 s before a kill); its wall time depends on the load, up to the
        # 15 s backstop (the idle-machine latency is benchmarked: benchmarks/results/rewards.md)
        assert elapsed < 15.0, f"{name} took {elapsed:.1f}s"
        assert math.isfinite(r["score"]) and set(r) == set(RESULT_KEYS), name
        if r["verifier_timeout"]:
            assert r["acc"] == 0.0 and r["reason"] == "timeout(>2s cpu)", (name, r["reason"])
        if expected is not None:
            assert (r["acc"] == 1.0) is expected, (name, r["reason"])
