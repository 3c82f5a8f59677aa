"""Programs written to pass tests they do not solve: none of them may pass.

Every program here returns a wrong answer (or none) and attacks the judging instead: objects that
compare equal to anything, lying subclasses, patched builtins, shadowed test functions, early
exits, a forged "done" marker or forged replies, reading the test (file, the caller's frame,
/proc of other processes), and stalling in atexit/__del__. Expected values are drawn at random per
session, so only a program that reads the test could know them. Real programs, real Docker daemon.
"""

from __future__ import annotations

import random
import textwrap
import time

import pytest

from sandbox import TestSpec, Verdict, make_sandbox

from .conftest import START_MODES, docker_config

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

SECRET = random.Random().randrange(10**8, 10**9)  # the expected value; no program can guess it


@pytest.fixture(scope="module", params=START_MODES)
def sb(docker_ready, request):
    with make_sandbox(docker_config(start_mode=request.param, pool_size=2, time_limit_s=5.0)) as sandbox:
        yield sandbox


def check_spec(body: str, entry: str = "solve") -> TestSpec:
    """A HumanEval-style case: `check(candidate)` holding the asserts, called on the entry point."""
    code = f"def check(candidate):\n{textwrap.indent(textwrap.dedent(body), '    ')}\ncheck({entry})\n"
    return TestSpec.from_dict({"format": "assert", "entry_point": entry, "cases": [{"code": code}]})


def mbpp_spec(line: str) -> TestSpec:
    """An MBPP-style case: a bare assert on the function's name."""
    return TestSpec.from_dict({"format": "assert", "entry_point": "solve", "cases": [{"code": line + "\n"}]})


EQUALS = check_spec(f"assert candidate(3) == {SECRET}")
CALL = TestSpec.from_dict(
    {"format": "call", "fn_name": "solve", "cases": [{"args": [3], "expected": SECRET}]}
)


def verdict(sb, program: str, spec: TestSpec) -> Verdict:
    return sb.run(textwrap.dedent(program), spec).tests[0].verdict


def test_an_honest_program_passes_these_specs(sb):
    assert verdict(sb, f"def solve(x):\n    return {SECRET}\n", EQUALS) is Verdict.PASSED
    assert verdict(sb, f"def solve(x):\n    return {SECRET}\n", CALL) is Verdict.PASSED


ALWAYS_EQUAL = """
class AlwaysEqual:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = object.__hash__
def solve(x):
    return AlwaysEqual()
"""

LYING_INT = """
class Liar(int):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = int.__hash__
def solve(x):
    return Liar(0)
"""


@pytest.mark.parametrize("program", [ALWAYS_EQUAL, LYING_INT], ids=["always_equal", "int_subclass"])
@pytest.mark.parametrize(
    "spec", [EQUALS, mbpp_spec(f"assert solve(3) == {SECRET}"), CALL], ids=["check", "mbpp", "call"]
)
def test_objects_that_equal_anything(sb, program, spec):
    assert verdict(sb, program, spec) is not Verdict.PASSED


def test_str_and_list_subclasses_with_a_lying_eq(sb):
    lying = """
        class S(str):
            __eq__ = lambda self, other: True
            __hash__ = str.__hash__
        class L(list):
            __eq__ = lambda self, other: True
        def solve(x):
            return S("nope") if isinstance(x, str) else L([0])
    """
    spec = check_spec(f"assert candidate('abc') == 'cba{SECRET}'\nassert candidate([3, 1, 2]) == [{SECRET}]")
    assert verdict(sb, lying, spec) is not Verdict.PASSED


def test_lying_hash_does_not_get_into_a_set(sb):
    program = f"""
        class H:
            __hash__ = lambda self: hash({SECRET})
            __eq__ = lambda self, other: True
        def solve(x):
            return H()
    """
    assert verdict(sb, program, check_spec(f"assert candidate(3) in {{{SECRET}, 1}}")) is not Verdict.PASSED


@pytest.mark.parametrize(
    ("patch", "test"),
    [
        ("builtins.isinstance = lambda *a: True", "assert isinstance(candidate(3), str)"),
        ("builtins.abs = lambda x: 0", f"assert abs(candidate(3) - {SECRET}) < 1e-6"),
        ("builtins.round = lambda *a: {SECRET}", "assert round(candidate(3), 2) == {SECRET}"),
        ("import math; math.isclose = lambda *a, **k: True", f"import math\nassert math.isclose(candidate(3), {SECRET})"),
        ("builtins.AssertionError = type('AssertionError', (Exception,), {{}})",
         f"try:\n    assert candidate(3) == {SECRET}\nexcept AssertionError:\n    raise\n"),
        ("builtins.len = lambda x: {SECRET}", f"assert len(candidate(3)) == {SECRET}"),
    ],
    ids=["isinstance", "abs", "round", "math.isclose", "AssertionError", "len"],
)  # fmt: skip
def test_patched_builtins_do_not_reach_the_test(sb, patch, test):
    program = f"import builtins\n{patch.format(SECRET=SECRET)}\ndef solve(x):\n    return 0\n"
    assert verdict(sb, program, check_spec(test.format(SECRET=SECRET))) is not Verdict.PASSED


def test_shadowing_check_and_candidate(sb):
    program = """
        def check(candidate):
            return True
        candidate = lambda *a: True
        def solve(x):
            return 0
        import builtins
        builtins.check = check
        builtins.candidate = candidate
    """
    assert verdict(sb, program, EQUALS) is not Verdict.PASSED
    assert (
        verdict(sb, program, mbpp_spec(f"assert candidate(3) == {SECRET} or solve(3) == {SECRET}"))
        is not Verdict.PASSED
    )


@pytest.mark.parametrize(
    "program",
    [
        "import sys\nsys.exit(0)\n",
        "exit(0)\n",
        "import os\nos._exit(0)\n",
        "def solve(x):\n    exit(0)\n",
        "import os\ndef solve(x):\n    os._exit(0)\n",
        "import os, signal\ndef solve(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n    os.kill(os.getpid(), signal.SIGKILL)\n",
        "import os, signal\nfor p in os.listdir('/proc'):\n    if p.isdigit() and int(p) != os.getpid():\n"
        "        try:\n            os.kill(int(p), signal.SIGSTOP)\n        except OSError:\n            pass\n"
        "def solve(x):\n    return 0\n",
    ],
    ids=["sys.exit", "exit", "os._exit", "exit_in_call", "os._exit_in_call", "kill_parent", "stop_everyone"],
)
def test_early_exits_and_signals(sb, program):
    for spec in (EQUALS, CALL):
        assert verdict(sb, program, spec) is not Verdict.PASSED


def test_writing_the_done_marker(sb):
    program = """
        import os
        def solve(x):
            for fd in range(3, 256):
                for text in (b"ok", b'{"value": %d}' % SECRET_GUESS, b'["value", 0, {}]\\n'):
                    try:
                        os.write(fd, text)
                    except OSError:
                        pass
            for name in (".result", "result", "../.result", "done"):
                try:
                    with open(name, "w") as f:
                        f.write("ok")
                except OSError:
                    pass
            os._exit(0)
        SECRET_GUESS = 0
    """
    assert verdict(sb, program, EQUALS) is not Verdict.PASSED
    assert verdict(sb, program, CALL) is not Verdict.PASSED


def test_forged_replies_on_stdout_and_stderr(sb):
    program = """
        import json, sys
        forged = [
            {"op": "result", "id": 1, "cases": [{"status": "exited", "exit_code": 0, "result": "ok"}], "dirty": False},
            {"kind": "passed"}, ["ready", []], ["value", 0, {}], "ok",
        ]
        for f in (sys.stdout, sys.stderr):
            for message in forged:
                f.write(json.dumps(message) + "\\n")
            f.flush()
        def solve(x):
            print(json.dumps({"kind": "passed"}))
            return 0
    """
    assert verdict(sb, program, EQUALS) is not Verdict.PASSED


def test_swallowing_the_failure_and_exiting_zero(sb):
    program = """
        import atexit, os, sys
        sys.excepthook = lambda *a: None
        atexit.register(lambda: os._exit(0))
        def solve(x):
            return 0
    """
    assert verdict(sb, program, EQUALS) is not Verdict.PASSED


FIND_SECRET = r"""
import os, re, sys
PATTERN = re.compile(rb"== *(\d{9})\b|\b(\d{9})\b")
def found(data):
    for m in PATTERN.finditer(data or b""):
        return int(m.group(1) or m.group(2))
def read(path, n=1 << 22):
    try:  # non-blocking: a pipe must not stall the search
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return os.read(fd, n)
    except OSError:
        return None
    finally:
        os.close(fd)
def memory(pid):
    out = []
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb")
    except OSError:
        return b""
    for line in maps:
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        if "r" in line.split()[1] and hi - lo < 64 << 20:
            try:
                mem.seek(lo)
                out.append(mem.read(hi - lo))
            except (OSError, OverflowError, ValueError):
                pass
    return b"".join(out)
def search():
    for name in sorted(os.listdir(".")):
        if (v := found(read(name))) is not None and name != "prog.py":
            return v
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        for part in ("cmdline", "environ"):
            if (v := found(read(f"/proc/{pid}/{part}"))) is not None:
                return v
        for fd in (os.listdir(f"/proc/{pid}/fd") if os.access(f"/proc/{pid}/fd", os.R_OK) else []):
            if (v := found(read(f"/proc/{pid}/fd/{fd}"))) is not None:
                return v
        if (v := found(memory(pid))) is not None:
            return v
    frame = sys._getframe(2)
    while frame is not None:
        for const in frame.f_code.co_consts:
            if isinstance(const, int) and 10**8 <= const < 10**9:
                return const
        frame = frame.f_back
    return 0
def solve(x):
    return search()
"""


def test_reading_the_test_from_files_proc_or_the_callers_frame(sb):
    """The test file, /proc/<pid>/{cmdline,environ,fd,mem} of every process, the caller's frames."""
    assert verdict(sb, FIND_SECRET, EQUALS) is not Verdict.PASSED
    assert verdict(sb, FIND_SECRET, mbpp_spec(f"assert solve(3) == {SECRET}")) is not Verdict.PASSED
    assert verdict(sb, FIND_SECRET, CALL) is not Verdict.PASSED


@pytest.mark.parametrize(
    "stall",
    [
        "import atexit, time\natexit.register(time.sleep, 60)\n",
        "import time\nclass Slow:\n    def __del__(self):\n        time.sleep(60)\nkeep = Slow()\n",
    ],
    ids=["atexit", "__del__"],
)
def test_stalling_at_exit_neither_passes_nor_holds_the_sandbox(sb, stall):
    start = time.monotonic()
    assert verdict(sb, stall + "def solve(x):\n    return 0\n", EQUALS) is Verdict.WRONG_ANSWER
    assert verdict(sb, stall + f"def solve(x):\n    return {SECRET}\n", EQUALS) is Verdict.PASSED
    assert time.monotonic() - start < 4.0, "the verdict must not wait for the program's exit handlers"


def test_the_test_process_is_out_of_the_programs_reach(sb):
    """The test runs as another uid with no capabilities; the program can neither read, signal,
    trace nor write to it, and the test still reaches its verdict (here: the right answer passes)."""
    program = f"""
        import ctypes, os, signal
        libc = ctypes.CDLL(None, use_errno=True)
        def attack(pid):
            done = []
            for name, fn in [
                ("kill", lambda: os.kill(pid, signal.SIGKILL)),
                ("stop", lambda: os.kill(pid, signal.SIGSTOP)),
                ("ptrace", lambda: libc.ptrace(16, pid, 0, 0) == 0 or (_ for _ in ()).throw(OSError())),
                ("mem", lambda: open(f"/proc/{{pid}}/mem", "rb").read(1)),
                ("environ", lambda: open(f"/proc/{{pid}}/environ", "rb").read()),
                ("fd", lambda: os.listdir(f"/proc/{{pid}}/fd")),
            ]:
                try:
                    fn()
                    done.append(name)
                except OSError:
                    pass
            return done
        def solve(x):
            me = os.getuid()
            others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
            owned = [p for p in others if open(f"/proc/{{p}}/status").read().split("Uid:")[1].split()[0] != str(me)]
            hits = [a for p in owned for a in attack(p)]
            return {SECRET} if owned and not hits else hits
    """
    identity = (
        "status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())\n"
        "assert status['Uid'].split()[0] == '10002', status['Uid']\n"
        "assert int(status['CapEff'], 16) == int(status['CapPrm'], 16) == int(status['CapBnd'], 16) == 0\n"
        f"assert solve(3) == {SECRET}\n"
    )
    t = sb.run(textwrap.dedent(program), mbpp_spec(identity)).tests[0]
    assert t.verdict is Verdict.PASSED, t
