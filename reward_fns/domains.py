"""The task domains SRPO trains on, in one registry: a new domain is one :func:`register_domain` call.

The trainer config, the row validator, the prompt templates and the reward dispatcher all ask this
registry which domains exist, which data sources belong to each, which format template a response
of the domain must follow and which function grades it. Graders are named by import path, so that
reading the registry (config validation, data checks) imports neither SymPy nor the Docker SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Domain:
    """One domain's reward wiring.

    ``grader`` grades a batch: ``f(cfg: RewardConfig, rows: Sequence[tuple[response, ground_truth,
    row_name]]) -> list[result dict]`` (the keys of ``reward_fns.dispatch.RESULT_KEYS``); it raises
    ``ValueError`` naming the row for a malformed ground truth. ``async_grader`` (optional) grades one
    row as a coroutine, ``f(cfg, response, ground_truth, row_name) -> result dict``, for domains that
    wait on something other than CPU (code waits on the sandbox); without it a single row goes
    through ``grader`` in a thread.
    """

    name: str
    grader: str  # "module:function"
    format_template: str  # FORMAT_TEMPLATES name (or regex) used unless reward_kwargs.format overrides it
    sources: tuple[str, ...] = ()  # data_source values routed here when a row has no extra_info.domain
    async_grader: str | None = None  # "module:function"


_REGISTRY: dict[str, Domain] = {}


def register_domain(domain: Domain) -> Domain:
    """Add ``domain``; registering the same name twice with different wiring is an error."""
    known = _REGISTRY.get(domain.name)
    if known is not None and known != domain:
        raise ValueError(f"domain {domain.name!r} is already registered as {known}")
    for source in domain.sources:
        owner = domain_of_source(source)
        if owner is not None and owner != domain.name:
            raise ValueError(f"data source {source!r} already belongs to domain {owner!r}")
    _REGISTRY[domain.name] = domain
    return domain


def domain_names() -> tuple[str, ...]:
    """Registered domain names, in registration order."""
    return tuple(_REGISTRY)


def get_domain(name: str) -> Domain:
    """The registered domain ``name``; a ``ValueError`` lists the known ones otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown domain {name!r}; known domains are {list(_REGISTRY)}") from None


def domain_of_source(data_source: str) -> str | None:
    """The domain that claims ``data_source``, or None."""
    for domain in _REGISTRY.values():
        if data_source in domain.sources:
            return domain.name
    return None


def known_sources() -> list[str]:
    """Every data source some domain claims (for error messages)."""
    return sorted(s for d in _REGISTRY.values() for s in d.sources)


@cache
def load_function(path: str) -> Callable[..., Any]:
    """Import ``module:function`` once per process."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


register_domain(
    Domain(
        name="math",
        grader="reward_fns.dispatch:grade_math_rows",
        format_template="boxed",
        sources=(
            "srpo/arith",
            "gsm8k",
            "openai/gsm8k",
            "math",
            "lighteval/MATH",
            "DigitalLearningGmbH/MATH-lighteval",
            "HuggingFaceH4/MATH-500",
            "math500",
            "aime",
            "aime24",
            "aime25",
            "amc",
            "deepscaler",
            "agentica-org/DeepScaleR-Preview-Dataset",
            "BytedTsinghua-SIA/DAPO-Math-17k",
        ),
    )
)
register_domain(
    Domain(
        name="code",
        grader="reward_fns.dispatch:grade_code_rows",
        async_grader="reward_fns.dispatch:grade_code_row_async",
        format_template="code_block",
        sources=(
            "srpo/codegen",
            "humaneval",
            "openai_humaneval",
            "openai/openai_humaneval",
            "mbpp",
            "livecodebench",
            "codecontests",
            "apps",
            "taco",
        ),
    )
)
