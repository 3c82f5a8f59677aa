"""Format reward: does the response follow the required template?

Templates are regexes searched with ``re.DOTALL`` (named ones live in
:data:`reward_fns.config.FORMAT_TEMPLATES`); the empty template accepts everything.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=64)
def _compiled(template: str) -> re.Pattern[str]:
    return re.compile(template, re.DOTALL)


def format_ok(response: str, template: str) -> bool:
    """True when ``template`` is found in ``response`` (always true for the empty template)."""
    if not template:
        return True
    return _compiled(template).search(response) is not None
