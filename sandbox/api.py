"""Public types of the code sandbox: test specs, verdicts, results, config and errors.

Everything a caller (the code reward, the CLI, the benchmark) needs is defined here, so the
backends can change without touching callers. The test-spec JSON follows docs/data_format.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

DEFAULT_IMAGE = "srpo-sandbox:py3"
IMAGE_BUILD_HINT = "scripts/build_sandbox_image.sh"
# Python runs in every sandbox image; C++ (stdio only) needs an image built with
# `scripts/build_sandbox_image.sh --cpp` (CPP_IMAGE): a program is compiled once per run.
SUPPORTED_LANGUAGES = ("python", "cpp")
CPP_IMAGE = "srpo-sandbox:cpp"


# ---------------------------------------------------------------- errors


class SandboxError(RuntimeError):
    """Base class of every error the sandbox raises."""


class SandboxUnavailable(SandboxError):
    """The Docker daemon (or the local backend's prerequisites) cannot be reached."""


class ImageMissing(SandboxError):
    """The configured sandbox image is not present in the daemon."""

    def __init__(self, image: str, detail: str = "") -> None:
        msg = f"sandbox image {image!r} is not present in the Docker daemon; build it with {IMAGE_BUILD_HINT}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)
        self.image = image


class BadTestSpec(ValueError):
    """A test spec does not follow docs/data_format.md; the message names the bad field."""


# ---------------------------------------------------------------- test specs

Format = Literal["stdio", "call", "assert"]
Compare = Literal["tokens", "exact"]


@dataclass(frozen=True)
class StdioCase:
    """One stdin -> expected stdout case."""

    input: str
    output: str


@dataclass(frozen=True)
class CallCase:
    """One call of the candidate's function with JSON arguments and the expected return."""

    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    expected: Any


@dataclass(frozen=True)
class AssertCase:
    """Test code run in its own process against proxies of the program's functions (judge.py)."""

    code: str


Case = StdioCase | CallCase | AssertCase


def _need(d: Mapping[str, Any], key: str, types: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise BadTestSpec(f"{where}: missing required field {key!r}")
    value = d[key]
    if not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise BadTestSpec(f"{where}: field {key!r} must be {names}, got {type(value).__name__}")
    return value


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class TestSpec:
    """A parsed code test spec (the `ground_truth` of a code row)."""

    __test__ = False  # not a pytest test class

    format: Format
    cases: tuple[Case, ...]
    compare: Compare = "tokens"
    fn_name: str | None = None
    entry_point: str | None = None
    language: str = "python"
    time_limit_s: float | None = None
    memory_mb: int | None = None

    def __post_init__(self) -> None:
        if self.format not in ("stdio", "call", "assert"):
            raise BadTestSpec(f"test spec: unknown format {self.format!r} (expected stdio, call or assert)")
        if not self.cases:
            raise BadTestSpec("test spec: 'cases' is empty; at least one case is needed")
        want = {"stdio": StdioCase, "call": CallCase, "assert": AssertCase}[self.format]
        for i, case in enumerate(self.cases):
            if not isinstance(case, want):
                raise BadTestSpec(
                    f"test spec: case {i} is {type(case).__name__}, format {self.format} needs {want.__name__}"
                )
        if self.compare not in ("tokens", "exact"):
            raise BadTestSpec(f"test spec: unknown compare mode {self.compare!r} (expected tokens or exact)")
        if self.format == "call" and not (self.fn_name and self.fn_name.isidentifier()):
            raise BadTestSpec(
                f"test spec: format call needs 'fn_name' to be a Python identifier, got {self.fn_name!r}"
            )
        if self.language not in SUPPORTED_LANGUAGES:
            raise BadTestSpec(
                f"test spec: language {self.language!r} is not supported (supported: {', '.join(SUPPORTED_LANGUAGES)})"
            )
        if self.language != "python" and self.format != "stdio":
            raise BadTestSpec(f"test spec: format {self.format} needs language python, got {self.language!r}")
        if self.time_limit_s is not None and not (math.isfinite(self.time_limit_s) and self.time_limit_s > 0):
            raise BadTestSpec(f"test spec: time_limit_s must be a positive number, got {self.time_limit_s!r}")
        if self.memory_mb is not None and self.memory_mb < 16:
            raise BadTestSpec(f"test spec: memory_mb must be at least 16, got {self.memory_mb!r}")

    @classmethod
    def from_json(cls, s: str | bytes) -> TestSpec:
        """Parse the JSON test spec of docs/data_format.md."""
        try:
            d = json.loads(s)
        except (TypeError, ValueError) as e:
            raise BadTestSpec(f"test spec is not valid JSON: {e}") from None
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TestSpec:
        """Build a spec from the decoded JSON object, checking every field."""
        if not isinstance(d, Mapping):
            raise BadTestSpec(f"test spec must be a JSON object, got {type(d).__name__}")
        fmt = _need(d, "format", str, "test spec")
        raw_cases = _need(d, "cases", list, "test spec")
        cases: list[Case] = []
        for i, c in enumerate(raw_cases):
            where = f"test spec case {i}"
            if not isinstance(c, Mapping):
                raise BadTestSpec(f"{where}: must be an object, got {type(c).__name__}")
            if fmt == "stdio":
                cases.append(StdioCase(_need(c, "input", str, where), _need(c, "output", str, where)))
            elif fmt == "call":
                args = c.get("args", [])
                kwargs = c.get("kwargs", {})
                if not isinstance(args, list):
                    raise BadTestSpec(f"{where}: field 'args' must be a list, got {type(args).__name__}")
                if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
                    raise BadTestSpec(f"{where}: field 'kwargs' must be an object with string keys")
                if "expected" not in c:
                    raise BadTestSpec(f"{where}: missing required field 'expected'")
                if not _is_json([args, kwargs, c["expected"]]):
                    raise BadTestSpec(f"{where}: args, kwargs and expected must be plain JSON values")
                cases.append(CallCase(tuple(args), dict(kwargs), c["expected"]))
            elif fmt == "assert":
                cases.append(AssertCase(_need(c, "code", str, where)))
            else:
                raise BadTestSpec(f"test spec: unknown format {fmt!r} (expected stdio, call or assert)")
        time_limit = d.get("time_limit_s")
        if time_limit is not None and (
            isinstance(time_limit, bool) or not isinstance(time_limit, int | float)
        ):
            raise BadTestSpec(f"test spec: time_limit_s must be a number, got {time_limit!r}")
        memory = d.get("memory_mb")
        if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int)):
            raise BadTestSpec(f"test spec: memory_mb must be an integer, got {memory!r}")
        for key in ("compare", "fn_name", "entry_point", "language"):
            if d.get(key) is not None and not isinstance(d[key], str):
                raise BadTestSpec(f"test spec: field {key!r} must be a string, got {type(d[key]).__name__}")
        return cls(
            format=fmt,
            cases=tuple(cases),
            compare=d.get("compare") or "tokens",
            fn_name=d.get("fn_name"),
            entry_point=d.get("entry_point"),
            language=d.get("language") or "python",
            time_limit_s=float(time_limit) if time_limit is not None else None,
            memory_mb=memory,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (inverse of from_dict)."""
        out: dict[str, Any] = {"format": self.format, "language": self.language}
        if self.format == "stdio":
            out["compare"] = self.compare
            out["cases"] = [{"input": c.input, "output": c.output} for c in self.cases]  # type: ignore[union-attr]
        elif self.format == "call":
            out["fn_name"] = self.fn_name
            out["cases"] = [
                {"args": list(c.args), "kwargs": dict(c.kwargs), "expected": c.expected}  # type: ignore[union-attr]
                for c in self.cases
            ]
        else:
            out["cases"] = [{"code": c.code} for c in self.cases]  # type: ignore[union-attr]
        if self.entry_point is not None:
            out["entry_point"] = self.entry_point
        if self.time_limit_s is not None:
            out["time_limit_s"] = self.time_limit_s
        if self.memory_mb is not None:
            out["memory_mb"] = self.memory_mb
        return out


# ---------------------------------------------------------------- results


class Verdict(StrEnum):
    """Outcome of one test case."""

    PASSED = "passed"
    WRONG_ANSWER = "wrong_answer"
    RUNTIME_ERROR = "runtime_error"
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    SANDBOX_ERROR = "sandbox_error"
    COMPILE_ERROR = "compile_error"
    """The program (C++) did not compile; the result's stderr_tail holds the compiler's message tail."""
    SKIPPED = "skipped"
    """Not run: an earlier case of the same run crashed, or the first case failed, and the config
    asks to stop there (fail_fast)."""


@dataclass(frozen=True)
class TestResult:
    """Result of one test case: verdict, wall time, the tail of stderr and a short detail."""

    __test__ = False  # not a pytest test class

    verdict: Verdict
    wall_time_s: float
    stderr_tail: str = ""
    detail: str = ""
    exit_code: int | None = None
    stdout: str = ""
    """What a `stdio` case printed; kept only with SandboxConfig(keep_stdout=True) (the service's
    SandboxFusion endpoint returns it), so cached reward results never hold programs' output."""

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED


@dataclass(frozen=True)
class RunResult:
    """Results of one program against every case of its spec, in case order."""

    tests: list[TestResult] = field(default_factory=list)
    compile_time_s: float | None = None
    """Wall time of compiling the program (once per run; C++ only), None when nothing was compiled."""

    @property
    def all_passed(self) -> bool:
        return bool(self.tests) and all(t.passed for t in self.tests)

    @property
    def fraction_passed(self) -> float:
        return sum(t.passed for t in self.tests) / len(self.tests) if self.tests else 0.0

    @property
    def verdicts(self) -> list[Verdict]:
        return [t.verdict for t in self.tests]


# ---------------------------------------------------------------- config and the backend protocol


@dataclass
class SandboxConfig:
    """How programs are run. The defaults suit a reward function on a small machine."""

    backend: Literal["docker", "local"] = "docker"
    """`docker` (isolated, the default) or `local` (subprocess + rlimits; weaker, must be asked for)."""
    image: str = DEFAULT_IMAGE
    """Sandbox image, built by scripts/build_sandbox_image.sh."""
    pool_size: int = 4
    """Warm containers kept ready."""
    max_concurrency: int | None = None
    """Programs run at once; None means pool_size."""
    time_limit_s: float = 5.0
    """Wall-clock limit per test case unless the spec sets one."""
    memory_mb: int = 512
    """Address-space limit per test case unless the spec sets one (container cap adds work dir + headroom)."""
    output_limit_bytes: int = 4 << 20
    """Largest stdout (and file) a case may write."""
    pids_limit: int = 64
    """Processes + threads per container."""
    cpus: float = 1.0
    """CPU quota per container, in cores."""
    workdir_mb: int = 64
    """Size of the tmpfs work dir (counts against the container's memory)."""
    start_mode: Literal["fork_server", "fresh_interpreter"] = "fork_server"
    """How a Python program's process starts: forked from an interpreter each sandbox keeps ready
    with the runtime imported (sandbox/forkserver.py; several times cheaper per test), or as a
    fresh `python3 -I` (the program sees exactly a new interpreter). Same limits, uid, clean-up."""
    compile_time_limit_s: float = 20.0
    """Wall-clock limit of compiling a program (C++), once per run."""
    compile_memory_mb: int | None = None
    """Address-space limit of the compiler (None: memory_mb); a larger one grows the container's cap."""
    fail_fast: bool = False
    """Stop a program's run at its first case that does not finish cleanly (runtime error, time,
    memory or output limit); later cases are SKIPPED. Wrong answers are judged on the host after
    the run, so a Python program's first case runs alone and the rest only if it passed (a wrong
    answer later on does not stop the run). Worth it when only all-passed counts."""
    recycle_after: int = 500
    """Replace a container after this many runs even if it looks clean."""
    stderr_tail_bytes: int = 2000
    """How much of the end of stderr a TestResult keeps."""
    keep_stdout: bool = False
    """Keep each `stdio` case's output in TestResult.stdout (up to output_limit_bytes per case)."""
    docker_host: str | None = None
    """Docker daemon URL; None uses DOCKER_HOST or the default socket."""
    docker_timeout_s: float = 30.0
    """Timeout of Docker API calls (not of the programs)."""
    start_timeout_s: float = 30.0
    """How long a new container may take to answer its first ping."""
    label: str = "srpo.sandbox"
    """Label put on every container, so stale ones can be found and reaped."""

    def __post_init__(self) -> None:
        if self.backend not in ("docker", "local"):
            raise ValueError(f"SandboxConfig.backend must be 'docker' or 'local', got {self.backend!r}")
        for name in (
            "pool_size",
            "memory_mb",
            "output_limit_bytes",
            "pids_limit",
            "workdir_mb",
            "recycle_after",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"SandboxConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.compile_memory_mb is not None and self.compile_memory_mb < 64:
            raise ValueError(f"SandboxConfig.compile_memory_mb must be >= 64, got {self.compile_memory_mb!r}")
        if self.start_mode not in ("fork_server", "fresh_interpreter"):
            raise ValueError(
                f"SandboxConfig.start_mode must be 'fork_server' or 'fresh_interpreter', got {self.start_mode!r}"
            )
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError(f"SandboxConfig.max_concurrency must be >= 1, got {self.max_concurrency!r}")
        if not self.time_limit_s > 0 or not self.cpus > 0 or not self.compile_time_limit_s > 0:
            raise ValueError("SandboxConfig.time_limit_s, compile_time_limit_s and cpus must be positive")

    @property
    def concurrency(self) -> int:
        return self.max_concurrency or self.pool_size


class Sandbox(Protocol):
    """What every backend offers."""

    def run(self, program: str, spec: TestSpec) -> RunResult: ...

    def run_batch(self, items: Sequence[tuple[str, TestSpec]]) -> list[RunResult]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Sandbox: ...

    def __exit__(self, *exc: object) -> None: ...
