"""Prompt templates: the shipped ones load and render; malformed ones fail with the key named."""

from __future__ import annotations

import pytest
import yaml

from srpo.data.problem import Problem
from srpo.data.templates import TemplateError, available_templates, load_template, template_from_dict

MATH = Problem(problem="What is $\\frac{1}{2} + {{x}}$?", ground_truth="1")
STDIO = Problem(problem="Add two numbers.", ground_truth="{}", test_format="stdio")
CALL = Problem(
    problem="Sum a list.",
    ground_truth="{}",
    test_format="call",
    starter_code="def total(xs):\n    ",
    fn_name="total",
)


def test_shipped_templates_load():
    names = available_templates()
    assert {"math_boxed", "math_think_boxed", "code_fenced", "code_complete"} <= set(names)
    for name in names:
        assert load_template(name).name == name


def test_math_template_asks_for_boxed_and_keeps_braces_in_the_problem():
    (message,) = load_template("math_boxed").render(MATH)
    assert message["role"] == "user"
    # LaTeX braces and even a literal "{{x}}" in the problem are left alone.
    assert message["content"].startswith("What is $\\frac{1}{2} + {{x}}$?")
    assert "\\boxed{}" in message["content"]


def test_system_message_comes_first():
    system, user = load_template("math_think_boxed").render(MATH)
    assert system["role"] == "system" and user["role"] == "user"
    assert "\\boxed{}" in system["content"] and "<think>" in system["content"]


def test_code_template_picks_instructions_by_test_format():
    template = load_template("code_fenced")
    (stdio,) = template.render(STDIO)
    assert "standard input" in stdio["content"] and "```python" in stdio["content"]
    assert "Start from this code" not in stdio["content"] and "\n\n\n" not in stdio["content"]
    (call,) = template.render(CALL)
    assert "```python\ndef total(xs):\n```" in call["content"]
    assert "Implement `total`" in call["content"]


def test_render_refuses_a_problem_it_cannot_show():
    template = load_template("code_complete")
    with pytest.raises(TemplateError, match="no place for the problem's starter code"):
        template.render(CALL)


def _load(tmp_path, data):
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_template(str(path))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"domain": "math", "user": "{{problem}} {{answer}}"}, r"unknown placeholder\(s\) \['answer'\]"),
        ({"domain": "math", "user": "Solve it."}, r"must contain \{\{problem\}\}"),
        ({"domain": "physics", "user": "{{problem}}"}, "'domain' must be one of"),
        ({"domain": "math", "user": "{{problem}}", "colour": "red"}, r"unknown key\(s\) \['colour'\]"),
        (
            {"domain": "code", "user": "{{problem}}", "instructions": {"stdio": "x"}},
            r"needs 'instructions' for \['call', 'assert'\]",
        ),
        (
            {"domain": "math", "user": "{{problem}}", "instructions": {"stdio": "x"}},
            "for code templates only",
        ),
        (
            {
                "domain": "code",
                "user": "{{problem}}",
                "instructions": {"stdio": "{{problem}}", "call": "", "assert": ""},
            },
            r"instructions.stdio'.*unknown placeholder",
        ),
    ],
)
def test_malformed_templates_are_rejected(tmp_path, data, message):
    with pytest.raises(TemplateError, match=message):
        _load(tmp_path, data)


def test_custom_template_file_and_unknown_name(tmp_path):
    template = _load(tmp_path, {"domain": "math", "user": "Q: {{ problem }}\nA:"})
    assert template.render(MATH)[0]["content"].startswith("Q: What is")
    with pytest.raises(TemplateError, match="available: .*math_boxed"):
        load_template("no_such_template")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(TemplateError, match="YAML mapping"):
        load_template(str(tmp_path / "list.yaml"))


def test_builder_names_the_source_in_errors():
    with pytest.raises(TemplateError, match="^where.yaml: 'user' must be a non-empty string"):
        template_from_dict("x", {"domain": "math", "user": ""}, "where.yaml")


def test_starter_code_may_be_placed_by_the_instructions(tmp_path):
    data = {
        "domain": "code",
        "user": "{{problem}}\n{{instructions}}",
        "instructions": {
            "stdio": "Use stdin.",
            "call": "Complete:\n{{starter_code}}",
            "assert": "Pass the tests.",
        },
    }
    (message,) = _load(tmp_path, data).render(CALL)
    assert message["content"] == "Sum a list.\nComplete:\ndef total(xs):"


def test_each_template_names_the_reward_format_that_checks_it():
    """The prompt must ask for what the format reward checks, or every response loses that reward."""
    from reward_fns.config import FORMAT_TEMPLATES
    from reward_fns.format_reward import format_ok

    for name in available_templates():
        template = load_template(name)
        regex = FORMAT_TEMPLATES[template.reward_format]
        problem = MATH if template.domain == "math" else STDIO
        prompt = " ".join(m["content"] for m in template.render(problem))
        wants_think = "<think>" in regex
        assert ("<think>" in prompt) == wants_think, name
        reasoning = "<think>\nLet me work it out.\n</think>\n" if wants_think else "Let me work it out.\n"
        answer = "So the answer is \\boxed{1}." if template.domain == "math" else "```python\nprint(1)\n```"
        assert format_ok(reasoning + answer, regex), name
        if wants_think:
            assert not format_ok("Let me work it out.\n" + answer, regex), name
