"""Format reward and mixed-language detection."""

from __future__ import annotations

import time

import pytest

from reward_fns.config import FORMAT_TEMPLATES
from reward_fns.format_reward import format_ok
from reward_fns.language import language_mix, prose_only


@pytest.mark.parametrize(
    ("template", "response", "ok"),
    [
        ("boxed", r"so \boxed{3}", True),
        ("boxed", "so 3", False),
        ("think_boxed", "<think>reason</think> so \\boxed{3}", True),
        ("think_boxed", "so \\boxed{3} <think>late</think>", False),
        ("think_answer", "<think>a\nb</think>\n<answer>3</answer>", True),
        ("think_answer", "<think>a</think><answer>3</answer> trailing", False),
        ("code_block", "text\n```python\nprint(1)\n```\n", True),
        ("code_block", "print(1)", False),
        ("think_code_block", "<think>plan</think>\n```python\nx = 1\n```", True),
        ("none", "", True),
    ],
)
def test_named_templates(template, response, ok):
    assert format_ok(response, FORMAT_TEMPLATES[template]) is ok


def test_custom_template_regex():
    assert format_ok("Final: 3", r"^Final: \d+$")
    assert not format_ok("final: 3", r"^Final: \d+$")


@pytest.mark.parametrize(
    ("text", "mixed"),
    [
        ("We add the numbers and then divide by two to get the mean value.", False),
        ("我们先把两个数相加，然后除以二，得到平均值。", False),
        ("We first add them, 然后我们除以二得到平均值 and then we are done with it.", True),
        ("我们使用 Python 来计算这个平均值，结果是二。", False),  # one Latin word in Chinese prose
        ("求解方程 $x^2 + y^2 = r^2$ 得到半径，所以答案是五。", False),  # math is not prose
        (
            "代码如下：\n```python\ndef mean(values):\n    return sum(values) / len(values)\n```\n完成。",
            False,
        ),
        ("The answer is 5. 所以答案是五，我们完成了这个问题的全部计算过程。 Thanks for reading it.", True),
    ],
)
def test_language_mix(text, mixed):
    assert language_mix(text).mixed is mixed


def test_thresholds_are_configurable():
    text = "The mean is two, 所以 it is done."
    assert not language_mix(text).mixed
    assert language_mix(text, min_minority_units=2, min_minority_ratio=0.01).mixed


def test_prose_only_strips_math_code_and_tags():
    prose = prose_only("<think>a $x$ b \\(y\\) c $$z$$ d \\[w\\] e `q` \\frac f</think>")
    for gone in ("x", "y", "z", "w", "q", "frac", "think"):
        assert gone not in prose


def test_language_scan_is_linear_on_hostile_text():
    start = time.monotonic()
    language_mix("\\(" * 300_000 + "$$" * 100_000 + "\\begin{a}" * 50_000)
    assert time.monotonic() - start < 3.0
