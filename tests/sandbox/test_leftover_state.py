"""No run sees another: what one program leaves in a warm container is gone before the next.

One sandbox with a single warm container (pool_size=1), so every run below lands in the same
container unless the sandbox recycled it. Each test plants something the old cleanup could not
remove (read-only directories beside the case dir or in /dev/shm, a read-only subtree, a deep or
wide tree, SysV IPC and POSIX message queues) and checks that the next, unrelated program finds
nothing and gets its own verdict, never a sandbox_error.
"""

from __future__ import annotations

import textwrap
import time

import pytest

from sandbox import TestSpec, Verdict, make_sandbox

from .conftest import START_MODES, docker_config

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]


@pytest.fixture(scope="module", params=START_MODES)
def sb(docker_ready, request):
    with make_sandbox(docker_config(start_mode=request.param, pool_size=1, time_limit_s=10.0)) as sandbox:
        yield sandbox


def run(sb, program: str, output: str = ""):
    spec = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "", "output": output}]})
    return sb.run(textwrap.dedent(program), spec).tests[0]


CONTAINER = "print(open('/proc/1/stat').read().split(')')[1].split()[19])\n"  # PID 1's start time


def container(sb) -> str:
    return run(sb, CONTAINER).detail.split("got ")[1]


def innocent(sb) -> None:
    t = run(sb, "print(sum(range(10)))\n", "45")
    assert t.verdict is Verdict.PASSED, t


PLANT_READ_ONLY_DIR = """
    import os
    for d in (os.path.join(os.path.dirname(os.getcwd()), "keep"), "/dev/shm/keep"):
        try:
            os.mkdir(d)
            with open(d + "/note", "w") as f:
                f.write("x")
            os.chmod(d, 0o555)
        except OSError:
            pass
"""

LOOK_FOR_IT = """
    import os
    print([d for d in (os.path.join(os.path.dirname(os.getcwd()), "keep"), "/dev/shm/keep") if os.path.exists(d)])
"""


def test_a_read_only_dir_beside_the_case_dir_or_in_dev_shm_is_gone(sb):
    run(sb, PLANT_READ_ONLY_DIR)
    for _ in range(3):  # and still gone runs later
        t = run(sb, LOOK_FOR_IT, "[]")
        assert t.verdict is Verdict.PASSED, t


def test_a_read_only_subtree_does_not_break_the_next_run(sb):
    plant = """
        import os
        os.makedirs("keep/x")
        with open("keep/x/f", "w") as f:
            f.write("x")
        os.chmod("keep/x", 0o500)
        os.chmod("keep", 0o500)
        print("planted")
    """
    assert run(sb, plant, "planted").verdict is Verdict.PASSED
    innocent(sb)
    innocent(sb)


def test_a_deep_tree_is_the_programs_own_business(sb):
    before = container(sb)
    deep = """
        import os
        fd = os.open(".", os.O_RDONLY)
        for i in range(1200):
            os.mkdir("d", dir_fd=fd)
            fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
            os.close(old)
        with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "w") as f:
            f.write("x")
        print("ok")
    """
    t = run(sb, deep, "ok")
    assert t.verdict is Verdict.PASSED, t
    innocent(sb)
    assert container(sb) == before, "a fully wiped container is reused"


def test_many_inodes_are_wiped_quickly(sb):
    wide = """
        import os
        n = 0
        try:
            for i in range(200):
                os.mkdir(f"d{i}")
                for j in range(60):
                    open(f"d{i}/f{j}", "w").close()
                    n += 1
        except OSError:
            pass
        os.chmod(".", 0o500)
        print("ok")
    """
    start = time.monotonic()
    assert run(sb, wide, "ok").verdict is Verdict.PASSED
    innocent(sb)
    assert time.monotonic() - start < 8.0


SYSV_AND_MQUEUE = """
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    shmid = libc.shmget(0x5EC2E7, 4096, 0o1666)  # IPC_CREAT | 0666
    semid = libc.semget(0x5EC2E8, 1, 0o1666)
    msgid = libc.msgget(0x5EC2E9, 0o1666)
    libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    mq = libc.mq_open(b"/leak", os.O_CREAT | os.O_RDWR, 0o666, None)
    print(shmid >= 0, semid >= 0, msgid >= 0, mq >= 0)
"""

IPC_LEFT = """
    import os
    left = [open(f"/proc/sysvipc/{k}").read().count("\\n") - 1 for k in ("shm", "sem", "msg")]
    print(left, os.listdir("/dev/mqueue"))
"""


def test_ipc_objects_do_not_survive_into_the_next_run(sb):
    """SysV segments, semaphores and queues outlive their process: the container is recycled."""
    before = container(sb)
    planted = run(sb, SYSV_AND_MQUEUE, "True True True True")
    assert planted.verdict is Verdict.PASSED, planted  # the program could create them
    t = run(sb, IPC_LEFT, "[0, 0, 0] []")
    assert t.verdict is Verdict.PASSED, t
    assert container(sb) != before, "a container with IPC objects left must be replaced"
