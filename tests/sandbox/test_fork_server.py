"""The fork server (sandbox/forkserver.py): children start clean, and nothing flows between them.

One warm container (pool_size=1), so every program here is forked by the same server; each test
checks that by comparing the programs' parent pid, so a server that was restarted in between
(which would make "clean" trivially true) fails the test instead.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from sandbox import TestSpec, Verdict, make_sandbox

from .conftest import docker_config

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

MODES = ["stdio", "call", "assert"]

# Everything a program could change in its interpreter that a later one might read back.
TAMPER = """
import atexit, builtins, collections, os, re, sys
builtins.SENTINEL = 1
collections.SENTINEL = 1
re.SENTINEL = 1
sys.modules["sandbox.runner"].SENTINEL = 1
sys.modules["sentinel_module"] = type(sys)("sentinel_module")
sys.path.insert(0, "/dev/shm")
os.environ["SENTINEL"] = "1"
sys.setrecursionlimit(123456)
atexit.register(print, "SENTINEL")
builtins.abs = lambda x: 0
"""

LOOK = """
import builtins, collections, os, re, sys
seen = [
    hasattr(builtins, "SENTINEL"),
    hasattr(collections, "SENTINEL"),
    hasattr(re, "SENTINEL"),
    hasattr(sys.modules["sandbox.runner"], "SENTINEL"),
    "sentinel_module" in sys.modules,
    "/dev/shm" in sys.path,
    "SENTINEL" in os.environ,
    sys.getrecursionlimit() == 123456,
    builtins.abs(-1) != 1,
]
"""


@pytest.fixture(scope="module")
def sb(docker_ready):
    with make_sandbox(docker_config(start_mode="fork_server", pool_size=1)) as sandbox:
        yield sandbox


def run(sb, program: str, spec: TestSpec):
    return sb.run(textwrap.dedent(program), spec).tests[0]


def printed(sb, program: str) -> dict:
    """Run a stdio program that prints one short JSON object (under 100 characters), and return it."""
    spec = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "", "output": "{}"}]})
    t = run(sb, program, spec)
    assert t.verdict is Verdict.WRONG_ANSWER, t
    return json.loads(t.detail.split("got ", 1)[1].strip("'").encode().decode("unicode_escape"))


REPORT = "import json, os\nprint(json.dumps({'ppid': os.getppid(), 'seen': [i for i, x in enumerate(seen) if x]}))\n"


@pytest.mark.parametrize("mode", MODES)
def test_state_set_by_one_child_is_invisible_to_the_next(sb, mode):
    before = printed(sb, LOOK + REPORT)
    assert before["seen"] == [], before
    if mode == "stdio":
        spec = TestSpec.from_dict(
            {"format": "stdio", "cases": [{"input": "", "output": "SENTINEL"}]}
        )  # atexit ran
        program = TAMPER
    elif mode == "call":
        spec = TestSpec.from_dict({"format": "call", "fn_name": "f", "cases": [{"args": [], "expected": 1}]})
        program = TAMPER + "def f():\n    return 1\n"
    else:
        spec = TestSpec.from_dict(
            {"format": "assert", "entry_point": "f", "cases": [{"code": "assert f() == 1"}]}
        )
        program = TAMPER + "def f():\n    return 1\n"
    assert run(sb, program, spec).verdict is Verdict.PASSED
    after = printed(sb, LOOK + REPORT)
    assert after["ppid"] == before["ppid"], "both programs must come from the same fork server"
    assert after["ppid"] != 1, "in fork_server mode a program's parent is the server, not PID 1"
    assert after["seen"] == [], f"state leaked from the previous child (LOOK items): {after['seen']}"


def test_state_set_by_one_test_process_is_invisible_to_the_next(sb):
    """Test processes of assert cases come from their own server: what one test changes in its
    interpreter (or in the judge) does not reach the next test, and the test's parent is that server."""
    program = "def f():\n    return 1\n"
    tamper = (
        "import builtins, os, sys\nbuiltins.SENTINEL = 1\nsys.modules['sandbox.judge'].SENTINEL = 1\n"
        "os.environ['SENTINEL'] = '1'\nassert os.getppid() != 1\nassert f() == 1\n"
    )
    look = (
        "import builtins, os, sys\nassert not hasattr(builtins, 'SENTINEL')\n"
        "assert not hasattr(sys.modules['sandbox.judge'], 'SENTINEL')\nassert 'SENTINEL' not in os.environ\n"
        "assert os.getuid() == 10002 and os.getcwd() == '/'\nassert f() == 1\n"
    )
    spec = TestSpec.from_dict(
        {"format": "assert", "entry_point": "f", "cases": [{"code": tamper}, {"code": look}]}
    )
    assert sb.run(program, spec).verdicts == [Verdict.PASSED, Verdict.PASSED]
    again = TestSpec.from_dict({"format": "assert", "entry_point": "f", "cases": [{"code": look}]})
    assert sb.run(program, again).verdicts == [Verdict.PASSED]


def test_the_server_is_out_of_the_childs_reach(sb):
    """A child cannot signal, stop, trace or read the servers (programs' and test processes'), nor
    write into their memory; it holds no fd but its own stdio. The servers fork when a case comes,
    so no other root process is alive beside them (no child waiting for the next case)."""
    attack = """
        import ctypes, json, os, signal
        libc = ctypes.CDLL(None, use_errno=True)
        def uid(p):
            return open(f"/proc/{p}/status").read().split("Uid:")[1].split()[0]
        roots = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != 1 and uid(p) == "0"]
        done = []
        for pid in roots:
            for name, fn in [
                ("kill", lambda: os.kill(pid, signal.SIGKILL)),
                ("stop", lambda: os.kill(pid, signal.SIGSTOP)),
                ("ptrace", lambda: libc.ptrace(16, pid, 0, 0) == 0 or (_ for _ in ()).throw(OSError())),
                ("mem", lambda: open(f"/proc/{pid}/mem", "r+b").read(1)),
                ("environ", lambda: open(f"/proc/{pid}/environ", "rb").read()),
                ("fd", lambda: os.listdir(f"/proc/{pid}/fd")),
            ]:
                try:
                    fn()
                    done.append(name)
                except OSError:
                    pass
        print(json.dumps({"ppid": os.getppid(), "roots": len(roots), "server": os.getppid() in roots,
                          "done": done, "fds": sorted(int(f) for f in os.listdir("/proc/self/fd"))}))
    """
    got = printed(sb, attack)
    assert got["done"] == [], got
    assert got["server"] and got["roots"] == 2, f"only the two servers are root: {got}"
    assert got["fds"] == [0, 1, 2, 3], f"a child holds only stdin, stdout, stderr (+ the listing's fd): {got}"
    again = printed(sb, "import json, os\nprint(json.dumps({'ppid': os.getppid()}))\n")
    assert again["ppid"] == got["ppid"], "the server must survive the attacks and stay the same"


def test_both_servers_run_the_c_loop(sb):
    """The image has the C loop (scripts/build_sandbox_image.sh compiles sandbox/forkhelper.c):
    both servers have it mapped. An image built before it fails here: rebuild it with --force."""
    import os
    from pathlib import Path

    if os.geteuid() != 0:
        pytest.skip("reading the container's /proc/<pid>/maps from the host needs root")
    (container,) = sb.containers()
    pids = [row[0] for row in sb.api.top(container, ps_args="-o pid")["Processes"]]
    mapped = [
        pid for pid in pids if "/usr/local/lib/srpo/forkhelper.so" in Path(f"/proc/{pid}/maps").read_text()
    ]
    assert len(mapped) == 2, f"both fork servers (and nothing else) run the C loop: {mapped} of {pids}"


def test_children_reseed_random_and_run_as_a_script(sb):
    program = """
        import json, os, random, sys
        cwd = os.getcwd()
        ok = [__name__ == "__main__", sys.argv == ["prog.py"], __file__ == cwd + "/prog.py",
              sys.modules["__main__"].__dict__ is globals(), os.environ["HOME"] == cwd,
              os.getuid() == 10001, os.getsid(0) == os.getpid()]
        print(json.dumps({"r": random.randrange(10**9), "dir": os.path.basename(cwd),
                          "bad": [i for i, x in enumerate(ok) if not x]}))
    """
    a, b = printed(sb, program), printed(sb, program)
    assert a["r"] != b["r"], "each child must draw its own random numbers"
    assert a["dir"] != b["dir"], "each child gets a fresh case dir"
    assert a["bad"] == b["bad"] == [], (a, b)


def test_exit_status_and_tracebacks_match_a_fresh_interpreter():
    """Exit codes, uncaught exceptions, atexit output and unflushed prints as `python3 -I prog.py`."""
    spec = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "", "output": "x"}]})
    programs = {
        "import sys\nprint('x')\nsys.exit(3)\n": (Verdict.RUNTIME_ERROR, 3),
        "print('x', end='')\nraise KeyError('k')\n": (Verdict.RUNTIME_ERROR, 1),
        "import atexit\natexit.register(print, 'x')\n": (Verdict.PASSED, 0),
        "import sys\nsys.stdout.write('x')\nsys.exit()\n": (Verdict.PASSED, 0),
        "import sys\nsys.exit('bye')\n": (Verdict.RUNTIME_ERROR, 1),
    }
    results = {}
    for mode in ("fork_server", "fresh_interpreter"):
        with make_sandbox(docker_config(start_mode=mode, pool_size=1)) as sandbox:
            got = sandbox.run_batch([(p, spec) for p in programs])
        results[mode] = [(r.tests[0].verdict, r.tests[0].exit_code, r.tests[0].stderr_tail) for r in got]
    for (program, want), fork, fresh in zip(
        programs.items(), results["fork_server"], results["fresh_interpreter"], strict=True
    ):
        assert fork[:2] == want, (program, fork)
        assert fork[:2] == fresh[:2], (program, fork, fresh)
    fork_tb, fresh_tb = results["fork_server"][1][2], results["fresh_interpreter"][1][2]
    assert fork_tb.splitlines()[-1] == fresh_tb.splitlines()[-1] == "KeyError: 'k'", (fork_tb, fresh_tb)
    assert "forkserver" not in fork_tb, fork_tb


def test_a_request_it_cannot_read_is_answered_and_the_server_keeps_serving(tmp_path):
    """The server prepares each case itself before it forks: a bad request must cost that case
    (an error reply, its fds closed), never the server. Runs a server on the host, no Docker."""
    import os
    import socket
    import sys

    from sandbox import bundle, cleanup, forkserver

    argv = [sys.executable, "-I", "-c", bundle.FORK_SERVER_BOOT, bundle.payload(bundle.FORK_SERVER)]
    server = forkserver.ForkServer(argv, dict(forkserver.ENV), set(cleanup.SPARED))
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for bad in (b"stdio 1 - bogus=1 /tmp", b"garbage"):
            socket.send_fds(server.sock, [bad], [null, null, null])
            assert "could not start the case" in server.receive()["error"]
        (tmp_path / "prog.py").write_text("print(6 * 7)\n")
        child = server.spawn("stdio", str(tmp_path), [null], {"nofile": 256}, 2, None)
        assert child.stdout.read() == b"42\n" and child.wait() == 0
        child.stdout.close()
        child.stderr.close()
    finally:
        os.close(null)
        server.close()
        server.proc.wait(timeout=10)
