"""Code reward pieces: program extraction, spec errors, scoring rules, batching of single calls.

Programs run through the sandbox's local backend here (fast, no Docker); the Docker path is
covered end to end in test_code_e2e.py. About 5 s.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from reward_fns.code_reward import (
    CodeGrader,
    code_accuracy,
    extract_program,
    fenced_blocks,
    parse_test_spec,
    program_digest,
)
from sandbox import RunResult, TestResult, TestSpec, Verdict

TAGS = ("python", "py", "")
ADD_SPEC = json.dumps({"format": "call", "fn_name": "add", "cases": [{"args": [1, 2], "expected": 3}]})


def test_last_matching_block_wins():
    response = "plan\n```python\nx = 1\n```\nbetter:\n```py\nx = 2\n```\n```text\nnot code\n```\n"
    assert extract_program(response, TAGS) == "x = 2\n"


def test_untagged_block_and_tag_filter():
    assert extract_program("```\nprint(1)\n```", TAGS) == "print(1)\n"
    assert extract_program("```\nprint(1)\n```", ("python",)) is None


def test_fence_rules():
    # a longer fence is closed only by one at least as long; an unclosed block is ignored
    text = "````python\nprint('```')\n```\nstill inside\n````\n```python\ntruncated"
    assert fenced_blocks(text) == [("python", "print('```')\n```\nstill inside\n")]


def test_no_fence():
    assert extract_program("def f(): pass", TAGS) is None
    assert extract_program("def f(): pass", TAGS, require_fence=False) == "def f(): pass"
    assert extract_program("   ", TAGS, require_fence=False) is None


def test_digest_is_stable_and_short():
    assert program_digest("x = 1\n") == program_digest("x = 1") != program_digest("x = 2")
    assert program_digest("x").startswith("code:") and len(program_digest("x")) == 17


def test_spec_errors_name_the_row():
    with pytest.raises(ValueError, match=r"row\(data_source='mbpp', index=4\): code row has no test spec"):
        parse_test_spec("", "row(data_source='mbpp', index=4)")
    with pytest.raises(ValueError, match=r"row\(x\): unparsable code test spec: .*not valid JSON"):
        parse_test_spec("{oops", "row(x)")
    with pytest.raises(ValueError, match=r"row\(x\): unparsable code test spec: .*fn_name"):
        parse_test_spec(json.dumps({"format": "call", "cases": [{"args": [], "expected": 1}]}), "row(x)")
    assert isinstance(parse_test_spec(ADD_SPEC, "row(x)"), TestSpec)


def _result(*verdicts: Verdict) -> RunResult:
    return RunResult([TestResult(v, 0.01) for v in verdicts])


def test_all_or_nothing_and_partial_credit():
    mixed = _result(Verdict.PASSED, Verdict.WRONG_ANSWER, Verdict.TIME_LIMIT, Verdict.PASSED)
    assert code_accuracy(mixed, partial_credit=False) == (0.0, "passed 2/4: time_limit x1, wrong_answer x1")
    assert code_accuracy(mixed, partial_credit=True)[0] == 0.5
    assert code_accuracy(_result(Verdict.PASSED, Verdict.PASSED), partial_credit=False) == (1.0, "all_passed")
    assert code_accuracy(RunResult([]), partial_credit=True) == (0.0, "passed 0/0: no tests run")


class CountingGrader(CodeGrader):
    """The real grader, counting how many sandbox batches it sends."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batch_sizes: list[int] = []

    def run_batch(self, items):
        self.batch_sizes.append(len(items))
        return super().run_batch(items)


def test_concurrent_single_calls_share_sandbox_batches():
    grader = CountingGrader({"backend": "local", "pool_size": 2}, window_s=0.2, max_batch=64)
    spec = TestSpec.from_json(ADD_SPEC)
    results: dict[int, RunResult] = {}

    def call(i: int) -> None:
        program = "def add(a, b):\n    return a + b\n" if i % 2 == 0 else "def add(a, b):\n    return a - b\n"
        results[i] = grader.run_one(program, spec)

    try:
        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        grader.close()
    assert [results[i].all_passed for i in range(8)] == [i % 2 == 0 for i in range(8)]
    assert sum(grader.batch_sizes) == 8 and len(grader.batch_sizes) < 8


def _spied(grader: CodeGrader) -> list[int]:
    """How many programs each sandbox batch received."""
    sandbox = grader._started()
    reached: list[int] = []
    run_batch = sandbox.run_batch
    sandbox.run_batch = lambda items: reached.append(len(items)) or run_batch(items)
    return reached


def test_a_late_program_does_not_wait_for_a_running_batch():
    """With two containers, a program submitted while a slow batch runs starts in a batch of its own."""
    spans: list[tuple[float, float]] = []

    class Timed(CodeGrader):
        def run_batch(self, items):
            start = time.monotonic()
            try:
                return super().run_batch(items)
            finally:
                spans.append((start, time.monotonic()))

    grader = Timed({"backend": "local", "pool_size": 2}, window_s=0.01)
    spec = TestSpec.from_json(ADD_SPEC)
    try:
        grader.run_one("def add(a, b):\n    return a + b\n", spec)  # containers up before timing
        slow = grader.submit("import time\ntime.sleep(1.5)\ndef add(a, b):\n    return a + b\n", spec)
        time.sleep(0.3)
        fast = grader.submit("def add(a, b):\n    return b + a\n", spec)
        assert fast.result(timeout=30).all_passed and slow.result(timeout=30).all_passed
    finally:
        grader.close()
    (_, _), (slow_start, slow_end), (fast_start, fast_end) = sorted(spans)
    assert fast_start < slow_end and fast_end < slow_end


def test_programs_seen_before_are_not_run_again():
    grader = CodeGrader({"backend": "local", "pool_size": 1, "time_limit_s": 0.5}, reuse_results=2)
    reached = _spied(grader)
    spec = TestSpec.from_json(ADD_SPEC)
    same_tests = TestSpec.from_dict(json.loads(ADD_SPEC))  # equal tests, another object
    good, bad = "def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a - b\n"
    slow = "def add(a, b):\n    while True:\n        pass\n"
    other = "def add(a, b):\n    return b + a\n"
    try:
        first = grader.run_batch([(good, spec), (bad, spec), (good, same_tests), (good, spec), (bad, spec)])
        again = grader.run_batch([(good, spec), (bad, spec)])  # both remembered; 'good' now the older
        grader.run_batch([(slow, spec)])  # a time limit is load-dependent: never remembered
        grader.run_batch([(slow, spec), (other, spec)])  # 'other' evicts 'good' (keeps 2)
        grader.run_batch([(good, spec)])
    finally:
        grader.close()
    assert reached == [2, 1, 2, 1]
    assert [r.all_passed for r in first] == [True, False, True, True, False]
    assert [r.all_passed for r in again] == [True, False]


def test_reuse_off_runs_every_program():
    grader = CodeGrader({"backend": "local", "pool_size": 1}, reuse_results=0)
    reached = _spied(grader)
    program = "def add(a, b):\n    return a + b\n"
    try:
        grader.run_batch([(program, TestSpec.from_json(ADD_SPEC))] * 3)
    finally:
        grader.close()
    assert reached == [3]


def test_unknown_sandbox_option_is_named():
    with pytest.raises(ValueError, match="code.sandbox"):
        CodeGrader({"pool": 3})


def test_cpp_rows_take_cpp_blocks_and_the_languages_must_agree():
    from reward_fns.config import CodeConfig
    from reward_fns.dispatch import compute_score

    response = "```python\nprint(3)\n```\n```cpp\nint main() { return 0; }\n```\n"
    code = CodeConfig()
    assert extract_program(response, code.tags_for("cpp")) == "int main() { return 0; }\n"
    assert extract_program(response, code.tags_for("python")) == "print(3)\n"
    cpp_spec = json.dumps({"format": "stdio", "language": "cpp", "cases": [{"input": "", "output": ""}]})
    info = {"domain": "code", "index": 7, "language": "python"}
    with pytest.raises(
        ValueError, match=r"index=7.*extra_info.language is 'python' but the test spec's language is 'cpp'"
    ):
        compute_score("srpo/codegen", response, cpp_spec, info)
