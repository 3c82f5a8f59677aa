"""The domain registry: a third domain is one registration, and every layer that names domains sees it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from reward_fns import domains
from reward_fns.config import reward_config_from_kwargs
from reward_fns.dispatch import RESULT_KEYS, compute_score, compute_score_async, compute_score_batch, route
from reward_fns.domains import Domain, register_domain
from srpo.algorithm.config import SRPOConfigError, load_srpo_config
from srpo.data.rows import DataRowError, validate_row


def grade_echo_rows(cfg: Any, rows: Sequence[tuple[str, Any, str]]) -> list[dict]:
    """A toy grader for the test domain: the response must repeat the ground truth."""
    results = []
    for response, truth, row in rows:
        if not isinstance(truth, str):
            raise ValueError(f"{row}: echo rows need a string ground truth")
        acc = float(response.strip() == truth)
        results.append(
            dict.fromkeys(RESULT_KEYS, 0.0) | {"score": acc, "acc": acc, "pred": response, "reason": "echo"}
        )
    return results


ECHO = Domain(
    name="echo",
    grader=f"{__name__}:grade_echo_rows",
    format_template="none",
    sources=("echo/v1",),
)


@pytest.fixture
def echo_domain(monkeypatch):
    monkeypatch.setattr(domains, "_REGISTRY", dict(domains._REGISTRY))
    register_domain(ECHO)
    return ECHO


def test_builtin_domains():
    assert domains.domain_names() == ("math", "code")
    assert domains.domain_of_source("gsm8k") == "math" and domains.domain_of_source("mbpp") == "code"
    with pytest.raises(ValueError, match=r"unknown domain 'chemistry'; known domains are \['math', 'code'\]"):
        domains.get_domain("chemistry")


def test_registration_conflicts_are_refused(echo_domain):
    register_domain(ECHO)  # the same wiring again is harmless
    with pytest.raises(ValueError, match="already registered"):
        register_domain(Domain(name="echo", grader="x:y", format_template="none"))
    with pytest.raises(ValueError, match="'gsm8k' already belongs to domain 'math'"):
        register_domain(Domain(name="other", grader="x:y", format_template="none", sources=("gsm8k",)))


def test_a_registered_domain_is_routed_and_graded(echo_domain):
    assert route("echo/v1", None) == "echo" and route("anything", {"domain": "echo"}) == "echo"
    assert compute_score("echo/v1", " 42 ", "42")["acc"] == 1.0
    assert asyncio.run(compute_score_async("echo/v1", "41", "42"))["acc"] == 0.0
    batch = compute_score_batch(["gsm8k", "echo/v1", "echo/v1"], [r"\boxed{4}", "x", "y"], ["4", "x", "x"])
    assert [r["acc"] for r in batch] == [1.0, 1.0, 0.0]
    assert batch[0]["reason"] == "equal" and batch[1]["reason"] == "echo"
    with pytest.raises(ValueError, match="echo rows need a string ground truth"):
        compute_score("echo/v1", "x", None)


def test_a_registered_domain_is_accepted_by_config_rows_and_reward_format(echo_domain):
    assert reward_config_from_kwargs({}).template_regex("echo") == ""  # its registered template: none
    cfg = load_srpo_config({"curriculum": {"stage2_domains": ["math", "echo"]}})
    assert cfg.curriculum.stage2_domains == ["math", "echo"]
    row = {
        "data_source": "echo/v1",
        "prompt": [{"role": "user", "content": "Say x."}],
        "ability": "echo",
        "reward_model": {"style": "rule", "ground_truth": "x"},
        "extra_info": {"prompt_id": "e1", "domain": "echo", "split": "train", "index": 0},
    }
    validate_row(row, "echo.parquet row 0")


def test_unregistered_domain_is_named_everywhere():
    with pytest.raises(SRPOConfigError, match="unknown domain"):
        load_srpo_config({"curriculum": {"stage2_domains": ["math", "echo"]}})
    row = {
        "data_source": "echo/v1",
        "prompt": [{"role": "user", "content": "Say x."}],
        "ability": "echo",
        "reward_model": {"style": "rule", "ground_truth": "x"},
        "extra_info": {"prompt_id": "e1", "domain": "echo", "split": "train", "index": 0},
    }
    with pytest.raises(DataRowError, match="ability"):
        validate_row(row, "echo.parquet row 0")
