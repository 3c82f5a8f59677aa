"""dockerd stopped in the middle of a batch: a clear SandboxUnavailable, quickly, not a hang.

The daemon that is stopped is a private second dockerd (own socket, data root and exec root,
the image loaded into it), so the shared daemon other tests and people use is never touched.
Needs root. Costs about 10 s (plus about 10 s the first time, to load the image).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sandbox import SandboxConfig, SandboxUnavailable, TestSpec, make_sandbox

from .conftest import IMAGE, TEST_LABEL

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]

ROOT = Path(os.environ.get("SRPO_TEST_DOCKER_ROOT", "/var/lib/srpo-docker-test"))
EXEC_ROOT = Path("/run/srpo-docker-test-exec")
SOCKET = "/run/srpo-docker-test.sock"
URL = f"unix://{SOCKET}"


def _answers() -> bool:
    probe = subprocess.run(["docker", "-H", URL, "info"], capture_output=True, timeout=20)
    return probe.returncode == 0


@pytest.fixture
def private_daemon(docker_ready, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("starting a private dockerd needs root")
    ROOT.mkdir(parents=True, exist_ok=True)
    EXEC_ROOT.mkdir(parents=True, exist_ok=True)
    log = open(tmp_path / "dockerd.log", "wb")  # noqa: SIM115 (closed in teardown)
    proc = subprocess.Popen(
        ["dockerd", "--iptables=false", "--bridge=none", "--data-root", str(ROOT), "--exec-root", str(EXEC_ROOT),
         "--pidfile", str(EXEC_ROOT / "dockerd.pid"), "-H", URL],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _answers():
            assert proc.poll() is None, (tmp_path / "dockerd.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the private dockerd did not answer within 60 s"
            time.sleep(0.5)
        if subprocess.run(["docker", "-H", URL, "image", "inspect", IMAGE], capture_output=True).returncode:
            save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
            subprocess.run(
                ["docker", "-H", URL, "load"], stdin=save.stdout, check=True, capture_output=True, timeout=300
            )
            assert save.wait(timeout=60) == 0
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def test_dockerd_stopped_mid_batch_is_a_clear_error(private_daemon):
    spec = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "", "output": "1\n"}]})
    sb = make_sandbox(SandboxConfig(docker_host=URL, image=IMAGE, pool_size=4, label=TEST_LABEL))
    first = sb.run_batch([("print(1)", spec)] * 8)
    assert all(r.all_passed for r in first)

    stopped = threading.Event()

    def stop_daemon() -> None:
        time.sleep(1.5)
        private_daemon.send_signal(signal.SIGTERM)
        stopped.set()

    threading.Thread(target=stop_daemon, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(SandboxUnavailable, match=f"Docker daemon at {URL}"):
        sb.run_batch([("import time\ntime.sleep(0.1)\nprint(1)", spec)] * 2000)
    elapsed = time.monotonic() - start
    assert stopped.is_set(), "the batch ended before the daemon was stopped"
    assert elapsed < 30, f"took {elapsed:.1f}s to notice the daemon was gone"
    sb.close()  # must not hang or raise with the daemon gone

    with pytest.raises(SandboxUnavailable):
        make_sandbox(SandboxConfig(docker_host=URL, image=IMAGE, pool_size=1))
    # the shared daemon is untouched
    assert subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
