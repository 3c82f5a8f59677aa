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


def _braced_group(text: str, open_index: int) -> str | None:
    """Content of the ``{...}`` opening at ``open_index``, nested braces balanced; None if unclosed."""
    depth = 0
    i = open_index
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            i += 2  # an escaped brace (\{ or \}) does not count
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_index + 1 : i]
        i += 1
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` / ``\\fbox{...}`` (also ``\\boxed 5``)."""
    best_pos = -1
    best: str | None = None
    for command in _BOX_COMMANDS:
        start = text.rfind(command)
        while start != -1:
            after = start + len(command)
            j = after
            while j < len(text) and text[j] in " \t":
                j += 1
            content: str | None = None
            if j < len(text) and text[j] == "{":
                content = _braced_group(text, j)
            elif j > after and j < len(text):
                # "\boxed 5": the argument is the next token
                m = re.match(r"[^\s$.,;]+", text[j:])
                content = m.group(0) if m else None
            elif after < len(text) and text[after].isalpha():
                content = None  # \boxedfoo is another command
            if content is not None:
                if start > best_pos:
                    best_pos, best = start, content
                break
            start = text.rfind(command, 0, start)
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
