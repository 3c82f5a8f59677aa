"""The labelled set: every (response, ground truth) pair gets its expected verdict. About 10 s."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from reward_fns.config import RewardConfig
from reward_fns.dispatch import _math_opts
from reward_fns.math_equiv import Tolerance, answers_equivalent, clean_answer
from reward_fns.math_grade import grade_math_answer

LABELLED = Path(__file__).parent / "data" / "labelled_math.jsonl"
ROWS = [json.loads(line) for line in LABELLED.read_text().splitlines() if line.strip()]
REQUIRED_KINDS = {
    "number", "fraction", "decimal", "percent", "units", "text", "symbolic", "equation",
    "interval", "inequality", "set", "tuple", "matrix", "multiple", "extraction",
}  # fmt: skip


def test_labelled_set_covers_every_answer_kind():
    kinds = Counter(r["kind"] for r in ROWS)
    assert set(kinds) >= REQUIRED_KINDS
    assert all(n >= 3 for k, n in kinds.items() if k in REQUIRED_KINDS)
    assert sum(not r["expected"] for r in ROWS) >= 30  # enough negatives to catch a lenient verifier


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_labelled_verdict(row):
    verdict = list(grade_math_answer(row["response"], row["ground_truth"], _math_opts(RewardConfig())))[-1]
    assert (verdict["acc"] == 1.0) is row["expected"], verdict


@pytest.mark.parametrize(
    ("pred", "gold", "equal"),
    [
        ("0.5", r"\frac{1}{2}", True),
        ("1,000", "1000", True),
        (r"\frac12", "0.5", True),
        ("x=2", "2", True),
        ("(1,2)", "[1,2]", False),
        (r"\pi", "3.14", False),
    ],
)
def test_issue_traps(pred, gold, equal):
    assert answers_equivalent(pred, gold).equal is equal


def test_tolerance_is_configurable():
    assert not answers_equivalent("3.14", r"\pi").equal
    assert answers_equivalent("3.14", r"\pi", Tolerance(rel_tol=1e-3)).equal


def test_percent_as_fraction_can_be_disabled():
    assert answers_equivalent(r"50\%", "0.5").equal
    assert not answers_equivalent(r"50\%", "0.5", percent_as_fraction=False).equal
    assert answers_equivalent(r"50\%", "50", percent_as_fraction=False).equal


def test_clean_answer_keeps_variables_after_numbers():
    assert clean_answer("2x").latex == "2x"
    assert clean_answer("10 cm").latex == "10"
    assert clean_answer("2 pi").latex == "2 pi"


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("0.5", r"\frac{2}{4}"),
        ("-3/4", "-0.75"),
        ("1e5", "10^5"),
        ("7", "7.0000001"),
        ("12", "13"),
        ("2/3", "0.67"),
    ],
)
def test_plain_number_fast_path_agrees_with_sympy_path(pred, gold):
    """Plain numbers skip the parser; wrapping one side in LaTeX forces the SymPy path."""
    fast = answers_equivalent(pred, gold).equal
    slow = answers_equivalent(pred, rf"{gold} + 0\cdot x").equal
    assert fast is slow
