"""The math verdict: math-verify plus the rules it lacks, both modes, and model text never executed.

Each rule test first shows math-verify alone getting the case wrong (called the standard way,
``verify(parse("$" + gold + "$"), parse(response))``), then our grade getting it right.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from math_verify import parse, verify

from reward_fns.config import RewardConfig
from reward_fns.math_grade import grade_math_answer

LABELLED = Path(__file__).parent / "data" / "labelled_math.jsonl"
ROWS = [json.loads(line) for line in LABELLED.read_text().splitlines() if line.strip()]
STRICT = asdict(RewardConfig().math)
LENIENT = {**STRICT, "mode": "lenient"}


def grade(response: str, gold: str, opts: dict = STRICT) -> dict:
    return list(grade_math_answer(response, gold, opts))[-1]


def library_says(response: str, gold: str) -> bool:
    gold_parsed = parse(f"${gold}$", parsing_timeout=None)
    return verify(gold_parsed, parse(response, parsing_timeout=None), timeout_seconds=None)


@pytest.mark.parametrize(
    ("response", "gold", "equal"),
    [
        (r"\boxed{0.\overline{3}}", r"\frac{1}{3}", True),  # the library reads 0
        (r"\boxed{0.1\overline{6}}", r"\frac{1}{6}", True),
        (r"\boxed{6:30}", "3:15", False),  # both the ratio 1/5 to the library
        (r"\boxed{10 \text{ m}}", r"10 \text{ cm}", False),  # units dropped by the library
        (r"\boxed{4 \text{ cm}^2}", r"4 \text{ m}^2", False),
        (r"\boxed{1\,000}", "0", False),  # the library reads 1*0
        (r"\boxed{1\,000}", "1000", True),
        (r"\boxed{1e5}", "100000", True),  # the library reads 1*E*5
        (r"\boxed{50\%}", "0.5", True),  # the library cannot parse 50\%
        (r"\boxed{25\%}", r"\frac{1}{4}", True),
        (r"\boxed{\text{5 apples}}", "5", True),  # a word to the library
    ],
)
def test_rule_fixes_a_library_error(response, gold, equal):
    assert library_says(response, gold) is not equal
    assert (grade(response, gold)["acc"] == 1.0) is equal


@pytest.mark.parametrize(
    ("response", "gold", "equal"),
    [
        (r"\boxed{3:15 \text{ p.m.}}", "3:15", True),
        (r"\boxed{3:15}", r"3:15 \text{ pm}", True),
        (r"\boxed{3:15 \text{ am}}", r"3:15 \text{ pm}", False),
        (r"\boxed{50}", r"50\%", True),
        (r"\boxed{0.5\%}", r"50\%", False),  # both percentages: X against X only
        (r"\boxed{10 \text{ cm}}", "10", True),  # a unit on one side only: the library decides
        (r"\boxed{0.3}", r"\frac{1}{3}", False),
        (r"\boxed{1{,}000}", r"1,\!000", True),
    ],
)
def test_rules_keep_what_the_library_gets_right(response, gold, equal):
    assert (grade(response, gold)["acc"] == 1.0) is equal


@pytest.mark.parametrize(
    ("response", "gold"),
    [
        (r"So \boxed{-2} and \boxed{1}.", "-2, 1"),  # several boxes: one answer set
        (r"\boxed{(3,2)}", "(p,q)=(3,2)"),  # a labelled gold means its value
        (r"\boxed{4, 5}", "AB=4,CD=5"),
        (r"\boxed{x \in [-2,7]}", r"-2 \le x \le 7"),  # an inequality and its interval
        (r"\boxed{x > 0}", r"(0,\infty)"),
        (r"\boxed{10000}", r"10,\!000"),  # MATH's digit grouping
        (r"Thus \boxed{\frac{1}{2}}.", r"The solution is \boxed{0.5}."),  # a gold with a box
    ],
)
def test_issue_classes_are_equal(response, gold):
    assert grade(response, gold)["acc"] == 1.0


@pytest.mark.parametrize(
    "response",
    [
        "Final Answer: The final answer is $9$. I hope it is correct.",
        "Answer $ 9 $",
        "so the number of apples is $9$.",
    ],
)
def test_free_text_answer_is_lenient_only(response):
    assert grade(response, "9", STRICT)["reason"] == "no_answer"
    assert grade(response, "9", LENIENT)["acc"] == 1.0


def test_lenient_mode_prefers_a_final_answer_line_after_the_last_box():
    response = r"Interest: \boxed{255}. Total 10,455.\nFinal Answer: The final answer is $10,455$. I hope it is correct."
    assert grade(response, "10455", LENIENT)["acc"] == 1.0
    assert grade(response, "10455", STRICT)["acc"] == 0.0  # training reads the last box


def test_strict_mode_reads_the_last_box_group_only():
    assert grade(r"First \boxed{3}, so the area is \boxed{5}.", "3")["acc"] == 0.0
    assert grade(r"First \boxed{3}, so the area is \boxed{5}.", "5")["acc"] == 1.0


@pytest.mark.parametrize("mode", [STRICT, LENIENT], ids=["strict", "lenient"])
def test_model_text_is_never_executed(tmp_path, mode):
    target = tmp_path / "pwned"
    code = f"__import__('os').system('touch {target}')"
    code2 = f"open('{target}', 'w').write('x')"
    responses = [
        rf"\boxed{{{code}}}",
        rf"{code}\n\boxed{{1}}",
        rf"\boxed{{1}} {code2}",
        rf"The answer is {code2}",
        f"$${code}$$",
        f"Final answer: {code}",
        rf"\boxed{{\text{{{code}}}}}",
    ]
    for response in responses:
        for gold in ("1", code, code2):
            grade(response, gold, mode)
    assert not target.exists()


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_labelled_verdict(row):
    """The repository's first labelled set (written with the old verifier), in both modes."""
    if "known_miss" in row:
        pytest.xfail(row["known_miss"])
    boxed = "\\boxed" in row["response"] or "\\fbox" in row["response"]
    strict = grade(row["response"], row["ground_truth"], STRICT)
    if boxed:
        assert (strict["acc"] == 1.0) is row["expected"], strict
    else:
        assert strict["reason"] == "no_answer", strict
    lenient = grade(row["response"], row["ground_truth"], LENIENT)
    assert (lenient["acc"] == 1.0) is row.get("expected_lenient", row["expected"]), lenient
