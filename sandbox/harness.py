"""Host side of a run: turn (program, spec) into a supervisor request, and its reply into verdicts.

Expected stdout and `call` return values never leave the host: the supervisor reports what each
case printed (or, for `call`, the program's raw replies, decoded only here) and how it ended, and
the comparison happens here, out of the program's reach. `assert` cases are judged by the test
process in the sandbox (judge.py); its report is what this module turns into a verdict.
"""

from __future__ import annotations

import json
import signal
from typing import Any

from sandbox import judge, plain
from sandbox.api import (
    AssertCase,
    CallCase,
    RunResult,
    SandboxConfig,
    StdioCase,
    TestResult,
    TestSpec,
    Verdict,
)

# Slack on top of the per-case limits before the host gives up on a supervisor reply.
CASE_OVERHEAD_S = 3.0
RUN_OVERHEAD_S = 10.0


def time_limit(spec: TestSpec, config: SandboxConfig) -> float:
    return spec.time_limit_s or config.time_limit_s


def build_request(run_id: int, program: str, spec: TestSpec, config: SandboxConfig) -> dict[str, Any]:
    """The supervisor request for one run; it carries case inputs only, never expected outputs."""
    if spec.format == "stdio":
        cases = [{"input": c.input} for c in spec.cases]  # type: ignore[union-attr]
    elif spec.format == "call":
        cases = [{"args": list(c.args), "kwargs": dict(c.kwargs)} for c in spec.cases]  # type: ignore[union-attr]
    else:
        cases = [{"code": c.code} for c in spec.cases]  # type: ignore[union-attr]
    return {
        "op": "run",
        "id": run_id,
        "format": spec.format,
        "language": spec.language,
        "program": program,
        "fn_name": spec.fn_name,
        "entry_point": spec.entry_point,
        "cases": cases,
        "time_limit_s": time_limit(spec, config),
        "memory_mb": spec.memory_mb or config.memory_mb,
        "output_limit": config.output_limit_bytes,
        "nproc": config.pids_limit,
        "stderr_tail": config.stderr_tail_bytes,
        "stop_on_error": config.fail_fast,
        "compile_time_limit_s": config.compile_time_limit_s,
        "compile_memory_mb": config.compile_memory_mb or config.memory_mb,
    }


def reply_deadline_s(spec: TestSpec, config: SandboxConfig) -> float:
    """How long the host waits for a supervisor reply before treating the sandbox as broken."""
    compile_s = config.compile_time_limit_s + CASE_OVERHEAD_S if spec.language == "cpp" else 0.0
    return len(spec.cases) * (time_limit(spec, config) + CASE_OVERHEAD_S) + compile_s + RUN_OVERHEAD_S


# ---------------------------------------------------------------- comparisons


def _token_lines(text: str) -> list[list[str]]:
    lines = [line.split() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def stdout_matches(actual: str, expected: str, mode: str) -> bool:
    """`tokens`: same whitespace-separated tokens line by line, trailing blank lines ignored."""
    if mode == "exact":
        return actual == expected
    return _token_lines(actual) == _token_lines(expected)


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values where booleans are not numbers (True != 1) and 1 == 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _last_exception(stderr: str) -> str:
    for line in reversed(stderr.strip().splitlines()):
        if line and not line.startswith(" "):
            return line
    return ""


def _short(value: Any, n: int = 120) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


# ---------------------------------------------------------------- judging


def _limit_verdict(spec: TestSpec, raw: dict[str, Any], config: SandboxConfig, error: str) -> tuple | None:
    """(verdict, detail) when a limit ended the case, else None; `error` is its last error line."""
    status = raw.get("status")
    # The memory cap first: an OOM kill often shows up as a hang or a crash of what is left.
    if raw.get("oom") or error.startswith("MemoryError") or "std::bad_alloc" in error:  # Python, C++
        return Verdict.MEMORY_LIMIT, f"memory limit of {spec.memory_mb or config.memory_mb} MB exceeded"
    if status == "timeout":
        return Verdict.TIME_LIMIT, f"killed after {time_limit(spec, config):g}s wall time"
    if raw.get("signal") == signal.SIGXCPU:
        return Verdict.TIME_LIMIT, "CPU time limit exceeded"
    if (
        status == "output_limit"
        or int(raw.get("stdout_size") or 0) > config.output_limit_bytes
        or raw.get("signal") == signal.SIGXFSZ
        or "[Errno 27] File too large" in str(raw.get("stderr_tail") or "")
    ):
        return Verdict.OUTPUT_LIMIT, f"output limit of {config.output_limit_bytes} bytes exceeded"
    return None


def _exit_detail(raw: dict[str, Any]) -> str:
    sig = raw.get("signal")
    if sig is not None:
        return f"killed by signal {signal.Signals(sig).name if sig in signal.valid_signals() else sig}"
    return f"exit code {raw.get('exit_code')}"


def _judge_stdio(spec: TestSpec, case: StdioCase, raw: dict[str, Any], result) -> TestResult:
    code = raw.get("exit_code")
    if raw.get("status") == "signaled":
        return result(Verdict.RUNTIME_ERROR, _exit_detail(raw))
    if code != 0:
        return result(
            Verdict.RUNTIME_ERROR, _last_exception(str(raw.get("stderr_tail") or "")) or f"exit code {code}"
        )
    out = str(raw.get("stdout") or "")
    if stdout_matches(out, case.output, spec.compare):
        return result(Verdict.PASSED, "")
    return result(Verdict.WRONG_ANSWER, f"expected {_short(case.output)}, got {_short(out)}")


def _returned(case: CallCase, report: dict[str, Any], result) -> TestResult:
    """Compare a call's return value (rebuilt from plain data) after a JSON round trip, as documented."""
    try:
        value = json.loads(json.dumps(plain.decode(str(report.get("value")))))
    except (TypeError, ValueError) as e:
        return result(Verdict.WRONG_ANSWER, f"return value is not JSON: {e}")
    expected = json.loads(json.dumps(case.expected))
    if json_equal(value, expected):
        return result(Verdict.PASSED, "")
    return result(Verdict.WRONG_ANSWER, f"expected {_short(expected)}, got {_short(value)}")


def _call_report(case: CallCase, spec: TestSpec, raw: dict[str, Any], config: SandboxConfig) -> Any:
    """A call case's report, rebuilt here from the program's raw replies (the supervisor sent the
    call and kept what came back, undecoded); None when there are none (the case never ran)."""
    replies = raw.get("reply")
    if not isinstance(replies, str):
        return None
    max_reply = config.output_limit_bytes + (64 << 10)
    return judge.replay_call(
        replies.encode("utf-8", "replace"), str(spec.fn_name), list(case.args), dict(case.kwargs), max_reply
    )


def _judge_report(spec: TestSpec, case: CallCase | AssertCase, raw: dict[str, Any], result) -> TestResult:
    """The verdict of a call/assert case from its report (the test process's, or the call's replay)."""
    report = raw.get("report")
    if not isinstance(report, dict):
        return result(
            Verdict.RUNTIME_ERROR, f"the test process ended without a verdict ({_exit_detail(raw)})"
        )
    kind, error = report.get("kind"), str(report.get("error") or "")
    where = f" ({report['line']})" if report.get("line") else ""
    if kind == "passed":
        return result(Verdict.PASSED, "")
    if kind == "returned" and isinstance(case, CallCase):
        return _returned(case, report, result)
    if kind == "crashed":
        return result(Verdict.SANDBOX_ERROR, error)
    if kind in ("assertion", "not_plain"):
        return result(Verdict.WRONG_ANSWER, error + where)
    if kind == "program_gone" and raw.get("exit_code") is not None:
        error = f"{error} ({_exit_detail(raw)})"
    return result(Verdict.RUNTIME_ERROR, error + where or f"unexpected report {kind!r}")


def judge_case(spec: TestSpec, index: int, raw: dict[str, Any], config: SandboxConfig) -> TestResult:
    """Verdict of one case from the supervisor's raw report."""
    wall = float(raw.get("wall_s") or 0.0)
    stderr = str(raw.get("stderr_tail") or "")
    code = raw.get("exit_code")

    stdout = str(raw.get("stdout") or "") if config.keep_stdout else ""

    def result(verdict: Verdict, detail: str) -> TestResult:
        return TestResult(verdict, wall, stderr, detail, code, stdout)

    if raw.get("status") == "error":
        return result(Verdict.SANDBOX_ERROR, str(raw.get("message", "supervisor error")))
    if raw.get("status") == "skipped":
        return result(Verdict.SKIPPED, SKIPPED_DETAIL.format("an earlier case did not finish cleanly"))
    case = spec.cases[index]
    if isinstance(case, CallCase):
        raw = {**raw, "report": _call_report(case, spec, raw, config)}
    report = raw.get("report") if isinstance(raw.get("report"), dict) else {}
    error = str(report.get("error") or "") if spec.format != "stdio" else _last_exception(stderr)
    limited = _limit_verdict(spec, raw, config, error)
    if limited is not None:
        return result(*limited)
    if isinstance(case, StdioCase):
        return _judge_stdio(spec, case, raw, result)
    assert isinstance(case, CallCase | AssertCase)
    return _judge_report(spec, case, raw, result)


def _compile_failed(spec: TestSpec, compiled: dict[str, Any]) -> RunResult:
    """Every case COMPILE_ERROR with the compiler's message tail (or SANDBOX_ERROR: no compiler)."""
    wall = float(compiled.get("wall_s") or 0.0)
    if compiled.get("error"):
        return sandbox_error_run(spec, str(compiled["error"]), wall)
    message = str(compiled.get("message") or "")
    lines = message.strip().splitlines()
    detail = next((line for line in lines if "error:" in line), lines[-1] if lines else "compilation failed")
    return RunResult(
        [TestResult(Verdict.COMPILE_ERROR, 0.0, message, detail[:300]) for _ in spec.cases], wall
    )


def judge_run(spec: TestSpec, reply: dict[str, Any], config: SandboxConfig) -> RunResult:
    """All verdicts of one run; a reply with the wrong number of cases is a sandbox error."""
    compiled = reply.get("compile")
    if isinstance(compiled, dict) and not compiled.get("ok") and reply.get("op") == "result":
        return _compile_failed(spec, compiled)
    raws = reply.get("cases")
    if reply.get("op") != "result" or not isinstance(raws, list) or len(raws) != len(spec.cases):
        return sandbox_error_run(spec, f"malformed supervisor reply: {str(reply)[:300]}")
    compile_s = float(compiled["wall_s"]) if isinstance(compiled, dict) else None
    return RunResult([judge_case(spec, i, raw, config) for i, raw in enumerate(raws)], compile_s)


SKIPPED_DETAIL = "not run: {} (fail_fast)"


def skipped_tests(n: int, why: str) -> list[TestResult]:
    """n SKIPPED results saying why (fail_fast stopped the run before them)."""
    return [TestResult(Verdict.SKIPPED, 0.0, "", SKIPPED_DETAIL.format(why)) for _ in range(n)]


def sandbox_error_run(spec: TestSpec, detail: str, wall_s: float = 0.0) -> RunResult:
    """Every case of a run marked as a sandbox error (the program's fault or not, it has no verdict)."""
    return RunResult([TestResult(Verdict.SANDBOX_ERROR, wall_s, "", detail) for _ in spec.cases])
