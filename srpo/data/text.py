"""Text normalisation and hashing: the keys for de-duplication and for stable prompt ids."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Fold the differences that do not make two problems different: Unicode form, case, whitespace."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WHITESPACE.sub(" ", folded).strip()


def text_hash(text: str) -> str:
    """16 hex digits (64 bits) of SHA-256 of the normalised text: collisions are negligible at dataset scale."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()[:16]


def make_prompt_id(data_source: str, problem_hash: str) -> str:
    """Stable across runs and row order: it depends only on the source name and the problem text."""
    return f"{data_source}/{problem_hash}"
