"""The opt-in local backend: announced with a warning, and still bounded (time, memory, output,
leftover processes, and no network where namespaces are available). No Docker needed."""

from __future__ import annotations

import logging
import textwrap

import pytest

from sandbox import SandboxConfig, TestSpec, Verdict, make_sandbox
from sandbox.local_backend import namespace_prefix

pytestmark = pytest.mark.timeout(120)


def one(output: str = "") -> TestSpec:
    return TestSpec.from_dict(
        {"format": "stdio", "time_limit_s": 2, "cases": [{"input": "", "output": output}]}
    )


@pytest.fixture(scope="module")
def sb():
    with make_sandbox(
        SandboxConfig(backend="local", pool_size=1, memory_mb=256, output_limit_bytes=1 << 20)
    ) as s:
        yield s


def test_choosing_it_logs_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="sandbox.local_backend"):
        make_sandbox(SandboxConfig(backend="local", pool_size=1)).close()
    assert any("LOCAL sandbox backend" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("program", "verdict"),
    [
        ("while True:\n    pass\n", Verdict.TIME_LIMIT),
        ("import time\ntime.sleep(100)\n", Verdict.TIME_LIMIT),
        ("x = bytearray(10 ** 10)\n", Verdict.MEMORY_LIMIT),
        ("while True:\n    print('y' * 1000)\n", Verdict.OUTPUT_LIMIT),
        ("raise SystemExit(3)\n", Verdict.RUNTIME_ERROR),
    ],
)
def test_limits(sb, program, verdict):
    assert sb.run(program, one()).tests[0].verdict is verdict


@pytest.mark.skipif(not namespace_prefix(), reason="without a PID namespace a setsid() daemon escapes")
def test_leftover_processes_are_killed(sb):
    daemon = """
        import os, time
        if os.fork() == 0:
            os.setsid()
            time.sleep(0.5)
            open(os.path.expanduser("~/../leftover"), "w").write("x")
            time.sleep(60)
        print("done")
    """
    assert sb.run(textwrap.dedent(daemon), one("done")).all_passed
    look = "import os, time\ntime.sleep(1)\nprint(os.path.exists(os.path.expanduser('~/../leftover')))\n"
    assert sb.run(look, one("False")).all_passed


@pytest.mark.skipif(not namespace_prefix(), reason="unshare is not usable here")
def test_no_network_with_namespaces(sb):
    program = """
        import socket
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=1)
            print("reached")
        except OSError:
            print("blocked")
    """
    assert sb.run(textwrap.dedent(program), one("blocked")).all_passed


@pytest.mark.parametrize("use_prlimit", [True, False])
def test_rlimits_with_and_without_prlimit(tmp_path, monkeypatch, use_prlimit):
    """Images without util-linux prlimit fall back to a preexec hook with the same limits."""
    from sandbox import supervisor

    monkeypatch.setattr(supervisor, "WORK_ROOT", str(tmp_path))
    monkeypatch.setattr(supervisor, "PROGRAM_UID", None)
    if not use_prlimit:
        monkeypatch.setattr(supervisor, "PRLIMIT", None)
    elif supervisor.PRLIMIT is None:
        pytest.skip("prlimit is not installed here")
    program = (
        "import resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[1] >> 20)\nx = bytearray(1 << 30)\n"
    )
    req = {
        "op": "run",
        "id": 1,
        "format": "stdio",
        "language": "python",
        "program": program,
        "cases": [{"input": ""}],
    }
    req |= {"output_limit": 1000, "time_limit_s": 5, "memory_mb": 200, "nproc": 64, "stderr_tail": 500}
    (case,) = supervisor.handle_run(req)["cases"]
    assert case["stdout"] == "200\n"
    assert case["stderr_tail"].rstrip().endswith("MemoryError")


def test_api_and_local_backend_need_neither_the_docker_backend_nor_the_docker_sdk():
    """No import cycle between the API and the backends, and the local backend runs without docker."""
    import subprocess
    import sys

    probe = (
        "import sys; sys.modules['docker'] = None\n"  # any `import docker` now fails
        "import sandbox, sandbox.api, sandbox.local_backend\n"
        "from sandbox import SandboxConfig, TestSpec, make_sandbox\n"
        "spec = TestSpec.from_dict({'format': 'stdio', 'cases': [{'input': '', 'output': 'ok'}]})\n"
        "with make_sandbox(SandboxConfig(backend='local', pool_size=1)) as sb:\n"
        "    assert sb.run(\"print('ok')\", spec).all_passed\n"
        "assert 'sandbox.docker_backend' not in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
