"""The fork server's two loops side by side on the host (no Docker): C (sandbox/forkhelper.c) and Python.

An image built before the C loop runs the Python one, so both must give a program the same
process: the same outcome, environment, ids, limits, fds and session, and the same isolation
(nothing a child changes reaches the next child or the server). Each test runs the same cases
through a server of each kind and compares. The C loop is compiled here with the host's C
compiler (the image build compiles the same file). The servers run the host's system python3
(the image's build here) from the modules' source; run as root, children drop to `nobody`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from sandbox import bundle, forkserver, judge, plain

from .test_fork_server import LOOK, TAMPER

pytestmark = pytest.mark.timeout(120)

SOURCE = Path(__file__).resolve().parents[2] / "sandbox" / "forkhelper.c"
LOOPS = ("c", "python")
PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
# nobody, as the local backend's programs, where it can read the interpreter (not one under /root)
UID = 65534 if os.geteuid() == 0 and PYTHON.startswith(("/usr/", "/bin/")) else None
LIMITS = {"as": 1 << 30, "fsize": 1 << 20, "core": 0, "nofile": 256}

# test_fork_server's tampering and look-back, plus the C environment (putenv), which the C loop
# keeps in buffers of its own: a child's change there must not reach the next child either.
TAMPER = TAMPER + 'os.putenv("SENTINEL_C", "1")\n'
LOOK = (
    LOOK
    + 'seen.append("SENTINEL_C" in os.popen("env").read())\n'
    + "import json\nprint(json.dumps([i for i, x in enumerate(seen) if x]))\n"
)
# What a program can see of its own process: equal under both loops, case dirs and pids aside.
REPORT = """
import ctypes, json, os, random, resource, sys
fds = sorted(os.listdir("/proc/self/fd"))
cwd = os.getcwd()
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
limits = {k: resource.getrlimit(getattr(resource, "RLIMIT_" + k)) for k in ("AS", "FSIZE", "CORE", "NOFILE", "CPU")}
print(json.dumps({
    "name": __name__, "file": __file__ == cwd + "/prog.py", "argv": sys.argv,
    "home": os.environ["HOME"] == os.environ["TMPDIR"] == cwd, "env": sorted(os.environ),
    "c_env": sorted({line.split("=", 1)[0] for line in os.popen("env").read().splitlines()} - {"PWD", "SHLVL", "_"}),
    "c_home": os.popen("echo $HOME:$TMPDIR").read().strip() == cwd + ":" + cwd,
    "ids": [os.getresuid(), os.getresgid(), os.getgroups()],
    "session": os.getsid(0) == os.getpid() == os.getpgid(0), "fds": fds,
    "limits": limits, "dumpable": ctypes.CDLL(None).prctl(3, 0, 0, 0, 0),
    "oom": open("/proc/self/oom_score_adj").read().strip(),
    "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
    "signals": [status[k].strip() for k in ("SigPnd", "ShdPnd", "SigBlk", "SigIgn")],
    "modules": sorted(m for m in sys.modules if not m.startswith("encodings.")),
    "random": random.random(), "recursion": sys.getrecursionlimit(), "stdin": sys.stdin.read(),
}))
"""
OUTCOMES = [  # (program, stdin): exit status, output and the traceback's last line must match
    ("print(input()[::-1])\n", b"abc\n"),
    ("import sys\nprint('x')\nsys.exit(3)\n", b""),
    ("print('x', end='')\nraise KeyError('k')\n", b""),
    ("import atexit\natexit.register(print, 'bye')\n", b""),
    ("import sys\nsys.stdout.write('x')\nsys.exit()\n", b""),
    ("import sys\nsys.exit('bye')\n", b""),
    ("import os\nprint('lost', end='')\nos._exit(7)\n", b""),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGINT)\n", b""),
    ("x = [0] * (1 << 28)\n", b""),  # over the address-space limit: MemoryError
    ("open('big', 'wb').write(b'x' * (2 << 20))\n", b""),  # over the file-size limit: SIGXFSZ
    ("def f(n):\n    return f(n + 1)\nf(0)\n", b""),
]


@pytest.fixture(scope="module")
def helper(tmp_path_factory) -> str:
    """forkhelper.c compiled with the host's compiler, as build_sandbox_image.sh compiles it."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler on this host to build sandbox/forkhelper.c")
    out = tmp_path_factory.mktemp("forkhelper") / "forkhelper.so"
    subprocess.run(
        [cc, "-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-o", str(out), str(SOURCE)], check=True
    )
    return str(out)


def _start(helper: str, role: str = "program") -> forkserver.ForkServer:
    """A server as the supervisor starts one; the modules travel as source, which any 3.x loads."""
    argv = [PYTHON, "-I", "-c", bundle.FORK_SERVER_BOOT, bundle.payload(bundle.FORK_SERVER, as_source=True)]
    return forkserver.ForkServer(argv, dict(forkserver.ENV), set(), role=role, helper=helper)


@pytest.fixture(scope="module")
def servers(helper):
    """A program server and a test server of each loop: {"c": (program, test), "python": (...)}."""
    started = {loop: (_start(path), _start(path, "test")) for loop, path in (("c", helper), ("python", ""))}
    try:
        assert [s.loop for s in started["c"]] == ["c", "c"]
        assert all(s.loop.startswith("python no C loop asked for") for s in started["python"])
        yield started
    finally:
        for pair in started.values():
            for server in pair:
                server.close()
                server.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def work():
    """The case dirs' parent: enterable by the program uid, as /work in the container."""
    root = tempfile.mkdtemp(prefix="srpo-fork-loop-")
    os.chmod(root, 0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _case_dir(work: str, program: str, stdin: bytes = b"") -> str:
    case_dir = tempfile.mkdtemp(dir=work)
    Path(case_dir, "prog.py").write_text(textwrap.dedent(program))
    Path(case_dir, ".stdin").write_bytes(stdin)
    if UID is not None:
        for path in (case_dir, *(os.path.join(case_dir, f) for f in ("prog.py", ".stdin"))):
            os.chown(path, UID, UID)
    return case_dir


def run_stdio(server: forkserver.ForkServer, work: str, program: str, stdin: bytes = b"") -> dict:
    """One stdio case: exit code, stdout and stderr's last line."""
    case_dir = _case_dir(work, program, stdin)
    fd = os.open(os.path.join(case_dir, ".stdin"), os.O_RDONLY)
    try:
        child = server.spawn("stdio", case_dir, [fd], LIMITS, 5, UID)
    finally:
        os.close(fd)
    with child.stdout, child.stderr:
        out, err = child.stdout.read(), child.stderr.read()
    lines = err.decode().strip().splitlines()
    return {
        "code": child.wait(),
        "stdout": out.decode(),
        "error": lines[-1] if lines else "",
        "pid": child.pid,
    }


def run_assert(servers: tuple, work: str, program: str, test: str) -> dict:
    """One assert case as the supervisor runs it: the program (runner) and its test process."""
    program_server, test_server = servers
    case_dir = _case_dir(work, program)
    call_r, call_w = os.pipe()
    reply_r, reply_w = os.pipe()
    report_r, report_w = os.pipe()
    case = json.dumps({"code": test, "entry_point": None, "max_reply": 1 << 16}).encode()
    case_fd = os.memfd_create("case")
    os.write(case_fd, case)
    os.lseek(case_fd, 0, os.SEEK_SET)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        child = program_server.spawn("assert", case_dir, [null, call_r, reply_w], LIMITS, 5, UID)
        tester = test_server.spawn_test([call_w, reply_r, report_w, case_fd], LIMITS, 5, UID)
    finally:
        for fd in (null, call_r, call_w, reply_r, reply_w, report_w, case_fd):
            os.close(fd)
    with os.fdopen(report_r, "rb") as f:
        report = json.loads(f.read())
    assert tester.wait() == 0
    with contextlib.suppress(ProcessLookupError):  # as the supervisor does once the report is in
        os.kill(child.pid, 9)
    child.wait()
    child.stdout.close()
    child.stderr.close()
    return report


def _both(fn, servers: dict, *args) -> dict:
    return {loop: fn(servers[loop][0], *args) for loop in LOOPS}


@pytest.mark.parametrize(("program", "stdin"), OUTCOMES)
def test_a_case_ends_alike_under_both_loops(servers, work, program, stdin):
    got = _both(run_stdio, servers, work, program, stdin)
    for result in got.values():
        del result["pid"]
    assert got["c"] == got["python"], got


def test_a_child_sees_the_same_process_under_both_loops(servers, work):
    """Environment (Python's and the C one), ids, session, fds, rlimits, dumpable, OOM score,
    capabilities, signal masks and loaded modules; each child draws its own random numbers."""
    reports = {}
    for loop in LOOPS:
        first, second = (run_stdio(servers[loop][0], work, REPORT, b"in") for _ in range(2))
        assert first["code"] == second["code"] == 0, (loop, first, second)
        reports[loop] = [json.loads(r["stdout"]) for r in (first, second)]
        assert reports[loop][0].pop("random") != reports[loop][1].pop("random"), loop
        assert reports[loop][0] == reports[loop][1], loop
    c, python = reports["c"][0], reports["python"][0]
    assert c == python
    assert c["file"] and c["home"] and c["c_home"] and c["session"] and c["stdin"] == "in", c
    assert c["fds"] == ["0", "1", "2", "3"] and c["dumpable"] == 1 and c["oom"] == "1000", c
    assert c["limits"]["NOFILE"] == [256, 256] and c["limits"]["CPU"] == [5, 6], c
    assert c["env"] == sorted([*forkserver.ENV, "HOME", "TMPDIR"]) == c["c_env"], c
    if UID is not None:
        assert c["ids"] == [[UID] * 3, [UID] * 3, []] and set(c["caps"]) == {"0000000000000000"}, c


@pytest.mark.parametrize("loop", LOOPS)
def test_nothing_a_child_changes_reaches_the_next_child(servers, work, loop):
    server = servers[loop][0]
    before = run_stdio(server, work, LOOK)
    assert json.loads(before["stdout"]) == [], before
    tampered = run_stdio(server, work, TAMPER)
    assert (tampered["code"], tampered["stdout"]) == (0, "SENTINEL\n"), tampered  # its atexit ran
    after = run_stdio(server, work, LOOK)
    assert json.loads(after["stdout"]) == [], f"state leaked from the previous child: {after}"
    assert server.proc.poll() is None


@pytest.mark.parametrize(
    ("test", "kind"),
    [
        ("assert add(2, 3) == 5\n", "passed"),
        ("assert add(2, 2) == 5\n", "assertion"),
        (
            "import builtins, sys\nbuiltins.SENTINEL = 1\nsys.modules['sandbox.judge'].SENTINEL = 1\n",
            "passed",
        ),
        (
            "import builtins, os, sys\nassert not hasattr(builtins, 'SENTINEL')\n"
            "assert not hasattr(sys.modules['sandbox.judge'], 'SENTINEL')\n"
            "assert os.getcwd() == '/' and os.environ['HOME'] == '/' and add(0, 0) == 0\n",
            "passed",
        ),
    ],
)
def test_an_assert_case_is_judged_alike_under_both_loops(servers, work, test, kind):
    """The program under runner.py and its test process (the test server's child) of each loop;
    what one test process changes is not in the next one (the tests run in this order)."""
    program = "import builtins\nbuiltins.SENTINEL = 1\n\ndef add(a, b):\n    return a + b\n"
    got = {loop: run_assert(servers[loop], work, program, test) for loop in LOOPS}
    assert got["c"] == got["python"], got
    assert got["c"]["kind"] == kind, got


def test_a_call_case_answers_alike_under_both_loops(servers, work):
    """A `call` case: the program's raw replies, replayed as the host does."""
    replies = {}
    for loop in LOOPS:
        case_dir = _case_dir(work, "def f(x):\n    return [x, x * 2]\n")
        call_r, call_w = os.pipe()
        reply_r, reply_w = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            child = servers[loop][0].spawn("call", case_dir, [null, call_r, reply_w], LIMITS, 5, UID)
        finally:
            for fd in (null, call_r, reply_w):
                os.close(fd)
        os.write(call_w, judge.call_request("f", [21], {}))
        os.close(call_w)
        with os.fdopen(reply_r, "rb") as f:
            replies[loop] = f.read()
        assert child.wait() == 0
        child.stdout.close()
        child.stderr.close()
    assert replies["c"] == replies["python"]
    report = judge.replay_call(replies["c"], "f", [21], {}, 1 << 16)
    assert report == {"kind": "returned", "value": plain.encode([21, 42])}, report


@pytest.mark.parametrize("loop", LOOPS)
def test_a_bad_request_costs_that_case_and_the_server_keeps_no_fd(servers, work, loop):
    """A request the server cannot read is answered with an error (its fds closed), never the
    server's end; after many cases the server holds the same fds as before (none leak)."""
    import socket

    server = servers[loop][0]
    fds = f"/proc/{server.pid}/fd"  # the server is not dumpable: only root may list them
    fds_before = sorted(os.listdir(fds)) if UID is not None else None
    null = os.open(os.devnull, os.O_RDWR)
    try:
        too_long = b"stdio 1 - as=1 /" + b"x" * (1 << 16)  # its case dir would be cut short
        for bad in (
            b"stdio 1 - bogus=1 /tmp",
            b"garbage",
            b"stdio x - as=1 /tmp",
            b"nomode 1 - as=1 /tmp",
            too_long,
        ):
            socket.send_fds(server.sock, [bad], [null, null, null])
            assert "could not start the case" in server.receive()["error"], bad
    finally:
        os.close(null)
    for _ in range(20):
        assert run_stdio(server, work, "print(6 * 7)\n")["stdout"] == "42\n"
    assert fds_before is None or sorted(os.listdir(fds)) == fds_before


def test_a_library_that_does_not_load_leaves_the_python_loop_serving(tmp_path, work):
    """An image whose library is missing or broken still serves, through the Python loop, and the
    server says why (the host logs it once)."""
    broken = tmp_path / "forkhelper.so"
    broken.write_text("not a shared object\n")
    for helper, why in ((str(broken), "does not load"), (str(tmp_path / "none.so"), "an image built before")):
        server = _start(helper)
        try:
            assert server.loop.startswith("python") and why in server.loop, server.loop
            assert run_stdio(server, work, "print(6 * 7)\n")["stdout"] == "42\n"
        finally:
            server.close()
            server.proc.wait(timeout=10)


def test_the_host_warns_once_about_the_python_loop(monkeypatch, caplog):
    """A worker whose fork server runs the Python loop (an old image) makes the host warn, once
    per process however many workers say so; one running the C loop does not."""
    import logging
    import threading

    from sandbox import pool

    class Pong(pool.Worker):
        def __init__(self, loop: str) -> None:
            super().__init__()
            self.loop = loop

        def request(self, msg, timeout_s):
            return {"op": "pong", "fork_loop": self.loop}

        def _send(self, data): ...

        def _recv_some(self, timeout_s): ...

        def close(self): ...

    monkeypatch.setattr(pool, "_SLOW_LOOP_WARNING", threading.Lock())
    with caplog.at_level(logging.WARNING, logger="sandbox.pool"):
        Pong("c").ping(1.0)
        assert caplog.records == []
        for _ in range(3):
            Pong("python no /usr/local/lib/srpo/forkhelper.so (an image built before the C loop)").ping(1.0)
    assert len(caplog.records) == 1, caplog.records
    assert "an image built before the C loop" in caplog.text and "--force" in caplog.text
