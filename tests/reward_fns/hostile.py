"""Hostile math responses: inputs that make naive verifiers hang, eat memory or crash.

Shared by the tests (every one must come back within the bound) and by
``benchmarks/bench_math_verifier.py`` (worst-case latency). Built in code because several are
megabytes long.
"""

from __future__ import annotations


def _nested(open_: str, inner: str, close: str, depth: int) -> str:
    return open_ * depth + inner + close * depth


def hostile_cases() -> list[tuple[str, str, str, bool | None]]:
    """``(name, response, ground_truth, expected verdict)``; None where only the bound matters (a
    correct answer that a bounded verifier may legitimately give up on)."""
    return [
        ("power_tower", r"\boxed{10^{10^{10}}}", "5", False),
        ("power_tower_4", r"\boxed{9^{9^{9^{9}}}}", "1", False),
        ("huge_binomial_power", r"\boxed{(x+1)^{100000}}", "x", False),
        ("huge_factorial", r"\boxed{(10^{8})!}", "1", False),
        ("memory_power", r"\boxed{2^{2^{40}}}", "2", False),
        ("deep_parentheses", r"\boxed{" + _nested("(", "1", ")", 900) + "}", "1", None),
        ("brackets_10k", r"\boxed{" + _nested("[", "1", "]", 10_000) + "}", "1", None),
        ("brackets_10k_free_text", "The answer is $" + _nested("(", "1", ")", 10_000) + "$", "1", None),
        ("deep_fractions", r"\boxed{" + _nested(r"\frac{1}{", "2", "}", 150) + "}", "2", None),
        (
            "frac_chain",
            r"\boxed{" + "+".join(rf"\frac{{{i}}}{{{i + 1}}}" for i in range(1, 100)) + "}",
            "1",
            None,
        ),
        (
            "frac_chain_product",
            r"\boxed{" + "".join(rf"\frac{{x+{i}}}{{x-{i}}}" for i in range(1, 90)) + "}",
            "x",
            None,
        ),
        ("deep_sqrt", r"\boxed{" + _nested(r"\sqrt{", "2", "}", 300) + "}", "2", False),
        (
            "heavy_simplify",
            r"\boxed{\left(\sin^2 x + \cos^2 x\right)^{60} - \tan^{40} x \cot^{40} x}",
            "0",
            None,
        ),
        ("long_integer", r"\boxed{" + "9" * 1999 + "}", "1" + "0" * 1999, False),
        ("megabyte_no_answer", "a " * 500_000, "1", False),
        ("megabyte_unclosed_boxes", r"\boxed{" * 100_000 + r" \boxed{3}", "3", True),
        ("megabyte_answer", r"\boxed{" + "1+" * 500_000 + "1}", "1", False),
        ("regex_bait_answer_is", "the answer is " + "9" * 1_000_000, "9", False),
        ("unclosed_display_math", "\\[" * 300_000 + r"\boxed{1}", "1", True),
        ("unclosed_fences", "````x\n" * 100_000 + r"\boxed{1}", "1", True),
        ("environment_bait", "\\begin{a}" * 100_000 + r"你好 world \boxed{1}", "1", True),
    ]
