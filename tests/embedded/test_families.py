"""The task families: determinism, fixed disjoint splits, difficulty levels, correct references."""

from __future__ import annotations

import random

import pytest

from srpo.embedded.arith import make_arith
from srpo.embedded.codegen import make_codegen, templates
from srpo.embedded.dataset import TEST_PERCENT, generate
from srpo.embedded.probe import grade
from srpo.embedded.problem import split_of


@pytest.mark.parametrize("family", ["arith", "codegen"])
def test_same_seed_same_problems_other_seed_other_problems(family):
    a = generate(family, "train", 50, (1, 2, 3), seed=3)
    b = generate(family, "train", 50, (1, 2, 3), seed=3)
    c = generate(family, "train", 50, (1, 2, 3), seed=4)
    assert a == b
    assert [p.question for p in a] != [p.question for p in c]


@pytest.mark.parametrize("family", ["arith", "codegen"])
def test_splits_are_disjoint_and_fixed_across_seeds(family):
    train = {p.question for seed in (0, 1) for p in generate(family, "train", 150, (1, 2, 3), seed)}
    test = {p.question for seed in (0, 1) for p in generate(family, "test", 40, (1, 2, 3), seed)}
    assert train.isdisjoint(test)
    assert all(split_of(q, TEST_PERCENT) == "train" for q in train)
    assert all(split_of(q, TEST_PERCENT) == "test" for q in test)


@pytest.mark.parametrize("family", ["arith", "codegen"])
def test_questions_are_distinct_and_ids_stable(family):
    problems = generate(family, "train", 120, (1, 2, 3), seed=0)
    assert len({p.question for p in problems}) == len(problems)
    assert len({p.prompt_id for p in problems}) == len(problems)
    assert all(p.prompt_id.startswith(f"{family}-") for p in problems)


def test_level_sets_the_number_of_steps():
    rng = random.Random(0)
    lines = {level: [make_arith(rng, level).solution.count("\n") for _ in range(200)] for level in (1, 2, 3)}
    assert set(lines[1]) == {1}  # one operation, then the boxed answer
    assert set(lines[2]) == {2}
    assert max(lines[3]) == 3 and min(lines[3]) >= 1
    assert set(templates(1)).isdisjoint(templates(3))


@pytest.mark.parametrize("level", [1, 2, 3])
def test_reference_solutions_pass_their_own_grading(level):
    rng = random.Random(level)
    problems = [make_arith(rng, level) for _ in range(30)] + [make_codegen(rng, level) for _ in range(6)]
    assert all(grade(p, p.solution) for p in problems)


def test_wrong_answers_fail_grading():
    rng = random.Random(0)
    math = make_arith(rng, 2)
    code = make_codegen(rng, 2)
    assert not grade(math, math.solution.replace(f"{{{math.ground_truth}}}", "{100000}"))
    assert not grade(code, "```python\ndef f(*args):\n    return None\n```")
    assert not grade(code, "no code here")


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="difficulty level"):
        generate("arith", "train", 5, (4,), seed=0)
    with pytest.raises(ValueError, match="unknown task family"):
        generate("algebra", "train", 5, (1,), seed=0)
    with pytest.raises(ValueError, match="unknown split"):
        generate("arith", "val", 5, (1,), seed=0)
    with pytest.raises(ValueError, match="fewer than 500 distinct test questions"):
        generate("codegen", "test", 500, (1,), seed=0)
