"""Hostile math responses: inputs that make naive verifiers hang, eat memory or crash.

Shared by the tests (every one must come back within the bound) and by
``benchmarks/bench_math_verifier.py`` (worst-case latency). Built in code because several are
megabytes long.
"""

from __future__ import annotations


def _nested(open_: str, inner: str, close: str, depth: int) -> str:
    return open_ * depth + inner + close * depth


def hostile_cases() -> list[tuple[str, str, str]]:
    """``(name, response, ground_truth)`` triples."""
    return [
        ("power_tower", r"\boxed{10^{10^{10}}}", "5"),
        ("power_tower_4", r"\boxed{9^{9^{9^{9}}}}", "1"),
        ("huge_binomial_power", r"\boxed{(x+1)^{100000}}", "x"),
        ("huge_factorial", r"\boxed{(10^{8})!}", "1"),
        ("memory_power", r"\boxed{2^{2^{40}}}", "2"),
        ("deep_parentheses", r"\boxed{" + _nested("(", "1", ")", 900) + "}", "1"),
        ("deep_fractions", r"\boxed{" + _nested(r"\frac{1}{", "2", "}", 150) + "}", "2"),
        ("deep_sqrt", r"\boxed{" + _nested(r"\sqrt{", "2", "}", 300) + "}", "2"),
        ("heavy_simplify", r"\boxed{\left(\sin^2 x + \cos^2 x\right)^{60} - \tan^{40} x \cot^{40} x}", "0"),
        ("long_integer", r"\boxed{" + "9" * 1999 + "}", "1" + "0" * 1999),
        ("megabyte_no_answer", "a " * 500_000, "1"),
        ("megabyte_unclosed_boxes", r"\boxed{" * 100_000 + r" \boxed{3}", "3"),
        ("megabyte_answer", r"\boxed{" + "1+" * 500_000 + "1}", "1"),
        ("regex_bait_answer_is", "the answer is " + "9" * 1_000_000, "9"),
        ("unclosed_display_math", "\\[" * 300_000 + r"\boxed{1}", "1"),
        ("unclosed_fences", "````x\n" * 100_000 + r"\boxed{1}", "1"),
        ("environment_bait", "\\begin{a}" * 100_000 + r"你好 world \boxed{1}", "1"),
    ]
