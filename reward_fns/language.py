"""Mixed-language detection for SRPO's language penalty.

R1-Zero-style training drifts into responses that switch between Chinese and English mid-thought.
We count, in the prose only (fenced and inline code, LaTeX math and tags removed), CJK characters
and Latin-script words; a response is "mixed" when the rarer of the two is both frequent enough in
absolute terms and a large enough share. One CJK character and one Latin word are roughly one unit
of meaning each, which keeps the ratio fair between the two scripts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_ENV_MARKER = re.compile(r"\\(?:begin|end)\{[^{}]*\}")
#: Math delimiters, longest first so "$$" is not read as two "$".
_MATH_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_LATEX_CMD = re.compile(r"\\[A-Za-z]+")
_TAG = re.compile(r"</?[A-Za-z_][\w\-]*>")
_URL = re.compile(r"https?://\S+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")


@dataclass(frozen=True)
class LanguageMix:
    """Counts in the prose and the verdict."""

    cjk_chars: int
    latin_words: int
    mixed: bool


def _drop_math(text: str) -> str:
    """Remove delimited math spans in one left-to-right pass.

    Linear time even on hostile input: when an opener has no closer anywhere after it, no later
    opener of that kind can close either, so that kind is not searched again.
    """
    out: list[str] = []
    pos, n = 0, len(text)
    next_at: dict[str, int] = {}  # cached next index of each opener (-1: none left)
    while pos < n:
        best = None
        for opener, closer in _MATH_DELIMITERS:
            i = next_at.get(opener, pos)
            if i == -1:
                continue
            if i < pos or opener not in next_at:
                i = next_at[opener] = text.find(opener, pos)
                if i == -1:
                    continue
            if best is None or i < best[0]:
                best = (i, opener, closer)
        if best is None:
            break
        start, opener, closer = best
        end = text.find(closer, start + len(opener))
        if end == -1:
            next_at[opener] = -1  # no closer anywhere after: no later opener of this kind closes
            out.append(text[pos : start + len(opener)])
            pos = start + len(opener)
            continue
        out.append(text[pos:start])
        out.append(" ")
        pos = end + len(closer)
    out.append(text[pos:])
    return "".join(out)


def prose_only(text: str) -> str:
    """``text`` without code, math, tags, URLs and LaTeX commands."""
    text = _CODE_FENCE.sub(" ", text)
    text = _INLINE_CODE.sub(" ", text)
    text = _drop_math(text)
    for pattern in (_ENV_MARKER, _TAG, _URL, _LATEX_CMD):
        text = pattern.sub(" ", text)
    return text


def language_mix(text: str, min_minority_units: int = 4, min_minority_ratio: float = 0.02) -> LanguageMix:
    """Whether ``text`` mixes CJK and Latin-script prose beyond the given thresholds."""
    prose = prose_only(text)
    cjk = len(_CJK.findall(prose))
    latin = len(_LATIN_WORD.findall(prose))
    minority = min(cjk, latin)
    total = cjk + latin
    mixed = total > 0 and minority >= min_minority_units and minority / total >= min_minority_ratio
    return LanguageMix(cjk, latin, mixed)
