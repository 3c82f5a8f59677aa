"""Find the final answer in a math response.

Order: the last ``\\boxed{...}`` (or ``\\fbox{...}``) with nested braces balanced, else the first
configured pattern that matches (its last match). Everything here is a linear scan or a
caller-supplied regex; it runs inside the bounded verifier worker, so a pathological pattern costs a
timeout, not a stalled trainer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_BOX_COMMANDS = ("\\boxed", "\\fbox")


@dataclass(frozen=True)
class ExtractedAnswer:
    """The answer text and how it was found (``boxed`` or ``pattern:<i>``)."""

    text: str
    source: str


def _matching_braces(text: str) -> dict[int, int]:
    """Index of each ``{`` -> index of its ``}``, in one pass (escaped ``\\{`` / ``\\}`` ignored)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])[ \t]*(\{|[^\s{$.,;]+)")


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` / ``\\fbox{...}`` (also ``\\boxed 5``); linear time."""
    if "\\boxed" not in text and "\\fbox" not in text:
        return None
    pairs: dict[int, int] | None = None
    best: str | None = None
    for match in _BOX.finditer(text):
        if match.group(1) != "{":
            best = match.group(1)  # "\\boxed 5": the next token is the argument
            continue
        if pairs is None:
            pairs = _matching_braces(text)
        open_index = match.start(1)
        close_index = pairs.get(open_index)
        if close_index is not None:
            best = text[open_index + 1 : close_index]
    return best


def extract_answer(text: str, patterns: Sequence[str], use_boxed: bool = True) -> ExtractedAnswer | None:
    """The final answer of ``text``, or None when nothing answer-like is found."""
    if use_boxed:
        boxed = last_boxed(text)
        if boxed is not None and boxed.strip():
            return ExtractedAnswer(boxed.strip(), "boxed")
    for i, pattern in enumerate(patterns):
        matches = list(re.finditer(pattern, text, flags=re.MULTILINE))
        if matches:
            answer = matches[-1].group(1)
            if answer and answer.strip():
                return ExtractedAnswer(answer.strip(), f"pattern:{i}")
    return None
