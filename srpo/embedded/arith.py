"""The math family: short multi-step integer arithmetic and one-variable linear equations.

Every problem comes with a worked solution of one operation per line, ending in ``\\boxed{answer}``;
the ground truth is a plain integer or reduced fraction string that the SymPy verifier can compare.
Level 1 is one operation, level 2 two steps, level 3 three steps or a fractional answer.
Operands are small (mostly one digit) on purpose: a model of a few million parameters trained for a
few minutes learns digit copying and small-number facts, not long carries.
"""

from __future__ import annotations

import random
from fractions import Fraction

from srpo.embedded.problem import Problem, check_level

INSTRUCTION = "Put the answer in \\boxed{}."


def _level1(rng: random.Random) -> tuple[str, str, list[str], str]:
    op = rng.choice("+-*")
    if op == "*":
        a, b = rng.randint(2, 5), rng.randint(0, 9)
    else:
        a, b = rng.randint(0, 15), rng.randint(0, 15)
    value = a + b if op == "+" else a - b if op == "-" else a * b
    return "one_op", f"Compute {a} {op} {b}.", [f"{a} {op} {b} = {value}"], str(value)


def _level2(rng: random.Random) -> tuple[str, str, list[str], str]:
    kind = rng.choice(["add_mul", "paren_mul", "mul_sub", "solve_add"])
    a, b, c = rng.randint(1, 9), rng.randint(1, 9), rng.randint(2, 5)
    if kind == "add_mul":  # a + b * c
        bc = b * c
        steps = [f"{b} * {c} = {bc}", f"{a} + {bc} = {a + bc}"]
        return kind, f"Compute {a} + {b} * {c}.", steps, str(a + bc)
    if kind == "paren_mul":  # (a + b) * c
        s = a + b
        steps = [f"{a} + {b} = {s}", f"{s} * {c} = {s * c}"]
        return kind, f"Compute ({a} + {b}) * {c}.", steps, str(s * c)
    if kind == "mul_sub":  # a * c - b
        ac = a * c
        steps = [f"{a} * {c} = {ac}", f"{ac} - {b} = {ac - b}"]
        return kind, f"Compute {a} * {c} - {b}.", steps, str(ac - b)
    # solve_add: x + a = n, with n = a + x for a random x
    x = rng.randint(0, 15)
    n = x + a
    steps = [f"x = {n} - {a}", f"x = {x}"]
    return kind, f"Solve x + {a} = {n} for x.", steps, str(x)


def _level3(rng: random.Random) -> tuple[str, str, list[str], str]:
    kind = rng.choice(["three_step", "solve_linear", "solve_fraction"])
    if kind == "three_step":  # (a + b) * c - d
        a, b, c, d = rng.randint(1, 5), rng.randint(1, 5), rng.randint(2, 4), rng.randint(1, 9)
        s = a + b
        steps = [f"{a} + {b} = {s}", f"{s} * {c} = {s * c}", f"{s * c} - {d} = {s * c - d}"]
        return kind, f"Compute ({a} + {b}) * {c} - {d}.", steps, str(s * c - d)
    a, b = rng.randint(2, 5), rng.randint(1, 9)
    if kind == "solve_linear":  # a*x + b = n with an integer root
        x = rng.randint(0, 9)
        n = a * x + b
        steps = [f"{a}x = {n} - {b} = {a * x}", f"x = {a * x} / {a} = {x}"]
        return kind, f"Solve {a}x + {b} = {n} for x.", steps, str(x)
    # solve_fraction: a*x = n where n is not a multiple of a, so the answer is a reduced fraction
    n = rng.randint(1, 12)
    while n % a == 0:
        n = rng.randint(1, 12)
    root = Fraction(n, a)
    steps = [f"x = {n} / {a} = {root}"]
    return kind, f"Solve {a}x = {n} for x.", steps, str(root)


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
        ground_truth=answer,
        solution=solution,
    )
