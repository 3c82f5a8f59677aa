"""SRPO's reward: format + accuracy + mixed-language penalty, for math (math-verify) and code (sandbox).

Entry points for verl live in :mod:`reward_fns.dispatch` (``compute_score`` and
``compute_score_batch``); they are re-exported here lazily, so that importing a small piece (the
verifier workers import :mod:`reward_fns.math_grade`) does not pull in the sandbox client.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compute_score", "compute_score_batch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from reward_fns import dispatch

        return getattr(dispatch, name)
    raise AttributeError(f"module 'reward_fns' has no attribute {name!r}")
