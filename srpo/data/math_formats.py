"""Converters for math data: one function per public shape, each record -> Problem.

Field names follow the public datasets: GSM8K (``question``, ``answer`` with the final answer after
``####``), MATH (``problem``, ``solution`` with the answer in the last ``\\boxed{}``; MATH-500 also has
``answer``), DeepScaleR (``problem``, ``answer``), DAPO-Math-17k (verl rows whose user message wraps
the problem in a fixed instruction, or the processed ``prompt``/``solution`` form).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reward_fns.math_answer import boxed_answer
from srpo.data.answers import gsm8k_final_answer
from srpo.data.problem import Problem, RecordRejected, get_id, get_optional_text, get_text

# DAPO-Math-17k's verl rows wrap each problem in this instruction; we strip it so our own template
# (with the \boxed{} answer format our rewards read) replaces it.
_DAPO_PREFIX = (
    "Solve the following math problem step by step. The last line of your response should be of the "
    "form Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n"
)
_DAPO_SUFFIX = '\n\nRemember to put your answer on its own line after "Answer:".'


def _difficulty(record: Mapping[str, Any]) -> str | None:
    for name in ("level", "difficulty"):
        value = record.get(name)
        if value is not None and str(value).strip():
            return str(value)
    return None


def convert_gsm8k(record: Mapping[str, Any]) -> Problem:
    """GSM8K: ``question``; ``answer`` is a worked solution ending in ``#### <final answer>``."""
    question = get_text(record, "question")
    solution = get_text(record, "answer")
    final = gsm8k_final_answer(solution)
    if final is None:
        raise RecordRejected("no_final_answer", "field 'answer' has no final answer after '####'")
    return Problem(problem=question, ground_truth=final)


def convert_math(record: Mapping[str, Any]) -> Problem:
    """MATH: ``problem``; the answer is ``answer`` when given (MATH-500), else the last ``\\boxed{}`` of
    ``solution``."""
    problem = get_text(record, "problem")
    answer = get_optional_text(record, "answer")
    if not answer:
        solution = get_text(record, "solution")
        answer = boxed_answer(solution) or ""
        if not answer:
            raise RecordRejected("no_final_answer", "field 'solution' has no complete \\boxed{...} answer")
    return Problem(
        problem=problem,
        ground_truth=answer.strip(),
        source_id=get_id(record, "unique_id", "id"),
        difficulty=_difficulty(record),
    )


def _numeric_answer(record: Mapping[str, Any]) -> str | None:
    """Some sets store a numeric final answer as a number rather than text; accept it as its text."""
    for name in ("answer", "final_answer"):
        value = record.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return str(value)
    return None


def convert_problem_answer(record: Mapping[str, Any]) -> Problem:
    """DeepScaleR-style: ``problem`` and a short ``answer`` (``question``/``final_answer`` accepted too)."""
    problem = get_text(record, "problem", "question")
    answer = _numeric_answer(record) or get_text(record, "answer", "final_answer")
    return Problem(
        problem=problem,
        ground_truth=answer.strip(),
        source_id=get_id(record, "id", "unique_id"),
        difficulty=_difficulty(record),
    )


def _strip_dapo_wrapper(content: str) -> str:
    text = content
    if text.startswith(_DAPO_PREFIX):
        text = text[len(_DAPO_PREFIX) :]
    if text.endswith(_DAPO_SUFFIX):
        text = text[: -len(_DAPO_SUFFIX)]
    return text.strip()


def convert_dapo_math(record: Mapping[str, Any]) -> Problem:
    """DAPO-Math-17k in any of its circulating shapes.

    - the original verl rows: ``prompt`` = [{"role": "user", "content": <instruction + problem>}],
      ``reward_model.ground_truth`` = the answer, ``extra_info.index``;
    - the processed form: ``prompt`` = the bare problem, ``solution`` = the answer;
    - plain ``problem``/``answer``.
    """
    prompt = record.get("prompt")
    if isinstance(prompt, list | tuple):
        users = [m.get("content") for m in prompt if isinstance(m, Mapping) and m.get("role") == "user"]
        if not users or not isinstance(users[-1], str) or not users[-1].strip():
            raise RecordRejected("bad_field_type", "field 'prompt' has no user message with text")
        reward_model = record.get("reward_model")
        truth = reward_model.get("ground_truth") if isinstance(reward_model, Mapping) else None
        if not isinstance(truth, str) or not truth.strip():
            raise RecordRejected("missing_field", "no answer in 'reward_model.ground_truth'")
        extra = record.get("extra_info")
        source_id = get_id(extra, "index") if isinstance(extra, Mapping) else None
        return Problem(
            problem=_strip_dapo_wrapper(users[-1]), ground_truth=truth.strip(), source_id=source_id
        )
    if isinstance(prompt, str) and "problem" not in record:
        answer = get_text(record, "solution", "answer")
        return Problem(problem=_strip_dapo_wrapper(get_text(record, "prompt")), ground_truth=answer.strip())
    return convert_problem_answer(record)
