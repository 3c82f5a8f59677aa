"""SandboxFusion's `/run_code` contract on top of our sandbox.

verl's SandboxFusion client (``verl/utils/reward_score/sandbox_fusion/utils.py``) posts
``{code, language, stdin, compile_timeout, run_timeout, memory_limit_MB, files, fetch_files}`` and
reads ``status`` (Success / Failed / SandboxError), ``message``, ``compile_result`` and
``run_result`` (each ``{status: Finished | TimeLimitExceeded | Error, execution_time,
return_code, stdout, stderr}``), then compares ``run_result.stdout`` with the expected output
itself. Here one request is one stdio run of one case; the verdict of our sandbox decides the
statuses, and the program's output travels back unjudged (it is the client's to compare).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sandbox.api import SUPPORTED_LANGUAGES, StdioCase, TestResult, TestSpec, Verdict
from sandbox.wire import BadRequest

#: Languages compiled before they run: their replies carry a compile_result, as SandboxFusion's do.
COMPILED_LANGUAGES = frozenset({"cpp"})
MIN_MEMORY_MB = 16  # TestSpec's floor


class Unsupported(Exception):
    """A well-formed request this server cannot run (a language it has no toolchain for)."""


def parse_run_code(doc: Mapping[str, Any], max_time_s: float, max_memory_mb: int) -> tuple[str, TestSpec]:
    """``(program, spec)`` of a `/run_code` body: one stdio case fed ``stdin``, limits from the request.

    The request's limits are capped at the server's (``max_time_s``, ``max_memory_mb``): a client
    cannot hold a worker longer or take more memory than the server was started to give.
    Raises BadRequest naming the bad field, or Unsupported for a language this server cannot run.
    """
    code = doc.get("code")
    if not isinstance(code, str):
        raise BadRequest("field 'code' must be a string")
    language = doc.get("language", "python")
    if not isinstance(language, str):
        raise BadRequest("field 'language' must be a string")
    if language not in SUPPORTED_LANGUAGES:
        raise Unsupported(
            f"language {language!r} is not supported by this sandbox server "
            f"(supported: {', '.join(SUPPORTED_LANGUAGES)})"
        )
    stdin = doc.get("stdin")
    if stdin is not None and not isinstance(stdin, str):
        raise BadRequest("field 'stdin' must be a string or null")
    run_timeout = _number(doc, "run_timeout", 10.0)
    _number(doc, "compile_timeout", 10.0)  # checked; compile time is bounded by the sandbox itself
    memory = doc.get("memory_limit_MB", -1)
    if isinstance(memory, bool) or not isinstance(memory, int | float):
        raise BadRequest("field 'memory_limit_MB' must be a number (-1: the server's default)")
    if doc.get("files") or doc.get("fetch_files"):
        raise BadRequest(
            "fields 'files' and 'fetch_files' are not supported by this server; leave them empty"
        )
    spec = TestSpec(
        format="stdio",
        cases=(StdioCase(stdin or "", ""),),
        compare="exact",
        language=language,
        time_limit_s=min(run_timeout, max_time_s),
        memory_mb=min(max(int(memory), MIN_MEMORY_MB), max_memory_mb) if memory > 0 else None,
    )
    return code, spec


def _number(doc: Mapping[str, Any], key: str, default: float) -> float:
    value = doc.get(key, default)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise BadRequest(f"field {key!r} must be a positive number of seconds, got {value!r}")
    return float(value)


def _command(status: str, t: TestResult | None, return_code: int | None, stdout: str = "") -> dict[str, Any]:
    return {
        "status": status,
        "execution_time": round(t.wall_time_s, 6) if t is not None else None,
        "return_code": return_code,
        "stdout": stdout,
        "stderr": t.stderr_tail if t is not None else "",
    }


def run_code_response(spec: TestSpec, t: TestResult) -> dict[str, Any]:
    """The `/run_code` reply for the one case's result, in SandboxFusion's terms.

    Exit 0 is ``Success`` whatever was printed (passed or wrong_answer here only says whether stdout
    was empty); a crash, a memory or output limit is ``Failed`` with ``Finished`` and a non-zero
    return code (or ``Error`` for the output limit); the time limit is ``TimeLimitExceeded``; a
    compile error fills ``compile_result`` and leaves ``run_result`` empty; a sandbox failure is
    ``SandboxError``.
    """
    verdict = t.verdict
    compiled = spec.language in COMPILED_LANGUAGES
    compile_ok = _command("Finished", None, 0) if compiled else None
    if verdict == "compile_error":  # the C++ toolchain's verdict (a str, so this needs no enum member)
        compile_result = {**_command("Finished", t, t.exit_code or 1), "stderr": t.detail or t.stderr_tail}
        return _reply("Failed", "compile error", compile_result, None)
    if verdict in (Verdict.PASSED, Verdict.WRONG_ANSWER):
        return _reply("Success", "", compile_ok, _command("Finished", t, 0, t.stdout))
    if verdict is Verdict.TIME_LIMIT:
        return _reply("Failed", t.detail, compile_ok, _command("TimeLimitExceeded", t, None, t.stdout))
    if verdict in (Verdict.RUNTIME_ERROR, Verdict.MEMORY_LIMIT):
        code = t.exit_code if t.exit_code not in (None, 0) else 1
        return _reply("Failed", t.detail, compile_ok, _command("Finished", t, code, t.stdout))
    if verdict is Verdict.OUTPUT_LIMIT:
        return _reply("Failed", t.detail, compile_ok, _command("Error", t, t.exit_code, t.stdout))
    return _reply("SandboxError", t.detail or f"sandbox verdict {verdict}", None, None)


def error_response(message: str) -> dict[str, Any]:
    """A SandboxError reply (verl's client scores it as an API/sandbox error, -1)."""
    return _reply("SandboxError", message, None, None)


def _reply(status: str, message: str, compile_result: Any, run_result: Any) -> dict[str, Any]:
    return {
        "status": status,
        "message": message,
        "compile_result": compile_result,
        "run_result": run_result,
        "executor_pod_name": None,
        "files": {},
    }
