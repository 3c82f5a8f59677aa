"""Start-up errors, crash safety and reaping: no container outlives its owner."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time

import pytest

from sandbox import ImageMissing, SandboxConfig, SandboxUnavailable, TestSpec, make_sandbox
from sandbox.docker_backend import SUPERVISOR_CAPS, connect, reap_stale

from .conftest import IMAGE, REPO, TEST_LABEL, docker_config

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


def labelled(selector: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={selector}"], capture_output=True, text=True, timeout=30
    )
    return out.stdout.split()


def test_unreachable_daemon_is_a_clear_error(tmp_path):
    with pytest.raises(SandboxUnavailable, match="start_dockerd.sh"):
        make_sandbox(SandboxConfig(docker_host=f"unix://{tmp_path}/no-daemon.sock"))


def test_missing_image_names_the_build_script(docker_ready):
    with pytest.raises(ImageMissing, match="build_sandbox_image.sh") as err:
        make_sandbox(docker_config(image="srpo-sandbox:does-not-exist"))
    assert "srpo-sandbox:does-not-exist" in str(err.value)


def test_containers_are_locked_down(docker_ready):
    with make_sandbox(docker_config(pool_size=1)) as sb:
        (cid,) = sb.containers()
        info = sb.api.inspect_container(cid)
    host = info["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == sorted(SUPERVISOR_CAPS)  # PID 1's; programs and tests get none
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == host["MemorySwap"] > 0
    assert host["PidsLimit"] == 64
    assert host["NanoCpus"] == 10**9
    assert host["AutoRemove"] is True
    assert "nr_inodes" in host["Tmpfs"]["/work"] and "nr_inodes" in host["Tmpfs"]["/dev/shm"]
    assert info["Config"]["User"] == "0:0"  # the supervisor; programs run as 10001, tests as 10002
    assert "SRPO_SANDBOX_UIDS=10001:10002" in info["Config"]["Env"]
    assert info["Config"]["StdinOnce"] is True


CRASHER = """
import json, sys, time
sys.path.insert(0, {repo!r})
from sandbox import SandboxConfig, make_sandbox
sb = make_sandbox(SandboxConfig(image={image!r}, pool_size=2, label={label!r}))
print(json.dumps(sb.session), flush=True)
time.sleep(600)
"""


def test_containers_disappear_when_the_caller_is_killed(docker_ready):
    code = CRASHER.format(repo=str(REPO), image=IMAGE, label=TEST_LABEL)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        session = json.loads(proc.stdout.readline())
        selector = f"{TEST_LABEL}.session={session}"
        assert len(labelled(selector)) == 2
    finally:
        proc.kill()  # SIGKILL: no cleanup code runs in the caller
        proc.wait()
    deadline = time.monotonic() + 30
    while labelled(selector) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert labelled(selector) == []


def test_stale_containers_are_reaped(docker_ready):
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs
    api = connect(SandboxConfig())
    owner = {TEST_LABEL: "1", f"{TEST_LABEL}.owner": f"{os.uname().nodename}:{dead.pid}"}
    alive = {TEST_LABEL: "1", f"{TEST_LABEL}.owner": f"{os.uname().nodename}:{os.getpid()}"}
    stale = api.create_container(IMAGE, command=["true"], labels=owner)["Id"]
    live = api.create_container(IMAGE, command=["true"], labels=alive)["Id"]
    try:
        assert reap_stale(api, TEST_LABEL) >= 1
        ids = {c["Id"] for c in api.containers(all=True, filters={"label": TEST_LABEL})}
        assert stale not in ids
        assert live in ids  # its owner (this process) still runs
    finally:
        for cid in (stale, live):
            with contextlib.suppress(Exception):
                api.remove_container(cid, force=True)


def test_close_removes_everything_and_recycling_keeps_the_pool_warm(docker_ready):
    spec = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "", "output": "1"}]})
    with make_sandbox(docker_config(pool_size=1, recycle_after=3)) as sb:
        first = set(sb.containers())
        for _ in range(7):
            assert sb.run("print(1)", spec).all_passed
        time.sleep(1.0)
        later = set(sb.containers())
        assert later and not (later & first), "a container must be replaced after recycle_after runs"
        session = sb.session
    assert labelled(f"{TEST_LABEL}.session={session}") == []


def test_a_container_killed_from_outside_is_a_sandbox_error_and_is_replaced(docker_ready):
    import threading

    from sandbox import Verdict

    spec = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "", "output": "1"}]})
    with make_sandbox(docker_config(pool_size=1)) as sb:
        (cid,) = sb.containers()
        killer = threading.Timer(1.0, lambda: subprocess.run(["docker", "kill", cid], capture_output=True))
        killer.start()
        result = sb.run("import time\ntime.sleep(4)\nprint(1)\n", spec)
        killer.join()
        assert [t.verdict for t in result.tests] == [Verdict.SANDBOX_ERROR]
        assert "failed" in result.tests[0].detail
        assert sb.run("print(1)", spec).all_passed  # a fresh container took its place
        assert cid not in sb.containers()
