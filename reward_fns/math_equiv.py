"""The few equivalence rules math-verify lacks; parsing and comparison themselves are math-verify's.

Each rule here has a test showing a case math-verify 0.9 gets wrong on its own
(``tests/reward_fns/test_math_rules.py``):

* repeating decimals: ``0.\\overline{3}`` is rewritten to ``\\frac{1}{3}`` before parsing (the
  library reads it as 0);
* clock times: ``6:30`` and ``3:15`` are both the ratio 1/5 to the library; two answers that both
  look like times (``H:MM``, minutes 00-59) are equal only as times;
* units: the library drops units, so ``10 \\text{ m}`` equalled ``10 \\text{ cm}``; two answers whose
  units are both known and differ are not equal;
* digit groups split by a LaTeX space (``1\\,000``, ``1\\;000``, ``1~000``): the library reads a
  product, ``1*0``, so ``1\\,000`` equalled 0; the space is dropped;
* scientific notation in plain text (``1e5``, ``1.5E-3``): the library reads ``1*E*5``;
* a number written inside text (``\\text{5 apples}``): the library keeps it a word;
* percentages: the library cannot parse ``50\\%``; an answer ``X\\%`` means X or X/100 when the other
  side is not a percentage, and X when both are.

All of it is linear regex work on short strings (the caller caps answer length before).
"""

from __future__ import annotations

import re
from fractions import Fraction

_REPEATING = re.compile(
    r"(?<![\d.])(?P<int>\d*)\.(?P<fixed>\d*)\\overline\{\s*(?P<rep>\d+)\s*\}|"
    r"(?<![\d.])(?P<int2>\d*)\.(?P<fixed2>\d*)\\overline\s*(?P<rep2>\d)"
)


def _repeating_to_fraction(match: re.Match[str]) -> str:
    whole = match.group("int") if match.group("rep") else match.group("int2")
    fixed = match.group("fixed") if match.group("rep") else match.group("fixed2")
    rep = match.group("rep") or match.group("rep2")
    # x = whole.fixed(rep)...: fixed part over 10^len(fixed), repeating part over 9..9 * 10^len(fixed)
    value = Fraction(int(whole or "0")) + Fraction(int(fixed or "0"), 10 ** len(fixed))
    value += Fraction(int(rep), (10 ** len(rep) - 1) * 10 ** len(fixed))
    if value.denominator == 1:
        return str(value.numerator)
    return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


_GROUP_SPACE = re.compile(r"(?<=\d)(?:\\[,;: ]|~)(?=\d{3}(?!\d))")
_SCIENTIFIC = re.compile(r"^([-+]?\d+(?:\.\d+)?)[eE]([-+]?\d{1,4})$")
_PERCENT = re.compile(r"^(.*?\S)\s*(?:\\%|%|\\text\{\s*(?:\\?%|percent)\s*\}|percent(?:age)?|pct)$")


_TEXT_NUMBER = re.compile(r"^\s*\\text\{\s*([-+]?\d[\d,.]*)\s+([A-Za-z][A-Za-z ]*)\}\s*$")


def normalise(latex: str) -> str:
    """The answer rewritten where the library misreads it: repeating decimals, digit groups split
    by a LaTeX space, plain-text scientific notation, a number inside ``\\text{5 apples}``."""
    latex = rewrite_repeating_decimals(_GROUP_SPACE.sub("", latex))
    latex = _TEXT_NUMBER.sub(r"\1 \\text{ \2}", latex)
    match = _SCIENTIFIC.match(latex.strip())
    if match:
        return f"{match.group(1)}\\times 10^{{{match.group(2)}}}"
    return latex


def percent_value(latex: str) -> str | None:
    """``X`` of an answer ``X\\%`` (also ``X%``, ``X percent``), else None."""
    match = _PERCENT.match(latex.strip())
    return match.group(1) if match else None


def rewrite_repeating_decimals(latex: str) -> str:
    """``0.\\overline{3}`` -> ``\\frac{1}{3}``, ``0.1\\overline{6}`` -> ``\\frac{1}{6}``; else unchanged."""
    if "\\overline" not in latex:
        return latex
    return _REPEATING.sub(_repeating_to_fraction, latex)


_WRAPPERS = re.compile(r"^\s*(?:\$+|\\\(|\\\[)?\s*|\s*(?:\$+|\\\)|\\\])?\s*\.?\s*$")
_TEXT = re.compile(r"\\(?:text|textrm|mathrm|mbox|operatorname)\s*\{([^{}]*)\}")
_CLOCK = re.compile(
    r"^(?P<h>[0-2]?\d)\s*:\s*(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?\s*"
    r"(?P<ampm>[ap]\.?\s*m\.?)?\s*(?:o'?clock)?$",
    re.IGNORECASE,
)


def _plain(text: str) -> str:
    """The answer without math delimiters, ``\\text{}`` wrappers and LaTeX spacing."""
    text = _TEXT.sub(r" \1 ", _WRAPPERS.sub("", text))
    return re.sub(r"\\[,;:! ]|~", " ", text).strip()


def _clock(text: str) -> tuple[int, int, int, str] | None:
    match = _CLOCK.match(_plain(text))
    if match is None or int(match.group("h")) > 24:
        return None
    ampm = (match.group("ampm") or "").lower().replace(".", "").replace(" ", "")
    return int(match.group("h")), int(match.group("m")), int(match.group("s") or 0), ampm


def _clock_key(own: tuple[int, int, int, str], other: tuple[int, int, int, str]) -> tuple[int, int, int]:
    """A time as 24-hour values; on a 12-hour dial when only the other side says am/pm."""
    hour, minute, second, ampm = own
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if bool(ampm) != bool(other[3]):
        hour %= 12
    return hour, minute, second


#: Unit spellings -> one canonical name per unit (only these are compared; others are left alone).
_UNITS: dict[str, str] = {}
for _canon, _names in {
    "mm": "mm millimeter millimeters millimetre millimetres",
    "cm": "cm centimeter centimeters centimetre centimetres",
    "m": "m meter meters metre metres",
    "km": "km kilometer kilometers kilometre kilometres",
    "in": "in inch inches",
    "ft": "ft foot feet",
    "yd": "yd yard yards",
    "mi": "mi mile miles",
    "mg": "mg milligram milligrams",
    "g": "g gram grams",
    "kg": "kg kilogram kilograms",
    "ml": "ml mL milliliter milliliters millilitre millilitres",
    "l": "l L liter liters litre litres",
    "s": "s sec secs second seconds",
    "min": "min mins minute minutes",
    "h": "h hr hrs hour hours",
    "day": "day days",
    "week": "week weeks",
    "year": "year years yr yrs",
    "cent": "cent cents",
    "dollar": "dollar dollars",
    "degree": "degree degrees",
}.items():
    for _name in _names.split():
        _UNITS[_name] = _canon

_UNIT_TAIL = re.compile(
    r"(?:\d|\})\s*(?:\\,|\\;|\\ |~|\s)*(?P<unit>[A-Za-z]+)\s*(?P<power>\^\s*\{?\s*[23]\s*\}?)?\s*\.?$"
)


def _unit(text: str) -> str | None:
    """The canonical unit at the end of a numeric answer (``10 \\text{ cm}^2`` -> ``cm^2``), or None."""
    plain = _plain(text)
    match = _UNIT_TAIL.search(plain)
    if match is None:
        return None
    canon = _UNITS.get(match.group("unit")) or _UNITS.get(match.group("unit").lower())
    if canon is None:
        return None
    power = re.sub(r"\D", "", match.group("power") or "")
    return canon + (f"^{power}" if power else "")


def rules_veto(gold: str, pred: str) -> str | None:
    """Why two answers math-verify may call equal are not (``clock_time``/``unit``), or None."""
    gold_clock, pred_clock = _clock(gold), _clock(pred)
    if (
        gold_clock is not None
        and pred_clock is not None
        and _clock_key(gold_clock, pred_clock) != _clock_key(pred_clock, gold_clock)
    ):
        return "clock_time_differs"
    gold_unit, pred_unit = _unit(gold), _unit(pred)
    if gold_unit is not None and pred_unit is not None and gold_unit != pred_unit:
        return "unit_differs"
    return None
