"""Final-answer extraction from worked solutions (GSM8K's ``####`` line, MATH's last ``\\boxed{}``)."""

from __future__ import annotations

import re

_NUMBER_WITH_COMMAS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_BOX_COMMANDS = ("\\boxed", "\\fbox")


def gsm8k_final_answer(solution: str) -> str | None:
    """The text after the last ``####``; thousands separators dropped (``1,000`` -> ``1000``).

    None when the marker is missing or nothing follows it.
    """
    if "####" not in solution:
        return None
    answer = solution.rsplit("####", 1)[1].strip()
    if _NUMBER_WITH_COMMAS.match(answer):
        answer = answer.replace(",", "")
    return answer or None


def _braced_group(text: str, start: int) -> tuple[str, int] | None:
    """The content of the ``{...}`` group opening at ``text[start]``, and the index after it."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\":  # a backslash escapes the next character: \{ and \} are not group braces
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    return None


def last_boxed_answer(solution: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``, or ``\\boxed x``) in a solution.

    Braces are matched, so nested groups such as ``\\boxed{\\frac{1}{2}}`` come out whole. None when
    there is no box or the last one is unbalanced.
    """
    best: tuple[int, str] | None = None
    for command in _BOX_COMMANDS:
        pos = solution.rfind(command)
        while pos != -1:
            after = pos + len(command)
            # "\boxed" must not be the prefix of a longer command name (e.g. a macro "\boxedtext").
            if after < len(solution) and solution[after].isalpha():
                pos = solution.rfind(command, 0, pos)
                continue
            rest = solution[after:]
            stripped = rest.lstrip()
            if stripped.startswith("{"):
                group = _braced_group(solution, after + (len(rest) - len(stripped)))
                content = group[0].strip() if group else None
            elif rest.startswith(" ") and stripped:
                # "\boxed 5" form: the answer runs to the next "$" or whitespace.
                content = re.split(r"[\s$]", stripped, maxsplit=1)[0]
            else:
                content = None
            if best is None or pos > best[0]:
                best = (pos, content or "")
            break
    if best is None or not best[1]:
        return None
    return best[1]
