"""What a verifier worker runs: one response's math accuracy, format and language parts.

Parsing and equivalence are math-verify's (``parse`` / ``verify``), called with its signal-based
timeouts off: they only work in a main thread, and the bound comes from :mod:`reward_fns.bounded`
instead (this runs inside its worker processes). On top of the library: the answer is found our way
in ``strict`` mode (the last group of ``\\boxed{}``), inputs too big or too deeply nested to be
answers are refused before any parsing, and :mod:`reward_fns.math_equiv` adds the rules the library
lacks. Gold answers go through the same parser, so a labelled gold (``(p,q)=(3,2)``) means its value.

These functions take and return plain values (they cross a process boundary) and never raise on a
bad response. Importing this module imports math-verify, SymPy and the ANTLR parser, which is why
the fork server preloads it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from sympy import Basic

from reward_fns.format_reward import format_ok
from reward_fns.language import language_mix
from reward_fns.math_answer import boxed_answer, boxed_spans
from reward_fns.math_equiv import normalise, percent_value, rules_veto

# The library warns once per process that its timeouts are off (we bound it from outside) and logs
# every unparsable answer; the verdict's ``reason`` already says what happened.
logging.getLogger("math_verify").setLevel(logging.CRITICAL)
logging.getLogger("latex2sympy2_extended").setLevel(logging.CRITICAL)

_LATEX_ONLY = (LatexExtractionConfig(),)
_FREE_TEXT = (LatexExtractionConfig(), ExprExtractionConfig())
_INTEGER = re.compile(r"[-+]?\d{1,40}")
_FINAL_ANSWER = re.compile(r"(?i)final answer")


def _as_math(latex: str) -> str:
    """An answer as a LaTeX math span, the way math-verify's users pass a gold: ``$...$``."""
    latex = latex.strip()
    if latex.startswith("$") and latex.endswith("$") and len(latex) > 1:
        return latex
    return f"${latex}$"


def _unwrap_math(text: str) -> str:
    """``$x$`` / ``$$x$$`` / ``\\(x\\)`` -> ``x`` (a gold written as a math span)."""
    text = text.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(text) > len(left) + len(right) and text.startswith(left) and text.endswith(right):
            return text[len(left) : -len(right)].strip()
    return text


def _parse(text: str, free_text: bool) -> list:
    """math-verify's parse with its timeout off: ``[sympy object, extracted string]`` or []."""
    configs = _FREE_TEXT if free_text else _LATEX_ONLY
    return parse(text, list(configs), parsing_timeout=None)


def _parse_answer(text: str) -> list:
    """An extracted answer (box content, gold) parsed; one that does not parse compares as text."""
    return _parse(_as_math(normalise(text)), free_text=False) or [text]


@lru_cache(maxsize=4096)
def parse_gold(gold: str) -> tuple[str, str | None, list, list | None]:
    """The gold's answer text (its last box group if it has boxes; for a worked solution without a
    box, the library's extraction), its percent value if it is a percentage, and the parses of both; memoised per worker, since a prompt's rollouts share a gold."""
    text = boxed_answer(gold) or _unwrap_math(gold)
    if len(text) > 200 or "\n" in text:  # a worked solution without a box: its final answer
        found = _parse(normalise(text), free_text=True)
        if found:
            return str(found[-1]), None, found, None
    percent = percent_value(text)
    return text, percent, _parse_answer(text), None if percent is None else _parse_answer(percent)


def clear_caches() -> None:
    """Forget memoised gold parses (benchmarks time cold parses)."""
    parse_gold.cache_clear()


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


def _refusal(text: str, max_chars: int, max_nesting: int) -> str | None:
    if len(text) > max_chars:
        return f"answer_too_long(>{max_chars} chars)"
    if _too_deep(text, max_nesting):
        return f"answer_too_deep(>{max_nesting})"
    return None


def _equal(gold: list, pred: list, opts: dict[str, Any]) -> bool:
    return verify(
        gold,
        pred,
        float_rounding=opts["float_rounding"],
        allow_set_relation_comp=True,  # "x > 0" is the interval (0, \infty)
        timeout_seconds=None,
    )


def _hundredth(parsed: list) -> list:
    """A parsed percentage's value X as X/100 (for "25%" against a gold 1/4)."""
    value = parsed[0]
    return [value / 100] if isinstance(value, Basic) and not isinstance(value, str) else []


def _verdict(gold: str, pred_text: str, pred: list | None, opts: dict[str, Any]) -> tuple[bool, str]:
    """``pred`` None: parse ``pred_text`` (a box's content) here, unless both sides are integers,
    which are compared without SymPy (what ``verify`` says on them, at a fraction of the cost)."""
    gold_text, gold_pct, gold_parsed, gold_pct_parsed = parse_gold(gold)
    if pred is None and _INTEGER.fullmatch(gold_text) and _INTEGER.fullmatch(pred_text):
        equal = int(gold_text) == int(pred_text)
    else:
        pred_pct = percent_value(pred_text) if pred is None else None
        if pred is None:
            pred = _parse_answer(pred_text if pred_pct is None else pred_pct)
        if gold_pct_parsed is not None and pred_pct is not None:
            equal = _equal(gold_pct_parsed, pred, opts)  # both percentages: compare the Xs
        elif gold_pct_parsed is not None:
            equal = _equal(gold_pct_parsed, pred, opts) or _equal(_hundredth(gold_pct_parsed), pred, opts)
        elif pred_pct is not None:
            equal = _equal(gold_parsed, pred, opts) or _equal(gold_parsed, _hundredth(pred), opts)
        else:
            equal = _equal(gold_parsed, pred, opts)
    if not equal:
        return False, "not_equal"
    veto = rules_veto(gold_text, pred_text)
    return (False, veto) if veto else (True, "equal")


def _box_is_final(response: str) -> bool:
    """Whether a response's last box is its last stated answer (no "final answer" line after it)."""
    spans = boxed_spans(response)
    return bool(spans) and _FINAL_ANSWER.search(response, spans[-1][1]) is None


def grade_math_answer(response: str, ground_truth: str, opts: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yields ``{"acc", "pred", "reason"}``: first with the extracted answer (so a timeout in the
    equivalence check still reports it), then the verdict.

    ``strict``: the answer is the last ``\\boxed{}`` group; none is a format failure (``no_answer``).
    ``lenient``: the same when the last box is the last stated answer; else math-verify's own
    extraction from the free text ("final answer is", a last formula or number), read from the last
    ``max_response_chars`` characters, where a final answer sits.
    """
    pred: list | None = None  # None: pred_text is an answer string still to be parsed (see _verdict)
    if opts["mode"] == "strict" or _box_is_final(response):
        pred_text = boxed_answer(response)
        if pred_text is None:
            yield {"acc": 0.0, "pred": "", "reason": "no_answer"}
            return
        refusal = _refusal(pred_text, opts["max_answer_chars"], opts["max_nesting"])
    else:
        tail = response[-opts["max_response_chars"] :]
        refusal = _refusal(tail, opts["max_response_chars"], opts["max_nesting"])
        pred_text = ""
        if refusal is None:
            found = _parse(normalise(tail), free_text=True)
            if not found:
                yield {"acc": 0.0, "pred": "", "reason": "no_answer"}
                return
            pred_text = str(found[-1])
            if any(not isinstance(x, str) for x in found):
                pred = found  # else the library found an answer it could not parse: ours is tried
    if refusal:
        yield {"acc": 0.0, "pred": pred_text[:80], "reason": refusal}
        return
    yield {"acc": 0.0, "pred": pred_text, "reason": "pending"}
    equal, reason = _verdict(ground_truth, pred_text, pred, opts)
    yield {"acc": 1.0 if equal else 0.0, "pred": pred_text, "reason": reason}


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


def _warm_up() -> None:
    """Load the ANTLR tables and SymPy paths once in the fork server, not in every worker."""
    opts = {"float_rounding": 6, "max_answer_chars": 100, "max_response_chars": 100, "max_nesting": 9}
    list(grade_math_answer(r"\boxed{\frac{1}{2}}", "0.5", {**opts, "mode": "strict"}))
    list(grade_math_answer("The answer is $x^2$.", "x^2", {**opts, "mode": "lenient"}))
    clear_caches()


_warm_up()
