"""The HTTP service against the real Docker daemon, called through verl's own SandboxFusion client.

verl's functions (``call_sandbox_api``, ``check_correctness``, ``compute_score``) are imported from
the installed verl, not copied: if our `/run_code` drifts from what verl sends or reads, these fail.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.api import SUPPORTED_LANGUAGES, SandboxConfig, StdioCase, TestResult, TestSpec, Verdict
from sandbox.fusion import run_code_response
from sandbox.service import SandboxService, make_server
from tests.sandbox.conftest import IMAGE, TEST_LABEL, docker_config

sf = pytest.importorskip("verl.utils.reward_score.sandbox_fusion.utils")
verl_compute_score = pytest.importorskip("verl.utils.reward_score.sandbox_fusion").compute_score

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def service(docker_ready) -> Iterator[SandboxService]:
    svc = SandboxService(docker_config(pool_size=2, time_limit_s=3.0, memory_mb=256))
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def url(service) -> Iterator[str]:
    httpd = make_server(service, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def post(url: str, body: dict | bytes) -> tuple[int, dict, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def call(url: str, code: str, stdin: str = "", timeout: int = 3, memory: int = 256, language: str = "python"):
    reply, error = sf.call_sandbox_api(f"{url}/run_code", code, stdin, timeout, timeout, memory, language)
    assert error is None, error
    return reply


def test_stdout_and_stdin_round_trip_through_verls_client(url):
    reply = call(url, "import sys\ndata = sys.stdin.read()\nprint(data[::-1], end='')\n", "abc\nxyz")
    assert reply["status"] == "Success"
    assert reply["compile_result"] is None
    run = reply["run_result"]
    assert (run["status"], run["return_code"], run["stdout"]) == ("Finished", 0, "zyx\ncba")
    assert 0 < run["execution_time"] < 3


def test_failures_map_to_sandboxfusion_statuses(url):
    crash = call(url, "import sys\nprint('partial')\nsys.stderr.write('boom\\n')\nsys.exit(3)\n")
    assert crash["status"] == "Failed"
    assert crash["run_result"]["status"] == "Finished"
    assert crash["run_result"]["return_code"] == 3
    assert crash["run_result"]["stdout"] == "partial\n"
    assert "boom" in crash["run_result"]["stderr"]
    slow = call(url, "while True:\n    pass\n", timeout=1)
    assert slow["status"] == "Failed" and slow["run_result"]["status"] == "TimeLimitExceeded"
    hog = call(url, "x = bytearray(400 * 1024 * 1024)\nprint(len(x))\n", memory=64)
    assert hog["status"] == "Failed" and hog["run_result"]["return_code"] != 0
    assert hog["run_result"]["stdout"] == ""


def test_unsupported_language_is_a_clear_sandbox_error(url):
    reply = call(url, 'console.log("hi")', language="nodejs")
    assert reply["status"] == "SandboxError"
    assert "'nodejs' is not supported" in reply["message"] and "python" in reply["message"]
    metadata = sf.check_correctness(
        f"{url}/run_code", {"inputs": [""], "outputs": ["hi\n"]}, "x", language="java"
    )
    assert metadata[0] == [-1]  # verl scores a sandbox error as -1, never as a pass


CPP_SUM = "#include <bits/stdc++.h>\nint main() { long long a, b; std::cin >> a >> b; std::cout << a + b << '\\n'; }\n"


@pytest.mark.skipif(
    "cpp" not in SUPPORTED_LANGUAGES, reason="the sandbox has no C++ toolchain yet (issue 16)"
)
def test_cpp_through_verls_client(url):
    ok = call(url, CPP_SUM, "2 3\n", timeout=10, language="cpp")
    assert ok["status"] == "Success" and ok["run_result"]["stdout"] == "5\n"
    assert ok["compile_result"]["status"] == "Finished" and ok["compile_result"]["return_code"] == 0
    broken = call(url, "int main( {\n", timeout=10, language="cpp")
    assert broken["status"] == "Failed" and broken["run_result"] is None
    assert broken["compile_result"]["return_code"] != 0 and broken["compile_result"]["stderr"]
    tests = {"inputs": ["1 2\n", "-5 5\n"], "outputs": ["3\n", "0\n"]}
    results, _ = sf.check_correctness(f"{url}/run_code", tests, CPP_SUM, timeout=10, language="cpp")
    assert results == [True, True]
    results, _ = sf.check_correctness(f"{url}/run_code", tests, "int main( {\n", timeout=10, language="cpp")
    assert results[0] == -4  # verl's compile-error code


def test_verls_check_correctness_and_compute_score(url):
    program = "a, b = map(int, input().split())\nprint(a + b)\n"
    tests = {"inputs": ["1 2\n", "3 4\n", "10 -3\n"], "outputs": ["3\n", "7\n", "7\n"]}
    results, _ = sf.check_correctness(f"{url}/run_code", tests, program, timeout=3)
    assert results == [True, True, True]
    wrong = {"inputs": ["1 2\n", "3 4\n"], "outputs": ["3\n", "8\n"]}
    results, metadata = sf.check_correctness(f"{url}/run_code", wrong, program, timeout=3)
    assert results == [True, False] and metadata[1]["stdout"] == "7\n"
    crash, _ = sf.check_correctness(f"{url}/run_code", tests, "raise SystemExit(2)\n", timeout=3)
    assert crash == [-2, -2, -2]  # verl's runtime-error code
    completion = f"Here it is:\n```python\n{program}```\n"
    score, _ = verl_compute_score(f"{url}/run_code", None, 256, completion, json.dumps(tests), timeout=3)
    assert score == 1.0
    # verl's fn_name wrapper (LeetCode-style rows) runs as an ordinary program here
    calls = {"fn_name": "add", "inputs": ["1\n2", "5\n6"], "outputs": ["3", "11"]}
    results, _ = sf.check_correctness(
        f"{url}/run_code", calls, "def add(a, b):\n    return a + b\n", timeout=3
    )
    assert results == [True, True]


def test_bad_requests_name_the_field(url):
    status, doc, _ = post(f"{url}/run_code", {"code": 42})
    assert status == 400 and "'code'" in doc["message"]
    status, doc, _ = post(f"{url}/run_code", {"code": "print(1)", "run_timeout": -1})
    assert status == 400 and "'run_timeout'" in doc["message"]
    status, doc, _ = post(f"{url}/run_code", b"{not json")
    assert status == 400 and doc["status"] == "SandboxError"
    status, doc, _ = post(f"{url}/nowhere", {})
    assert status == 404


def test_limits_are_capped_at_the_servers(service, url):
    reply = call(url, "import time\ntime.sleep(60)\n", timeout=100)  # asks 100 s, server gives 3
    assert reply["run_result"]["status"] == "TimeLimitExceeded"
    assert reply["run_result"]["execution_time"] < 10


def test_full_queue_answers_at_once_with_the_status_clients_retry(service, url, monkeypatch):
    monkeypatch.setattr(service, "max_queue", 0)
    status, doc, headers = post(f"{url}/run_code", {"code": "print(1)"})
    assert status == 504 and "queue full" in doc["message"]  # 504: verl's client retries it
    assert headers.get("Retry-After") == "1"


def test_a_run_that_cannot_start_in_time_is_refused_not_left_waiting(service, url, monkeypatch):
    spec = TestSpec("stdio", (StdioCase("", ""),))
    busy = service.submit([("import time\ntime.sleep(2)\n", spec)] * service.config.concurrency)
    monkeypatch.setattr(service, "queue_timeout_s", 0.3)
    status, doc, _ = post(f"{url}/run_code", {"code": "print(1)"})
    assert status == 504 and "without starting" in doc["message"]
    assert all(f.result().tests[0].verdict is Verdict.PASSED for f in busy)
    assert service.metrics.snapshot()["queue_depth"] == 0  # the refused run left the queue


@pytest.mark.parametrize(
    ("verdict", "exit_code", "status", "run_status"),
    [
        (Verdict.MEMORY_LIMIT, -9, "Failed", "Finished"),
        (Verdict.OUTPUT_LIMIT, None, "Failed", "Error"),
        (Verdict.SANDBOX_ERROR, None, "SandboxError", None),
    ],
)
def test_mapping_of_the_other_verdicts(verdict, exit_code, status, run_status):
    spec = TestSpec("stdio", (StdioCase("", ""),))
    reply = run_code_response(spec, TestResult(verdict, 0.1, "", "why", exit_code))
    assert reply["status"] == status
    assert (reply["run_result"] or {}).get("status") == run_status
    if run_status == "Finished":
        assert reply["run_result"]["return_code"] != 0


def test_serve_command_starts_drains_on_sigterm_and_leaves_no_container(docker_ready):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "sandbox", "--image", IMAGE, "serve", "--port", "0", "--pool-size", "1"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, proc.stderr.read()
        base = line.split()[-1]
        reply = call(base, "print(6 * 7)")
        assert reply["run_result"]["stdout"] == "42\n"
        with urllib.request.urlopen(f"{base}/health", timeout=10) as r:
            assert json.loads(r.read())["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=srpo.sandbox.owner={socket.gethostname()}:{proc.pid}"],
        capture_output=True,
        text=True,
    )
    assert left.stdout.strip() == ""


def test_service_config_is_checked():
    with pytest.raises(ValueError, match="max_queue"):
        SandboxService(SandboxConfig(image=IMAGE, label=TEST_LABEL), max_queue=0)
