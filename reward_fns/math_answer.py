"""The project's one ``\\boxed{}`` extractor (rewards and data conversion both use it).

A response's answer is its last group of boxes: the last complete ``\\boxed{...}`` (or ``\\fbox``,
or ``\\boxed 5``) together with the boxes right before it that only punctuation, math delimiters or
"and"/"or" separate from it, so "\\boxed{-2} and \\boxed{1}" is the answer set ``-2, 1`` while an
intermediate box earlier in the text is not part of the answer. Braces are matched in one linear
pass, so hostile megabyte inputs cost milliseconds.
"""

from __future__ import annotations

import re

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])[ \t]*(\{|[^\s{$.,;]+)")
#: What may stand between two boxes of one answer group (checked on at most _MAX_GAP characters).
_CONNECTOR = re.compile(
    r"(?:[\s,;.$&]|\\[,;:! ]|\\q?quad|\\[()\[\]]|\\\\|\\text\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b"
    r"|[A-Za-z](?:_\{?\w{1,3}\}?)?\s*=)*"
)
_MAX_GAP = 120


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


def boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, content)`` of every complete outermost box, in text order; linear time."""
    if "\\boxed" not in text and "\\fbox" not in text:
        return []
    pairs: dict[int, int] | None = None
    spans: list[tuple[int, int, str]] = []
    for match in _BOX.finditer(text):
        if spans and match.start() < spans[-1][1]:
            continue  # a box inside the previous box belongs to it
        if match.group(1) != "{":
            spans.append((match.start(), match.end(), match.group(1)))  # "\boxed 5"
            continue
        if pairs is None:
            pairs = _matching_braces(text)
        close_index = pairs.get(match.start(1))
        if close_index is not None:
            spans.append((match.start(), close_index + 1, text[match.start(1) + 1 : close_index]))
    return spans


def last_boxed(text: str) -> str | None:
    """Content of the last complete box, or None."""
    spans = boxed_spans(text)
    return spans[-1][2] if spans else None


def last_boxed_group(text: str) -> list[str]:
    """Contents of the last group of boxes (see the module docstring), in order; [] when none."""
    spans = boxed_spans(text)
    if not spans:
        return []
    group = [spans[-1]]  # built backwards
    for span in reversed(spans[:-1]):
        gap = text[span[1] : group[-1][0]]
        if len(gap) > _MAX_GAP or not _CONNECTOR.fullmatch(gap):
            break
        group.append(span)
    return [content.strip() for _, _, content in reversed(group)]


def boxed_answer(text: str) -> str | None:
    """The last box group as one answer (several boxes joined by ", "), or None when there is no
    non-empty box."""
    parts = [p for p in last_boxed_group(text) if p]
    return ", ".join(parts) if parts else None
