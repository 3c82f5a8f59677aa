"""Typed reward configuration, built from verl's ``reward_kwargs``.

verl merges ``reward.custom_reward_function.reward_kwargs`` into every ``compute_score`` call, so the
whole reward is configured from one YAML block. Sections mirror the parts of SRPO's reward::

    reward_kwargs:
      weights:  {accuracy: 1.0, format: 0.2, language: 0.2}
      math:     {mode: strict, timeout_s: 1.5, float_rounding: 6}
      code:     {partial_credit: false, fence_tags: [python, py], sandbox: {backend: docker, ...}}
      format:   {math_template: boxed, code_template: code_block}
      language: {enabled: true, min_minority_units: 4}

Unknown keys are refused with a message naming the key: a typo in a weight must not silently train
with the default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from reward_fns.domains import get_domain

#: Keyword arguments verl itself adds to reward calls; they are not ours to validate.
VERL_PASSTHROUGH_KEYS = frozenset({"reward_router_address", "reward_model_tokenizer"})

#: Named response templates for the format reward (regexes matched with ``re.DOTALL``).
FORMAT_TEMPLATES: dict[str, str] = {
    # a final \boxed{...} answer somewhere in the response
    "boxed": r"\\boxed\s*\{",
    # reasoning in <think>...</think>, then a final \boxed{...} answer after it
    "think_boxed": r"^\s*<think>.+?</think>.*\\boxed\s*\{",
    # reasoning in <think>...</think>, then <answer>...</answer> (R1-Zero style)
    "think_answer": r"^\s*<think>.+?</think>\s*<answer>.+?</answer>\s*$",
    # at least one fenced code block
    "code_block": r"```[^\n`]*\n.*?```",
    # reasoning in <think>...</think>, then a fenced code block
    "think_code_block": r"^\s*<think>.+?</think>.*```[^\n`]*\n.*?```",
    # no requirement: every response gets the format reward
    "none": r"",
}

#: ``math.mode`` values: ``strict`` for training rewards, ``lenient`` for evaluation (configs/eval.yaml).
MATH_MODES = ("strict", "lenient")


class RewardConfigError(ValueError):
    """A reward_kwargs entry is unknown or has a bad value; the message names it."""


@dataclass(frozen=True)
class Weights:
    """How the parts combine: ``score = accuracy*acc + format*fmt - language*mixed``."""

    accuracy: float = 1.0  # weight of the 0..1 accuracy (math verdict or code tests passed)
    format: float = 0.2  # bonus for following the required template
    language: float = 0.2  # penalty for mixing scripts (CJK and Latin prose) in one response


@dataclass(frozen=True)
class MathConfig:
    """Math answer extraction (ours) and equivalence (math-verify's, see math_grade.py)."""

    mode: str = "strict"  # strict: the last \boxed{} group is the answer; lenient: free text too
    float_rounding: int = 6  # math-verify: decimals compared after rounding to this many places
    max_answer_chars: int = 2000  # longer boxed answers are refused unparsed (hostile input)
    max_response_chars: int = 4000  # lenient mode reads at most this tail of a response without a box
    max_nesting: int = 40  # answers with brackets nested deeper are refused unparsed
    timeout_s: float = 1.5  # CPU seconds per grade, whatever the machine's load (worker killed and replaced)
    wall_timeout_s: float = 15.0  # wall-clock backstop per grade: a worker that makes no progress dies too
    memory_mb: int = 1024  # address-space bound of each verifier worker
    workers: int = 0  # verifier worker processes; 0 = min(4, cpu count)


@dataclass(frozen=True)
class CodeConfig:
    """Program extraction and sandboxed testing."""

    fence_tags: tuple[str, ...] = ("python", "py", "python3", "")  # accepted ``` info strings (Python rows)
    cpp_fence_tags: tuple[str, ...] = ("cpp", "c++", "cc", "cxx")  # ... for rows whose spec says language cpp
    require_fence: bool = True  # False: a response without a fence is taken as the program
    partial_credit: bool = False  # paper: 1 only if every test passes; True: fraction passed
    batch_window_s: float = 0.02  # single calls arriving within this window share a run_batch
    max_batch: int = 256  # most programs per run_batch call
    reuse_results: int = 4096  # recent (program, tests) results reused instead of rerun; 0 = run every time
    sandbox: Mapping[str, Any] = field(default_factory=dict)  # forwarded to sandbox.SandboxConfig

    def tags_for(self, language: str) -> tuple[str, ...]:
        """The fence tags a response in ``language`` (the test spec's) may use."""
        return self.cpp_fence_tags if language == "cpp" else self.fence_tags

    def sandbox_options(self) -> dict[str, Any]:
        """SandboxConfig fields: ``fail_fast`` follows ``partial_credit`` unless set, since without
        partial credit one crashed case already scores 0 and the later cases would only cost time."""
        return {"fail_fast": not self.partial_credit, **dict(self.sandbox)}


@dataclass(frozen=True)
class FormatConfig:
    """Which template each domain's responses must follow (a name in FORMAT_TEMPLATES, or a regex).

    A domain without an entry here follows its registered ``format_template`` (reward_fns.domains).
    """

    math_template: str = "boxed"
    code_template: str = "code_block"


@dataclass(frozen=True)
class LanguageConfig:
    """Mixed-language detection (prose outside code and math only)."""

    enabled: bool = True
    min_minority_units: int = 4  # CJK chars or Latin words of the rarer script needed for "mixed"
    min_minority_ratio: float = 0.02  # ... and their share of all units


@dataclass(frozen=True)
class RewardConfig:
    """The whole reward: weights and each part's options."""

    weights: Weights = field(default_factory=Weights)
    math: MathConfig = field(default_factory=MathConfig)
    code: CodeConfig = field(default_factory=CodeConfig)
    format: FormatConfig = field(default_factory=FormatConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)

    def template_regex(self, domain: str) -> str:
        """The regex the format reward uses for ``domain`` (a template name is expanded)."""
        configured = {"math": self.format.math_template, "code": self.format.code_template}
        name = configured.get(domain) or get_domain(domain).format_template
        return FORMAT_TEMPLATES.get(name, name)

    def math_workers(self) -> int:
        """Verifier pool size; ``SRPO_REWARD_WORKERS`` overrides the config."""
        env = os.environ.get("SRPO_REWARD_WORKERS")
        if env:
            return max(1, int(env))
        return self.math.workers or max(1, min(4, os.cpu_count() or 1))


def _coerce(path: str, value: Any, default: Any) -> Any:
    """Convert a YAML/Hydra value to the type of ``default``; raise naming ``path`` if impossible."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise RewardConfigError(f"reward config key {path!r} must be true/false, got {value!r}")
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RewardConfigError(f"reward config key {path!r} must be a number, got {value!r}")
        return type(default)(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise RewardConfigError(f"reward config key {path!r} must be a string, got {value!r}")
        return value
    if isinstance(default, tuple):
        if isinstance(value, str) or not hasattr(value, "__iter__"):
            raise RewardConfigError(f"reward config key {path!r} must be a list, got {value!r}")
        items = tuple(value)
        if not all(isinstance(v, str) for v in items):
            raise RewardConfigError(f"reward config key {path!r} must be a list of strings, got {value!r}")
        return items
    if isinstance(default, Mapping):
        if not isinstance(value, Mapping):
            raise RewardConfigError(f"reward config key {path!r} must be a mapping, got {value!r}")
        return _plain(value)
    return value


def _plain(value: Any) -> Any:
    """Turn Hydra/OmegaConf containers into plain dicts and lists (they pickle to workers cheaply)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or type(value).__name__ == "ListConfig":
        return [_plain(v) for v in value]
    return value


def _build(cls: type, values: Mapping[str, Any], prefix: str) -> Any:
    """Instantiate dataclass ``cls`` from ``values``, validating every key and type."""
    if not isinstance(values, Mapping):
        raise RewardConfigError(
            f"reward config section {prefix.rstrip('.')!r} must be a mapping, got {values!r}"
        )
    known = {f.name: f for f in fields(cls)}
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if key not in known:
            raise RewardConfigError(f"unknown reward config key {path!r}; known keys here: {sorted(known)}")
        default = getattr(defaults, key)
        if is_dataclass(default):
            kwargs[key] = _build(type(default), value, f"{path}.")
        else:
            kwargs[key] = _coerce(path, value, default)
    return cls(**kwargs)


def _validate(cfg: RewardConfig) -> None:
    """Checks that need more than a type: ranges, template names, compilable regexes."""
    for name in ("accuracy", "format", "language"):
        if getattr(cfg.weights, name) < 0:
            raise RewardConfigError(f"reward config key 'weights.{name}' must be >= 0")
    if cfg.math.mode not in MATH_MODES:
        raise RewardConfigError(
            f"reward config key 'math.mode' must be one of {MATH_MODES}, got {cfg.math.mode!r}"
        )
    for name in ("timeout_s", "max_answer_chars", "max_response_chars", "max_nesting"):
        if getattr(cfg.math, name) <= 0:
            raise RewardConfigError(f"reward config key 'math.{name}' must be > 0")
    if cfg.math.wall_timeout_s < cfg.math.timeout_s:
        raise RewardConfigError("reward config key 'math.wall_timeout_s' must be >= 'math.timeout_s'")
    if not 0 <= cfg.math.float_rounding <= 15:
        raise RewardConfigError("reward config key 'math.float_rounding' must be in 0..15")
    if cfg.math.memory_mb < 128:
        raise RewardConfigError("reward config key 'math.memory_mb' must be >= 128")
    if cfg.code.reuse_results < 0:
        raise RewardConfigError("reward config key 'code.reuse_results' must be >= 0 (0 = never reuse)")
    if cfg.code.partial_credit and cfg.code.sandbox.get("fail_fast"):
        raise RewardConfigError(
            "reward config key 'code.sandbox.fail_fast' must be false with code.partial_credit=true: "
            "cases skipped after a crash would count as failed"
        )
    for key in ("math_template", "code_template"):
        template = getattr(cfg.format, key)
        if template in FORMAT_TEMPLATES:
            continue
        try:
            re.compile(template)
        except re.error as exc:
            raise RewardConfigError(
                f"reward config key 'format.{key}' is neither a template name {sorted(FORMAT_TEMPLATES)} "
                f"nor a regex: {exc}"
            ) from exc


def reward_config_from_kwargs(kwargs: Mapping[str, Any]) -> RewardConfig:
    """Build and validate a :class:`RewardConfig` from verl's merged ``reward_kwargs``."""
    ours = {k: v for k, v in kwargs.items() if k not in VERL_PASSTHROUGH_KEYS}
    cfg = _build(RewardConfig, ours, "")
    _validate(cfg)
    return cfg
