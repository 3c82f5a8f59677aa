"""The warm-up's answer styles: the asked style passes the graders, the other style never does."""

from __future__ import annotations

import json

import pytest

from srpo.embedded.build import MANIFEST, BuildSettings, shipped_dir
from srpo.embedded.dataset import generate
from srpo.embedded.probe import grade
from srpo.embedded.styles import in_asked_style, mix_styles, renamed_function, unboxed


@pytest.fixture(scope="module")
def problems():
    return generate("arith", "train", 60, (1, 2, 3), seed=0) + generate("codegen", "train", 30, (1, 2, 3), 0)


def test_other_styles_keep_the_work_but_fail_the_graders(problems):
    for problem in problems:
        assert grade(problem, problem.solution)
        other = unboxed(problem) if problem.family == "arith" else renamed_function(problem)
        assert not grade(problem, other.solution)
        assert in_asked_style(problem, problem.solution) and not in_asked_style(problem, other.solution)
        if problem.family == "arith":  # every computed line stays, only the boxed line goes
            assert problem.solution.startswith(other.solution + "\n\\boxed{")
        else:
            assert other.solution.replace(f"def {problem.kind}(", "def f(") == problem.solution


def test_mix_follows_the_shares_and_the_seed(problems):
    many = problems * 20
    mixed = mix_styles(many, boxed_share=0.3, asked_name_share=0.7, seed=5)
    assert mixed == mix_styles(many, boxed_share=0.3, asked_name_share=0.7, seed=5)
    assert mixed != mix_styles(many, boxed_share=0.3, asked_name_share=0.7, seed=6)
    math = [p for p in mixed if p.family == "arith"]
    code = [p for p in mixed if p.family == "codegen"]
    assert sum("\\boxed{" in p.solution for p in math) / len(math) == pytest.approx(0.3, abs=0.05)
    assert sum("def f(" in p.solution for p in code) / len(code) == pytest.approx(0.7, abs=0.05)
    assert mix_styles(problems, 1.0, 1.0, seed=0) == list(problems)


def test_bad_shares_and_families_are_named(problems):
    with pytest.raises(ValueError, match="boxed_share"):
        mix_styles(problems, 1.5, 0.5, seed=0)
    with pytest.raises(ValueError, match="asked_name_share"):
        mix_styles(problems, 0.5, -0.1, seed=0)
    code = next(p for p in problems if p.family == "codegen")
    with pytest.raises(ValueError, match="math style"):
        unboxed(code)


def test_the_shipped_model_is_the_default_build():
    """A change to the default settings must come with a rebuilt shipped model (or none)."""
    shipped = sorted(p.name for p in shipped_dir().iterdir() if p.is_dir())
    assert shipped == [f"tiny-qwen2-{BuildSettings().key()}"]
    manifest = json.loads((shipped_dir() / shipped[0] / MANIFEST).read_text())
    assert manifest["key"] == BuildSettings().key()
    assert manifest["settings"] == json.loads(json.dumps(BuildSettings().as_dict()))
