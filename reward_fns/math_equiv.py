"""Decide whether two final answers are the same mathematical object.

Text clean-up (wrappers, units, thousands separators, percent) is ours; LaTeX is parsed by
``latex2sympy2_extended``; the equivalence rules on the SymPy objects are ours:

* numbers: exact when both are exact, else within ``rel_tol``/``abs_tol`` (so ``0.5 == 1/2`` but
  ``3.14 != pi`` by default);
* expressions: structural, then expanded difference, then ``simplify`` on size-capped input;
* ``x = 2`` vs ``2``: an equation ``symbol = value`` is compared by its value; two equations are
  equal when their sides' differences are proportional;
* intervals (open/closed ends must match), unions, sets (order-free), tuples (ordered), matrices
  (shape and entries), inequalities, several answers ("1, 2" is the set {1, 2});
* words ("Monday", "yes", "(C)") are compared as normalised text.

Nothing here bounds its own cost: callers run it through :mod:`reward_fns.bounded`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import sympy
from sympy import Basic, Eq, FiniteSet, Interval, MatrixBase, Tuple, Union
from sympy.core.relational import Relational

#: Expressions bigger than this (``count_ops``) are not handed to ``simplify``.
MAX_SIMPLIFY_OPS = 200

_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_SPACING = re.compile(r"\\[,;:! ]|\\q?quad\b|\\displaystyle|\\textstyle|~")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree\b")
_PERCENT = re.compile(r"\s*(\\%|%|\\percent\b|\s*percent)\s*$")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mbox|mathrm|mathbf|operatorname)\s*\{([^{}]*)\}")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_UNIT_TAIL = re.compile(
    rf"^(?P<num>{_NUMBER}(?:\s*/\s*\d+)?)\s+(?P<unit>[A-Za-z]{{2,}}(?:[\s.]+[A-Za-z]+)*)\.?$"
)
#: Words after a number that are mathematics, not a unit ("2 pi" is not "2").
_NOT_UNITS = frozenset({"pi", "sqrt", "ln", "log", "sin", "cos", "tan", "exp", "or", "and"})
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_DIGIT_GROUP_SPACE = re.compile(r"(?<=\d)(?:\{,\}|\\,|\\ |\s)(?=\d{3}\b)")
_CHOICE = re.compile(r"^\(\s*([A-Ea-e])\s*\)$|^([A-E])$")  # "(c)" or "C"; a bare "e" is Euler's number
#: Words that are names of mathematical constants, not prose.
_MATH_WORDS = {"pi": "\\pi", "infinity": "\\infty", "inf": "\\infty"}
_WORD = re.compile(r"^[A-Za-z][A-Za-z\s'\-]*$")
_LEADING_PROSE = re.compile(r"^(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Tolerance:
    """How close an inexact decimal must be to a value to count as equal."""

    rel_tol: float = 1e-6
    abs_tol: float = 1e-9


#: Agreement required between two *exact* values compared numerically.
_EXACT = Tolerance(rel_tol=1e-12, abs_tol=1e-15)


@dataclass(frozen=True)
class CleanAnswer:
    """An answer after text clean-up: the LaTeX to parse, whether it was a percentage, and a word form."""

    latex: str
    percent: bool
    word: str | None  # set when the answer is prose-like ("Monday", "(C)") and compared as text


def _strip_wrappers(text: str) -> str:
    text = text.strip()
    changed = True
    while changed:
        changed = False
        for left, right in _WRAPPERS:
            if len(text) > len(left) + len(right) and text.startswith(left) and text.endswith(right):
                text = text[len(left) : -len(right)].strip()
                changed = True
    return text


def clean_answer(text: str) -> CleanAnswer:
    """Normalise an answer's text before parsing; pure string work, linear in its length."""
    text = _strip_wrappers(text)
    text = _LEADING_PROSE.sub("", text)
    text = text.rstrip(" .")
    text = _SPACING.sub(" ", text) if "\\begin" not in text else text.replace("\\displaystyle", "")
    text = _DIGIT_GROUP_SPACE.sub("", text)
    text = _DEGREES.sub("", text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = re.sub(r"^\\\$\s*|^\$\s*(?=\d)", "", text)  # a leading currency sign
    percent = False
    if _PERCENT.search(text):
        text = _PERCENT.sub("", text)
        percent = True
    # \text{...} around the whole answer or as a unit after a number
    whole = _TEXT_CMD.fullmatch(text.strip())
    if whole:
        text = whole.group(1).strip()
    else:
        text = re.sub(
            rf"^({_NUMBER}|\\frac\{{[^{{}}]*\}}\{{[^{{}}]*\}})\s*" + _TEXT_CMD.pattern + "$", r"\1", text
        )
    unit = _UNIT_TAIL.match(text.strip())
    if unit and unit.group("unit").split()[0].casefold() not in _NOT_UNITS:
        text = unit.group("num")
    text = text.strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    choice = _CHOICE.match(text)
    if choice:
        letter = (choice.group(1) or choice.group(2)).upper()
        return CleanAnswer(letter, percent, letter)
    text = _MATH_WORDS.get(text.casefold(), text)
    word = " ".join(text.split()).casefold() if _WORD.match(text) and len(text.strip()) > 1 else None
    return CleanAnswer(text, percent, word)


@lru_cache(maxsize=4096)
def parse_latex(latex: str) -> Basic | None:
    """The SymPy object for ``latex``, or None when the parser refuses it."""
    from latex2sympy2_extended import latex2sympy
    from latex2sympy2_extended.math_normalization import NormalizationConfig

    config = NormalizationConfig(
        basic_latex=True, units=True, malformed_operators=True, nits=False, boxed="none", equations=False
    )
    try:
        parsed = latex2sympy(latex, normalization_config=config)
    except Exception:
        return None
    if isinstance(parsed, list | tuple):
        parsed = FiniteSet(*parsed) if parsed else None
    return parsed if isinstance(parsed, Basic | MatrixBase) else None


# ---------------------------------------------------------------- equivalence on SymPy objects


def _is_number(x: object) -> bool:
    return isinstance(x, sympy.Expr) and not x.free_symbols and x.is_number


def _has_float(x: sympy.Expr) -> bool:
    return any(isinstance(a, sympy.Float) for a in sympy.preorder_traversal(x))


def _numbers_equal(a: sympy.Expr, b: sympy.Expr, tol: Tolerance) -> bool:
    if a == b:
        return True
    if _has_float(a) or _has_float(b):
        return _close(a, b, tol)
    if a.is_Rational and b.is_Rational:
        return False  # exact rationals: structural equality above is the whole answer
    if not _close(a, b, _EXACT):
        return False  # clearly different: no need for algebra
    # exact values agreeing to 12 digits: let SymPy decide (numerically, at adaptive precision);
    # when it cannot tell either way, agreement to 12 digits at 30-digit precision stands
    try:
        decided = (a - b).equals(0)
    except Exception:
        decided = None
    return True if decided is None else bool(decided)


def _close(a: sympy.Expr, b: sympy.Expr, tol: Tolerance) -> bool:
    """Numerically equal within ``tol``, with arbitrary-size exponents (no float overflow)."""
    try:
        va, vb = sympy.N(a, 30), sympy.N(b, 30)
        gap = sympy.Abs(va - vb)
        scale = sympy.Max(sympy.Abs(va), sympy.Abs(vb))
        if not (gap.is_number and scale.is_number) or gap.has(sympy.nan, sympy.zoo, sympy.oo):
            return bool(va == vb)
        return bool(gap <= sympy.Max(tol.abs_tol, tol.rel_tol * scale))
    except (TypeError, ValueError, ArithmeticError):
        return False


def _too_big_for_algebra(expr: sympy.Expr) -> bool:
    """Would ``expand``/``simplify`` risk blowing up? (huge integer powers, large trees)"""
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow) and node.exp.is_Integer and abs(int(node.exp)) > 64:
            return True
    return sympy.count_ops(expr) > MAX_SIMPLIFY_OPS


def _exprs_equal(a: sympy.Expr, b: sympy.Expr, tol: Tolerance) -> bool:
    if a == b:
        return True
    if _is_number(a) and _is_number(b):
        return _numbers_equal(a, b, tol)
    diff = a - b
    if _has_float(a) or _has_float(b):
        return _random_points_equal(a, b, tol)
    if _too_big_for_algebra(diff):
        return _random_points_equal(a, b, _EXACT)
    try:
        if sympy.expand(diff) == 0 or sympy.simplify(diff) == 0:
            return True
    except Exception:
        return False
    i = sympy.Symbol("i")
    if i in a.free_symbols or i in b.free_symbols:
        # the parser reads "i" as a variable; in a final answer it is the imaginary unit
        return _exprs_equal(a.subs(i, sympy.I), b.subs(i, sympy.I), tol)
    return False


def _random_points_equal(a: sympy.Expr, b: sympy.Expr, tol: Tolerance) -> bool:
    """Compare at a few fixed, unremarkable points: for decimals in expressions (``0.5x`` vs ``x/2``)
    and for expressions too big for algebra. A polynomial identity test in spirit."""
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    if not symbols:
        return _close(a, b, tol)
    points = ((31, 170, -60), (113, -47, 290), (-190, 73, 41))  # hundredths
    for point in points:
        subs = {s: sympy.Rational(point[i % len(point)] + 10 * i, 100) for i, s in enumerate(symbols)}
        if not _close(a.subs(subs), b.subs(subs), tol):
            return False
    return True


def _unwrap_eq(x: Basic) -> Basic:
    """``x = v`` (a symbol or ``f(x)`` on the left) stands for ``v``; ``x \\in S`` stands for ``S``."""
    if isinstance(x, Eq) and (x.lhs.is_Symbol or isinstance(x.lhs, sympy.Function)):
        return x.rhs
    return x


def _equations_equal(a: Eq, b: Eq, tol: Tolerance) -> bool:
    if _objects_equal(a.lhs, b.lhs, tol) and _objects_equal(a.rhs, b.rhs, tol):
        return True
    if _objects_equal(a.lhs, b.rhs, tol) and _objects_equal(a.rhs, b.lhs, tol):
        return True
    da, db = a.lhs - a.rhs, b.lhs - b.rhs
    if not isinstance(da, sympy.Expr) or not isinstance(db, sympy.Expr):
        return False
    if db == 0:
        return da == 0
    try:
        ratio = sympy.simplify(da / db)
    except Exception:
        return False
    return bool(ratio.is_number and ratio != 0 and not ratio.free_symbols)


def _relations_equal(a: Relational, b: Relational, tol: Tolerance) -> bool:
    a, b = a.canonical, b.canonical
    if type(a) is not type(b):
        return False
    return _objects_equal(a.lhs - a.rhs, b.lhs - b.rhs, tol)


def _intervals_equal(a: Interval, b: Interval, tol: Tolerance) -> bool:
    return (
        a.left_open == b.left_open
        and a.right_open == b.right_open
        and _objects_equal(a.start, b.start, tol)
        and _objects_equal(a.end, b.end, tol)
    )


def _unordered_equal(xs: list, ys: list, tol: Tolerance) -> bool:
    if len(xs) != len(ys):
        return False
    remaining = list(ys)
    for x in xs:
        for j, y in enumerate(remaining):
            if _objects_equal(x, y, tol):
                del remaining[j]
                break
        else:
            return False
    return True


def _ordered_equal(xs: list, ys: list, tol: Tolerance) -> bool:
    return len(xs) == len(ys) and all(_objects_equal(x, y, tol) for x, y in zip(xs, ys, strict=True))


def _objects_equal(a: Basic, b: Basic, tol: Tolerance) -> bool:
    """Recursive structural equivalence (see the module docstring for the rules)."""
    if isinstance(a, Eq) and isinstance(b, Eq):
        return _equations_equal(a, b, tol)
    a, b = _unwrap_eq(a), _unwrap_eq(b)
    if isinstance(a, MatrixBase) or isinstance(b, MatrixBase):
        if not (isinstance(a, MatrixBase) and isinstance(b, MatrixBase)) or a.shape != b.shape:
            return False
        return _ordered_equal(list(a), list(b), tol)
    if isinstance(a, FiniteSet) and isinstance(b, FiniteSet):
        return _unordered_equal(list(a.args), list(b.args), tol)
    if isinstance(a, FiniteSet) and len(a.args) == 1:
        return _objects_equal(a.args[0], b, tol)
    if isinstance(b, FiniteSet) and len(b.args) == 1:
        return _objects_equal(a, b.args[0], tol)
    if isinstance(a, Union) and isinstance(b, Union):
        return _unordered_equal(list(a.args), list(b.args), tol)
    if isinstance(a, Interval) and isinstance(b, Interval):
        return _intervals_equal(a, b, tol)
    # "(1, 2)" is read as an open interval; it equals the point/tuple (1, 2)
    if isinstance(a, Interval) and isinstance(b, Tuple):
        a, b = b, a
    if isinstance(a, Tuple) and isinstance(b, Interval):
        return b.left_open and b.right_open and _ordered_equal(list(a.args), [b.start, b.end], tol)
    if isinstance(a, Tuple) and isinstance(b, Tuple):
        return _ordered_equal(list(a.args), list(b.args), tol)
    if isinstance(a, Relational) and isinstance(b, Relational):
        if isinstance(a, Eq) and isinstance(b, Eq):
            return _equations_equal(a, b, tol)
        return _relations_equal(a, b, tol)
    if isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr):
        return _exprs_equal(a, b, tol)
    return a == b


def _percent_variants(value: Basic, percent: bool, as_fraction: bool) -> list[Basic]:
    if percent and as_fraction and isinstance(value, sympy.Expr):
        return [value, value / 100]
    return [value]


@dataclass(frozen=True)
class Equivalence:
    """The verdict and why (``equal``, ``not_equal``, ``text_equal``, ``unparsable_answer``, ...)."""

    equal: bool
    reason: str


def answers_equivalent(
    pred: str, gold: str, tol: Tolerance | None = None, percent_as_fraction: bool = True
) -> Equivalence:
    """Is the predicted answer text the same as the reference answer text?"""
    tol = tol or Tolerance()
    cp, cg = clean_answer(pred), clean_answer(gold)
    if cp.latex == cg.latex and cp.percent == cg.percent:
        return Equivalence(True, "text_equal")
    if cp.word is not None or cg.word is not None:
        same = cp.word is not None and cp.word == cg.word
        return Equivalence(same, "text_equal" if same else "not_equal")
    fp, fg = _plain_number(cp.latex), _plain_number(cg.latex)
    if fp is not None and fg is not None:  # the common case (GSM8K, AIME): no parser, no SymPy
        for vp in _fraction_variants(fp[0], cp.percent, percent_as_fraction):
            for vg in _fraction_variants(fg[0], cg.percent, percent_as_fraction):
                if vp == vg or ((fp[1] or fg[1]) and _fractions_close(vp, vg, tol)):
                    return Equivalence(True, "equal")
        return Equivalence(False, "not_equal")
    gp = _number_to_sympy(fp) if fp is not None else parse_latex(cp.latex)
    gg = _number_to_sympy(fg) if fg is not None else parse_latex(cg.latex)
    if gg is None:
        same = _loose_text(cp.latex) == _loose_text(cg.latex)
        return Equivalence(same, "text_equal" if same else "unparsable_ground_truth")
    if gp is None:
        return Equivalence(False, "unparsable_answer")
    for vp in _percent_variants(gp, cp.percent, percent_as_fraction):
        for vg in _percent_variants(gg, cg.percent, percent_as_fraction):
            if _objects_equal(vp, vg, tol):
                return Equivalence(True, "equal")
    return Equivalence(False, "not_equal")


_PLAIN_INT_OR_DECIMAL = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,4})?$")
_PLAIN_FRACTION = re.compile(r"^([-+]?)\s*(?:\\frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}|(\d+)\s*/\s*(\d+))$")


def _plain_number(text: str) -> tuple[Fraction, bool] | None:
    """``(value, inexact)`` for an integer, decimal or simple fraction written plainly, else None.

    Decimals are inexact (compared with the tolerance), like SymPy Floats on the slow path.
    """
    text = text.strip()
    if len(text) > 60:
        return None
    if _PLAIN_INT_OR_DECIMAL.match(text):
        return Fraction(text), "." in text
    m = _PLAIN_FRACTION.match(text)
    if m:
        num, den = (m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5))
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        return (-value if m.group(1) == "-" else value), False
    return None


def _number_to_sympy(number: tuple[Fraction, bool]) -> sympy.Expr:
    value, inexact = number
    rational = sympy.Rational(value.numerator, value.denominator)
    return sympy.Float(rational, 30) if inexact else rational


def _fraction_variants(value: Fraction, percent: bool, as_fraction: bool) -> list[Fraction]:
    return [value, value / 100] if percent and as_fraction else [value]


def _fractions_close(a: Fraction, b: Fraction, tol: Tolerance) -> bool:
    return abs(a - b) <= max(Fraction(tol.abs_tol), Fraction(tol.rel_tol) * max(abs(a), abs(b)))


def _loose_text(text: str) -> str:
    return re.sub(r"[\s{}]|\\text|\\mathrm", "", text).casefold()
