"""Prompt templates (``configs/data/*.yaml``): how a converted problem becomes the chat prompt.

A template names the answer format the rewards expect (reasoning then ``\\boxed{}`` for math, a fenced
python block for code). Placeholders are ``{{name}}``; single braces are literal, so LaTeX such as
``\\boxed{}`` needs no escaping. Code templates carry one instruction per test format (``stdio``,
``call``, ``assert``) and a block that shows starter code only when a problem has some.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reward_fns.domains import domain_names
from srpo.data.problem import TEST_FORMATS, Problem
from srpo.paths import config_dir

TEMPLATE_DIR = config_dir() / "data"
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_USER_PLACEHOLDERS = {"problem", "starter_code", "fn_name", "starter_code_block", "instructions"}
_BLOCK_PLACEHOLDERS = {"starter_code", "fn_name"}


class TemplateError(ValueError):
    """A template file is malformed, or cannot render a given problem."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    domain: str
    user: str
    system: str | None = None
    starter_code_block: str = ""
    instructions: dict[str, str] = field(default_factory=dict)
    description: str = ""
    # The reward's format template (reward_fns.config.FORMAT_TEMPLATES) that checks what this asks for.
    reward_format: str | None = None

    def render(self, problem: Problem) -> list[dict[str, str]]:
        """The chat messages for one problem."""
        if (
            problem.starter_code
            and "starter_code" not in self._used
            and "starter_code_block" not in self._used
        ):
            raise TemplateError(f"template {self.name!r} has no place for the problem's starter code")
        small = {"starter_code": problem.starter_code.rstrip(), "fn_name": problem.fn_name}
        block = _fill(self.starter_code_block, small).rstrip() if problem.starter_code else ""
        values = {
            "problem": problem.problem.strip(),
            **small,
            "starter_code_block": block,
            "instructions": "",
        }
        if self.domain == "code":
            if problem.test_format not in self.instructions:
                raise TemplateError(
                    f"template {self.name!r} has no instructions for {problem.test_format!r} tests"
                )
            values["instructions"] = _fill(self.instructions[problem.test_format], small).rstrip()
        content = _fill(_drop_empty_lines(self.user, values), values).strip()
        messages = [{"role": "user", "content": content}]
        if self.system:
            messages.insert(0, {"role": "system", "content": self.system.strip()})
        return messages

    @property
    def _used(self) -> set[str]:
        texts = [self.user, *self.instructions.values()]
        return {name for text in texts for name in _PLACEHOLDER.findall(text)}


def _drop_empty_lines(text: str, values: dict[str, str]) -> str:
    """Remove a line holding only a placeholder whose value is empty, and one blank line after it,
    so an absent block leaves no gap (the problem text itself is never touched)."""

    def drop(match: re.Match[str]) -> str:
        return "" if not values[match.group(1)] else match.group(0)

    return re.sub(r"^[ \t]*\{\{\s*(\w+)\s*\}\}[ \t]*\n(?:[ \t]*\n)?", drop, text, flags=re.MULTILINE)


def _fill(text: str, values: dict[str, str]) -> str:
    # One pass: inserted values are not scanned again, so "{{...}}" inside a problem stays as it is.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _check_placeholders(text: str, allowed: set[str], where: str) -> None:
    unknown = set(_PLACEHOLDER.findall(text)) - allowed
    if unknown:
        raise TemplateError(f"{where}: unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(allowed)}")


def template_from_dict(name: str, data: dict[str, Any], where: str) -> PromptTemplate:
    """Build and check a template from its YAML mapping; ``where`` names the file in errors."""
    known = {"description", "domain", "system", "user", "starter_code_block", "instructions", "reward_format"}
    unknown = set(data) - known
    if unknown:
        raise TemplateError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    domain = data.get("domain")
    if domain not in domain_names():
        raise TemplateError(f"{where}: 'domain' must be one of {list(domain_names())}, got {domain!r}")
    user = data.get("user")
    if not isinstance(user, str) or not user.strip():
        raise TemplateError(f"{where}: 'user' must be a non-empty string")
    _check_placeholders(user, _USER_PLACEHOLDERS, f"{where} 'user'")
    if "problem" not in _PLACEHOLDER.findall(user):
        raise TemplateError(f"{where}: 'user' must contain {{{{problem}}}}")
    block = data.get("starter_code_block") or ""
    _check_placeholders(block, _BLOCK_PLACEHOLDERS, f"{where} 'starter_code_block'")
    instructions = data.get("instructions") or {}
    if not isinstance(instructions, dict):
        raise TemplateError(f"{where}: 'instructions' must map test formats to text")
    if domain == "code":
        missing = [f for f in TEST_FORMATS if not isinstance(instructions.get(f), str)]
        if missing:
            raise TemplateError(f"{where}: a code template needs 'instructions' for {missing}")
        for fmt, text in instructions.items():
            if fmt not in TEST_FORMATS:
                raise TemplateError(f"{where}: 'instructions' key {fmt!r} is not one of {list(TEST_FORMATS)}")
            _check_placeholders(text, _BLOCK_PLACEHOLDERS, f"{where} 'instructions.{fmt}'")
    elif instructions:
        raise TemplateError(f"{where}: 'instructions' is for code templates only")
    system = data.get("system")
    if system is not None and not isinstance(system, str):
        raise TemplateError(f"{where}: 'system' must be a string or null")
    return PromptTemplate(
        name=name,
        domain=domain,
        user=user,
        system=system,
        starter_code_block=block,
        instructions=dict(instructions),
        description=str(data.get("description", "")),
        reward_format=_optional_name(data.get("reward_format"), f"{where}: 'reward_format'"),
    )


def _optional_name(value: Any, where: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise TemplateError(f"{where} must be a format template name, got {value!r}")
    return value


def available_templates(template_dir: Path = TEMPLATE_DIR) -> list[str]:
    """Names of the templates shipped in ``configs/data``."""
    return sorted(p.stem for p in template_dir.glob("*.yaml"))


def load_template(name_or_path: str, template_dir: Path = TEMPLATE_DIR) -> PromptTemplate:
    """A template by name (``configs/data/<name>.yaml``) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = template_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        raise TemplateError(
            f"no template {name_or_path!r} (looked for {path}); available: {available_templates(template_dir)}"
        )
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: a template file must hold a YAML mapping")
    return template_from_dict(path.stem, data, str(path))
