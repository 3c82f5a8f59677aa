"""Hostile programs, one test each: every one is contained, and the host and the pool stay healthy.

The module shares one sandbox with a single warm container (pool_size=1), so a run that dirtied
its container must not affect the next one, and the clean-run checks see the same container.
"""

from __future__ import annotations

import subprocess
import textwrap
import time

import pytest

from sandbox import TestSpec, Verdict, make_sandbox

from .conftest import START_MODES, docker_config

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

TIME_LIMIT = 2.0
OUTPUT_LIMIT = 1 << 20


@pytest.fixture(scope="module", params=START_MODES)
def sb(docker_ready, request):
    config = docker_config(
        start_mode=request.param,
        pool_size=1,
        time_limit_s=TIME_LIMIT,
        memory_mb=256,
        workdir_mb=32,
        output_limit_bytes=OUTPUT_LIMIT,
    )
    with make_sandbox(config) as sandbox:
        yield sandbox
    assert sandbox.containers() == [], "containers left behind after close()"


def expect(output: str, time_limit_s: float | None = None) -> TestSpec:
    spec = {"format": "stdio", "cases": [{"input": "", "output": output}]}
    if time_limit_s:
        spec["time_limit_s"] = time_limit_s
    return TestSpec.from_dict(spec)


def run(sb, program: str, output: str = "", **kw):
    start = time.monotonic()
    result = sb.run(textwrap.dedent(program), expect(output, **kw))
    return result.tests[0], time.monotonic() - start


HEALTHY = "print(sum(range(10)))"


def assert_healthy(sb):
    t, elapsed = run(sb, HEALTHY, "45")
    assert t.verdict is Verdict.PASSED, t
    assert elapsed < 5


def test_fork_bomb(sb):
    t, elapsed = run(
        sb,
        """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """,
    )
    assert t.verdict in (Verdict.TIME_LIMIT, Verdict.RUNTIME_ERROR)
    assert elapsed < TIME_LIMIT + 10
    assert_healthy(sb)


def test_memory_bomb_single_allocation(sb):
    t, _ = run(sb, "x = bytearray(10 ** 11)\n")
    assert t.verdict is Verdict.MEMORY_LIMIT, t
    assert_healthy(sb)


def test_memory_bomb_growing(sb):
    t, _ = run(sb, "a = []\nwhile True:\n    a.append(b'x' * 10 ** 7)\n")
    assert t.verdict is Verdict.MEMORY_LIMIT, t
    assert_healthy(sb)


def test_memory_bomb_across_processes_hits_the_container_cap(sb):
    # each child stays under the per-process limit; together they exceed the container's memory
    t, _ = run(
        sb,
        """
        import os, time
        for _ in range(4):
            if os.fork() == 0:
                block = b"x" * (200 << 20)
                time.sleep(3)
                os._exit(0)
        for _ in range(4):
            os.wait()
        """,
        time_limit_s=10,
    )
    assert t.verdict is Verdict.MEMORY_LIMIT, t
    assert_healthy(sb)


def test_cpu_spin(sb):
    t, elapsed = run(sb, "while True:\n    pass\n")
    assert t.verdict is Verdict.TIME_LIMIT
    assert TIME_LIMIT - 0.1 <= t.wall_time_s < TIME_LIMIT + 1.5
    assert elapsed < TIME_LIMIT + 5
    assert_healthy(sb)


def test_sleep_forever(sb):
    t, _ = run(sb, "import time\ntime.sleep(10 ** 6)\n")
    assert t.verdict is Verdict.TIME_LIMIT
    assert t.wall_time_s < TIME_LIMIT + 1.5
    assert_healthy(sb)


def test_huge_stdout(sb):
    t, elapsed = run(sb, "while True:\n    print('x' * 1000)\n")
    assert t.verdict is Verdict.OUTPUT_LIMIT, t
    assert elapsed < TIME_LIMIT + 5
    assert_healthy(sb)


def test_disk_fill_of_the_work_dir(sb):
    fill = """
        import errno, os
        def fill(directory):
            try:
                for i in range(10 ** 6):
                    with open(os.path.join(directory, f"f{i}"), "wb") as f:
                        f.write(b"0" * (1 << 20))
            except OSError as e:
                return errno.errorcode[e.errno]
            return "unbounded"
        print(fill("."), fill("/dev/shm"))
    """
    t, _ = run(sb, fill, "ENOSPC ENOSPC")
    assert t.verdict is Verdict.PASSED, t
    # the next run gets the space back
    refill = "for i in range(16):\n    with open(f'f{i}', 'wb') as f:\n        f.write(b'0' * (1 << 20))\nprint('ok')\n"
    t, _ = run(sb, refill, "ok")
    assert t.verdict is Verdict.PASSED, t


def test_one_huge_file_is_an_output_limit(sb):
    t, _ = run(sb, "with open('big', 'wb') as f:\n    f.write(b'0' * (8 << 20))\n")
    assert t.verdict is Verdict.OUTPUT_LIMIT, t


def test_network_egress_dns_and_raw_ip(sb):
    program = """
        import os, socket
        def attempt(fn):
            try:
                fn()
            except OSError:
                return "blocked"
            return "reached"
        print(attempt(lambda: socket.getaddrinfo("pypi.org", 443)))
        print(attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=1)))
        print(attempt(lambda: socket.create_connection(("8.8.8.8", 443), timeout=1)))
        print(sorted(os.listdir("/sys/class/net")))
    """
    t, _ = run(sb, program, "blocked\nblocked\nblocked\n['lo']\n")
    assert t.verdict is Verdict.PASSED, t


def test_host_paths_cannot_be_read_or_written(sb):
    program = """
        import os
        def blocked(fn):
            try:
                fn()
            except OSError:
                return "blocked"
            return "open"
        def write(path):
            with open(path, "w") as f:
                f.write("x")
        print(os.path.exists("/var/run/docker.sock"), os.path.exists("/work/main"), os.path.exists("/root/.pyenv"))
        print(blocked(lambda: open("/etc/shadow").read()))
        for path in ("/etc/passwd", "/usr/bin/evil", "/evil", "/tmp/evil", "/proc/sys/kernel/hostname", "/sys/kernel/x"):
            print(path, blocked(lambda: write(path)))
    """
    expected = "False False False\nblocked\n" + "".join(
        f"{p} blocked\n"
        for p in (
            "/etc/passwd",
            "/usr/bin/evil",
            "/evil",
            "/tmp/evil",
            "/proc/sys/kernel/hostname",
            "/sys/kernel/x",
        )
    )
    t, _ = run(sb, program, expected)
    assert t.verdict is Verdict.PASSED, t


CONTAINER_ID = "print(open('/proc/1/stat').read().split(')')[1].split()[19])\n"  # PID 1's start time


def test_other_runs_files_are_gone(sb):
    first, _ = run(sb, CONTAINER_ID)
    plant = """
        import os
        for d in (".", "..", "/work", "/dev/shm", os.environ.get("HOME", ".")):
            try:
                with open(os.path.join(d, "secret-from-run-a"), "w") as f:
                    f.write("TOPSECRET")
            except OSError:
                pass
    """
    t, _ = run(sb, plant)
    assert t.verdict is Verdict.PASSED, t
    look = """
        import os
        found = []
        for root in ("/work", "/dev/shm", "/tmp"):
            for dirpath, _, files in os.walk(root):
                found += [f for f in files if "secret" in f]
        print(found)
    """
    t, _ = run(sb, look, "[]")
    assert t.verdict is Verdict.PASSED, t
    second, _ = run(sb, CONTAINER_ID)
    assert first.detail.split("got ")[1] == second.detail.split("got ")[1], (
        "clean runs must reuse the warm container"
    )


def test_processes_left_running_are_killed(sb):
    daemon = """
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(1.0)
                with open("/dev/shm/leftover", "w") as f:
                    f.write("still here")
                time.sleep(60)
            os._exit(0)
        print("done")
    """
    t, elapsed = run(sb, daemon, "done")
    assert t.verdict is Verdict.PASSED
    assert elapsed < 5, "the run must not wait for its orphans"
    time.sleep(1.5)
    look = """
        import os
        me = os.getpid()
        # what a program or a test left runs as their uid; root's are PID 1 and the fork server's
        def uid(p):
            try:
                return open(f"/proc/{p}/status").read().split("Uid:")[1].split()[0]
            except OSError:
                return "0"
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != me and uid(p) != "0"]
        print(others, os.path.exists("/dev/shm/leftover"))
    """
    t, _ = run(sb, look, "[] False")
    assert t.verdict is Verdict.PASSED, t


def test_signals_to_the_parent(sb):
    before, _ = run(sb, CONTAINER_ID)
    program = """
        import os, signal
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSTOP):
            for pid in (os.getppid(), 1):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        try:
            os.kill(-1, signal.SIGKILL)  # everything but init and ourselves: nothing here
        except ProcessLookupError:
            pass
        print("alive")
    """
    t, _ = run(sb, program, "alive")
    assert t.verdict is Verdict.PASSED, t
    after, _ = run(sb, CONTAINER_ID)
    assert before.detail == after.detail, "the supervisor (PID 1) must survive signals"
    assert_healthy(sb)


def test_privilege_escalation_attempts(sb):
    program = """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        def fails(fn):
            try:
                return fn() == -1
            except OSError:
                return True
        status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
        print("uid", os.getuid(), os.geteuid(), "caps", status["CapEff"].strip(), status["CapBnd"].strip())
        print("ids", os.getresuid(), os.getresgid(), os.getgroups(), status["CapPrm"].strip(), status["CapAmb"].strip())
        print("nnp", status["NoNewPrivs"].strip())
        print("setuid0", fails(lambda: os.setuid(0)))
        print("ptrace1", fails(lambda: libc.ptrace(16, 1, 0, 0)))
        print("mem1", fails(lambda: open("/proc/1/mem", "rb").read(1)))
        print("environ1", fails(lambda: open("/proc/1/environ", "rb").read()))
        print("fd1", fails(lambda: os.listdir("/proc/1/fd")), fails(lambda: open("/proc/1/fd/1", "wb")))
        print("mount", fails(lambda: libc.mount(b"none", b"/work", b"tmpfs", 0, None)))
        print("unshare_user", fails(lambda: libc.unshare(0x10000000)))
        print("chroot", fails(lambda: os.chroot("/")))
        setuid_files = []
        for d in ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/lib"):
            for dirpath, _, files in os.walk(d):
                for f in files:
                    p = os.path.join(dirpath, f)
                    try:
                        if os.lstat(p).st_mode & 0o6000:
                            setuid_files.append(p)
                    except OSError:
                        pass
        print("setuid_files", setuid_files)
    """
    expected = (
        "uid 10001 10001 caps 0000000000000000 0000000000000000\n"
        "ids (10001, 10001, 10001) (10001, 10001, 10001) [] 0000000000000000 0000000000000000\n"
        "nnp 1\nsetuid0 True\nptrace1 True\n"
        "mem1 True\nenviron1 True\nfd1 True True\nmount True\nunshare_user True\nchroot True\nsetuid_files []\n"
    )
    t, _ = run(sb, program, expected, time_limit_s=10)
    assert t.verdict is Verdict.PASSED, t


def test_host_and_pool_are_healthy_afterwards(sb):
    assert subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    results = sb.run_batch([(HEALTHY, expect("45"))] * 4)
    assert all(r.all_passed for r in results)
    assert 1 <= len(sb.containers()) <= 2  # the warm container (+ one being replaced)
