"""The code family: "write a function f(...) that ..." with hidden call-style tests.

Each template is a one-line Python body with a few integer or character parameters. The hidden
tests are made by running the reference solution (our own generated code) on random arguments, so
the expected values cannot drift from the solution. Level 1 is one operation, level 2 two, level 3
a loop-like idiom over a list.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from srpo.embedded.problem import Problem, check_level

N_CASES = 4


@dataclass(frozen=True)
class _Template:
    kind: str
    level: int
    arg: str  # the parameter name: "x" (int), "s" (str) or "xs" (list of int)
    text: str  # what the function returns, with {a}, {b}, {ch} placeholders
    body: str  # the Python expression, same placeholders
    params: Callable[[random.Random], dict[str, Any]]


def _ints(**ranges: tuple[int, int]) -> Callable[[random.Random], dict[str, Any]]:
    return lambda rng: {k: rng.randint(lo, hi) for k, (lo, hi) in ranges.items()}


def _char_and(**ranges: tuple[int, int]) -> Callable[[random.Random], dict[str, Any]]:
    return lambda rng: {"ch": rng.choice("abcxyz!#"), **{k: rng.randint(*r) for k, r in ranges.items()}}


_TEMPLATES = (
    _Template("add", 1, "x", "x plus {a}", "x + {a}", _ints(a=(1, 30))),
    _Template("mul", 1, "x", "x times {a}", "x * {a}", _ints(a=(2, 12))),
    _Template("repeat", 1, "s", "s repeated {a} times", "s * {a}", _ints(a=(2, 9))),
    _Template("sum_plus", 1, "xs", "the sum of xs plus {a}", "sum(xs) + {a}", _ints(a=(1, 20))),
    _Template("affine", 2, "x", "x times {a} plus {b}", "x * {a} + {b}", _ints(a=(2, 9), b=(1, 20))),
    _Template("pad", 2, "s", "s followed by '{ch}' {a} times", "s + '{ch}' * {a}", _char_and(a=(2, 6))),
    _Template("max_plus", 2, "xs", "the largest item of xs plus {a}", "max(xs) + {a}", _ints(a=(1, 20))),
    _Template("len_mul", 2, "xs", "the length of xs times {a}", "len(xs) * {a}", _ints(a=(2, 9))),
    _Template(
        "count_gt",
        3,
        "xs",
        "how many items of xs are greater than {a}",
        "len([v for v in xs if v > {a}])",
        _ints(a=(0, 9)),
    ),
    _Template(
        "scale_list", 3, "xs", "a list of each item of xs times {a}", "[v * {a} for v in xs]", _ints(a=(2, 9))
    ),
    _Template(
        "sum_affine",
        3,
        "xs",
        "the sum of xs times {a} plus {b}",
        "sum(xs) * {a} + {b}",
        _ints(a=(2, 9), b=(1, 20)),
    ),
)


def templates(level: int) -> tuple[str, ...]:
    """The template kinds of one difficulty level."""
    return tuple(t.kind for t in _TEMPLATES if t.level == check_level(level))


def _random_arg(rng: random.Random, arg: str) -> Any:
    if arg == "x":
        return rng.randint(-20, 20)
    if arg == "s":
        return "".join(rng.choice("abcdefgh") for _ in range(rng.randint(0, 3)))
    return [rng.randint(0, 12) for _ in range(rng.randint(1, 5))]


def _reference(source: str) -> Callable[..., Any]:
    """The reference ``f`` (project-generated code, never model output)."""
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - trusted, generated from the templates above
    return namespace["f"]


def make_codegen(rng: random.Random, level: int) -> Problem:
    """Draw one code problem of the given difficulty level from ``rng``."""
    choices = [t for t in _TEMPLATES if t.level == check_level(level)]
    template = rng.choice(choices)
    params = template.params(rng)
    returns = template.text.format(**params)
    body = template.body.format(**params)
    source = f"def f({template.arg}):\n    return {body}\n"
    reference = _reference(source)
    cases = []
    for _ in range(N_CASES):
        args = [_random_arg(rng, template.arg)]
        cases.append({"args": args, "kwargs": {}, "expected": reference(*args)})
    spec = {"format": "call", "fn_name": "f", "cases": cases}
    return Problem(
        family="codegen",
        kind=template.kind,
        level=level,
        question=f"Write a Python function f({template.arg}) that returns {returns}.",
        ground_truth=json.dumps(spec, separators=(",", ":")),
        solution=f"```python\n{source}```",
    )
