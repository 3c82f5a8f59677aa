"""What a verifier worker runs: one response's math accuracy, format and language parts.

These functions take and return plain values (they cross a process boundary) and never raise on a
bad response; the parent bounds their time and memory (:mod:`reward_fns.bounded`). Importing this
module imports SymPy and the LaTeX parser, which is why the fork server preloads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from reward_fns.format_reward import format_ok
from reward_fns.language import language_mix
from reward_fns.math_answer import extract_answer, last_boxed
from reward_fns.math_equiv import Tolerance, answers_equivalent, parse_latex

parse_latex("0")  # warm the parser (ANTLR tables) in the zygote, not in each worker


def clear_caches() -> None:
    """Forget memoised parses (benchmarks time cold parses; training keeps them: 32 rollouts share a
    reference answer)."""
    parse_latex.cache_clear()


def _too_deep(text: str, limit: int) -> bool:
    """Brackets nested deeper than ``limit`` (real answers stay shallow; parsers recurse)."""
    depth = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            if depth > limit:
                return True
        elif ch in ")]}":
            depth = max(0, depth - 1)
    return False


def grade_math_answer(
    response: str, ground_truth: str, math_opts: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Yields ``{"acc", "pred", "reason"}``: first with the extracted answer (so a timeout in the
    equivalence check still reports it), then the verdict."""
    patterns: Sequence[str] = math_opts["answer_patterns"]
    found = extract_answer(response, patterns, use_boxed=math_opts["use_boxed"])
    if found is None:
        yield {"acc": 0.0, "pred": "", "reason": "no_answer"}
        return
    limit = math_opts["max_answer_chars"]
    if len(found.text) > limit:
        yield {"acc": 0.0, "pred": found.text[:80], "reason": f"answer_too_long(>{limit} chars)"}
        return
    if _too_deep(found.text, math_opts["max_nesting"]):
        yield {"acc": 0.0, "pred": found.text[:80], "reason": f"answer_too_deep(>{math_opts['max_nesting']})"}
        return
    yield {"acc": 0.0, "pred": found.text, "reason": "pending"}
    gold = last_boxed(ground_truth) or ground_truth
    verdict = answers_equivalent(
        found.text,
        gold,
        Tolerance(rel_tol=math_opts["rel_tol"], abs_tol=math_opts["abs_tol"]),
        percent_as_fraction=math_opts["percent_as_fraction"],
    )
    yield {"acc": 1.0 if verdict.equal else 0.0, "pred": found.text, "reason": verdict.reason}


def grade_text_parts(response: str, template: str, language_opts: dict[str, Any]) -> dict[str, Any]:
    """``{"format", "language"}``: template followed (1/0) and language consistent (1/0)."""
    fmt = 1.0 if format_ok(response, template) else 0.0
    if not language_opts["enabled"]:
        return {"format": fmt, "language": 1.0}
    mix = language_mix(response, language_opts["min_minority_units"], language_opts["min_minority_ratio"])
    return {"format": fmt, "language": 0.0 if mix.mixed else 1.0}


def grade_math_response(
    response: str,
    ground_truth: str,
    math_opts: dict[str, Any],
    template: str,
    language_opts: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """All of a math response's parts in one worker round trip, as partial results: format and
    language first (cheap), then the answer, then the verdict. On a timeout the parent keeps the
    parts already reported."""
    parts = {"format": 0.0, "language": 0.0, "acc": 0.0, "pred": "", "reason": "pending"}
    parts.update(grade_text_parts(response, template, language_opts))
    yield dict(parts)
    for answer in grade_math_answer(response, ground_truth, math_opts):
        parts.update(answer)
        yield dict(parts)
