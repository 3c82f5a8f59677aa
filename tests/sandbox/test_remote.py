"""`/run_batch` and the client: spreading, fail-over when a server is killed mid-batch, idempotent
retries, a clear error when no server answers, and the code reward on `code.sandbox.urls`.

Servers are real ``python -m sandbox serve`` processes on the real Docker daemon.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from reward_fns.code_reward import CodeGrader
from sandbox import SandboxUnavailable, TestSpec, Verdict
from sandbox.remote import RemoteSandbox, RequestRefused
from sandbox.wire import encode_batch
from tests.sandbox.conftest import IMAGE, TEST_LABEL

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]


def start_server(*flags: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "sandbox", "--image", IMAGE, "serve", "--port", "0", *flags]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise AssertionError(f"server did not start: {line} {proc.stderr.read()[-2000:]}")
    return proc, line.split()[-1]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def server(docker_ready) -> Iterator[str]:
    proc, url = start_server("--pool-size", "2")
    yield url
    stop(proc)


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(f"srpo_sandbox_{name} "):
                return float(line.split()[1])
    raise AssertionError(f"metric {name} missing")


def tagged(i: int) -> tuple[str, TestSpec]:
    """Program i prints its own tag; every third one prints another tag, so its verdict and detail
    tell whose result came back."""
    printed = f"run-{i}" if i % 3 else f"other-{i}"
    program = f"import time\ntime.sleep(0.2)\nprint({printed!r})\n"
    return program, TestSpec.from_dict({"format": "stdio", "cases": [{"input": "", "output": f"run-{i}\n"}]})


def check_attribution(results, n: int) -> None:
    assert len(results) == n
    for i, result in enumerate(results):
        (test,) = result.tests
        if i % 3:
            assert test.verdict is Verdict.PASSED, (i, test)
        else:
            assert test.verdict is Verdict.WRONG_ANSWER and f"'other-{i}\\n'" in test.detail, (i, test)


def test_batch_spreads_over_servers_and_survives_a_server_killed_mid_batch(server):
    victim, victim_url = start_server("--pool-size", "2")
    try:
        client = RemoteSandbox([server, victim_url], chunk_size=2, parallel_per_server=2, down_for_s=30)
        items = [tagged(i) for i in range(30)]
        out: dict = {}
        worker = threading.Thread(target=lambda: out.setdefault("results", client.run_batch(items)))
        worker.start()
        deadline = time.monotonic() + 60
        while metric(victim_url, "runs_total") < 2:  # the victim is busy with this batch
            assert time.monotonic() < deadline
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        worker.join(timeout=120)
        check_attribution(out["results"], len(items))
        states = {s["url"]: s for s in client.servers()}
        assert states[victim_url]["failed"] >= 1 and states[server]["answered"] >= 1
        assert client.retries >= 1 and max(client.failover_s) < 30
        client.close()
    finally:
        victim.kill()
    deadline = time.monotonic() + 20  # the killed server's containers go with their attach streams
    label = f"label=srpo.sandbox.owner={socket.gethostname()}:{victim.pid}"
    while subprocess.run(
        ["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True
    ).stdout.strip():
        assert time.monotonic() < deadline, "containers of the killed server were left behind"
        time.sleep(0.5)


def post_batch(url: str, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(f"{url}/run_batch", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_a_repeated_request_id_is_answered_without_running_again(server):
    items = [tagged(i) for i in (1, 3)]
    body = encode_batch("idem-test-1", items, fail_fast=False)
    runs_before = metric(server, "runs_total")
    first = post_batch(server, body)
    second = post_batch(server, body)
    assert first == second and first[0] == 200
    assert metric(server, "runs_total") == runs_before + 2
    assert metric(server, "replayed_requests_total") >= 1
    status, reply = post_batch(server, encode_batch("idem-test-1", items[:1], fail_fast=False))
    assert status == 409 and "already used" in json.loads(reply)["message"]
    status, reply = post_batch(server, b'{"request_id": "x", "runs": [{"program": 1}]}')
    assert status == 400 and "runs[0]" in json.loads(reply)["message"]


def test_a_server_restarted_on_its_port_is_not_taken_for_dead(docker_ready):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    proc, url = start_server("--pool-size", "1", "--port", port)
    try:
        with RemoteSandbox([url], down_for_s=60) as client:
            assert client.run(*tagged(1)).all_passed  # leaves a kept-alive connection behind
            stop(proc)
            proc, _ = start_server("--pool-size", "1", "--port", port)
            assert client.run(*tagged(2)).all_passed  # stale connection: one fresh try, no fail-over
            assert client.servers()[0]["failed"] == 0
    finally:
        stop(proc)


def test_no_server_answering_is_a_clear_error_naming_the_urls():
    dead = ["http://127.0.0.1:9", "http://127.0.0.1:19"]
    with RemoteSandbox(dead, down_for_s=0.1, give_up_s=0.5) as client:
        start = time.monotonic()
        with pytest.raises(SandboxUnavailable) as info:
            client.run(*tagged(1))
        assert time.monotonic() - start < 10
    assert all(u in str(info.value) for u in dead) and "python -m sandbox serve" in str(info.value)


def test_partial_credit_is_refused_by_a_fail_fast_server(docker_ready):
    proc, url = start_server("--pool-size", "1", "--fail-fast")
    try:
        with RemoteSandbox([url]) as client, pytest.raises(RequestRefused, match="--fail-fast"):
            client.run(*tagged(1))
        with RemoteSandbox([url], fail_fast=True) as client:
            spec = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "", "output": "1\n"}] * 3})
            assert client.run("raise SystemExit(1)", spec).verdicts == [
                Verdict.RUNTIME_ERROR,
                Verdict.SKIPPED,
                Verdict.SKIPPED,
            ]
    finally:
        stop(proc)


def test_code_reward_on_servers_matches_the_local_sandbox(server):
    spec = TestSpec.from_dict(
        {
            "format": "call",
            "fn_name": "add",
            "cases": [{"args": [1, 2], "expected": 3}, {"args": [2, 2], "expected": 4}],
        }
    )
    programs = ["def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a * b\n", "add = 1\n"]
    remote = CodeGrader(
        {"urls": [server], "time_limit_s": 5.0, "pool_size": 8, "fail_fast": False}, reuse_results=0
    )
    local = CodeGrader(
        {"pool_size": 1, "image": IMAGE, "label": TEST_LABEL, "fail_fast": False}, reuse_results=0
    )
    try:
        got = [r.verdicts for r in remote.run_batch([(p, spec) for p in programs])]
        assert got == [r.verdicts for r in local.run_batch([(p, spec) for p in programs])]
        assert got[0] == [Verdict.PASSED, Verdict.PASSED] and got[1] == [Verdict.WRONG_ANSWER, Verdict.PASSED]
        assert remote.run_one(*programs[:1], spec).all_passed  # single calls go through the batcher too
    finally:
        remote.close()
        local.close()


def test_client_options_without_urls_are_refused():
    with pytest.raises(ValueError, match="code.sandbox.urls"):
        CodeGrader({"chunk_size": 4})
    with pytest.raises(ValueError, match="http://host:port"):
        RemoteSandbox(["ftp://x"])
