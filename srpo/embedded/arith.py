"""The math family: one- to three-step integer arithmetic and one-variable equations.

Every step of a worked solution is one fact from three small tables, so a model of a few million
parameters can learn each step in a short warm-up:

- addition of two digits (``a + b`` with ``a, b`` in 0..9),
- its inverse (``n - a`` whose result is a digit),
- multiplication by 2..5 (``a * b`` with ``b`` in 0..9, either order) and its inverse.

A level-``k`` problem chains ``k`` facts. Written out one per line the chain is as easy as its
facts; answered in one go (the bare ``\\boxed{}`` style the warm-up also teaches, see
``srpo.embedded.styles``) it is not, which is what RL discovers. Answers are integers the SymPy
verifier compares.
"""

from __future__ import annotations

import random

from srpo.embedded.problem import Problem, check_level

INSTRUCTION = "Put the answer in \\boxed{}."

Drawn = tuple[str, str, list[str], int]  # kind, question, worked steps, answer


def _digit(rng: random.Random) -> int:
    return rng.randint(0, 9)


def _factor(rng: random.Random) -> int:
    return rng.randint(2, 5)


def _sum_then_inverse(rng: random.Random) -> tuple[int, int, int, int, int]:
    """``a + b = s`` then ``s - c = t`` with ``t`` a digit: two table facts in a row."""
    a, b = _digit(rng), _digit(rng)
    s = a + b
    c = rng.randint(max(0, s - 9), min(9, s))
    return a, b, s, c, s - c


def _level1(rng: random.Random) -> Drawn:
    kind = rng.choice(["add", "sub", "mul"])
    if kind == "add":
        a, b = _digit(rng), _digit(rng)
        return kind, f"Compute {a} + {b}.", [f"{a} + {b} = {a + b}"], a + b
    if kind == "sub":  # the inverse of an addition fact: the result is a digit
        a, result = _digit(rng), _digit(rng)
        n = a + result
        return kind, f"Compute {n} - {a}.", [f"{n} - {a} = {result}"], result
    a, b = _factor(rng), _digit(rng)
    if rng.random() < 0.5:
        a, b = b, a
    return kind, f"Compute {a} * {b}.", [f"{a} * {b} = {a * b}"], a * b


def _level2(rng: random.Random) -> Drawn:
    kind = rng.choice(["add_sub", "paren_mul", "solve_add"])
    if kind == "add_sub":  # a + b - c, where (a + b) - c is again an inverse addition fact
        a, b, s, c, t = _sum_then_inverse(rng)
        steps = [f"{a} + {b} = {s}", f"{s} - {c} = {t}"]
        return kind, f"Compute {a} + {b} - {c}.", steps, t
    if kind == "paren_mul":  # (a + b) * c with a digit sum
        a = _digit(rng)
        b = rng.randint(0, 9 - a)
        c = _factor(rng)
        s = a + b
        steps = [f"{a} + {b} = {s}", f"{s} * {c} = {s * c}"]
        return kind, f"Compute ({a} + {b}) * {c}.", steps, s * c
    a, x = _digit(rng), _digit(rng)  # solve_add: x + a = n
    n = x + a
    steps = [f"x = {n} - {a}", f"x = {x}"]
    return kind, f"Solve x + {a} = {n} for x.", steps, x


def _level3(rng: random.Random) -> Drawn:
    kind = rng.choice(["add_sub_add", "paren_sub_mul", "solve_linear"])
    if kind == "add_sub_add":  # a + b - c + d
        a, b, s, c, t = _sum_then_inverse(rng)
        d = _digit(rng)
        steps = [f"{a} + {b} = {s}", f"{s} - {c} = {t}", f"{t} + {d} = {t + d}"]
        return kind, f"Compute {a} + {b} - {c} + {d}.", steps, t + d
    if kind == "paren_sub_mul":  # (a + b - c) * d
        a, b, s, c, t = _sum_then_inverse(rng)
        d = _factor(rng)
        steps = [f"{a} + {b} = {s}", f"{s} - {c} = {t}", f"{t} * {d} = {t * d}"]
        return kind, f"Compute ({a} + {b} - {c}) * {d}.", steps, t * d
    a = _factor(rng)  # solve_linear: a x + b = n with a x a digit, so n - b is an inverse addition fact
    x = rng.randint(0, 9 // a)
    b = _digit(rng)
    ax = a * x
    n = ax + b
    steps = [f"{a}x = {n} - {b}", f"{a}x = {ax}", f"x = {ax} / {a} = {x}"]
    return kind, f"Solve {a}x + {b} = {n} for x.", steps, x


_LEVELS = {1: _level1, 2: _level2, 3: _level3}


def make_arith(rng: random.Random, level: int) -> Problem:
    """Draw one math problem of the given difficulty level from ``rng``."""
    kind, question, steps, answer = _LEVELS[check_level(level)](rng)
    solution = "\n".join([*steps, f"\\boxed{{{answer}}}"])
    return Problem(
        family="arith",
        kind=kind,
        level=level,
        question=f"{question} {INSTRUCTION}",
        ground_truth=str(answer),
        solution=solution,
    )
