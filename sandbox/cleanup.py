"""After each case: kill what the program left running and remove what it left on disk or in IPC.

The wipe never relies on the program's cooperation: it walks the tree with directory fds
(no recursion, no path length limit, no symlink followed), makes every directory writable before
emptying it, and then checks that the directory is really empty. Anything it cannot prove gone
(a directory still non-empty, SysV IPC objects, which only their owner may remove) is reported,
and the host replaces the container before its next run.
Stdlib only: this module is shipped into the sandbox (see bundle.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

IS_INIT = os.getpid() == 1
WIPE_BUDGET_S = 5.0  # a tmpfs with nr_inodes capped empties in well under a second
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
SPARED: set = set()  # the fork servers (forkserver.py): root, out of every program's reach


def _other_pids() -> list:
    skip = {os.getpid(), *SPARED}
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in skip:
            try:
                with open(f"/proc/{name}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            # kernel threads do not appear in a container's PID namespace; zombies are reaped below
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                pids.append(int(name))
    return pids


def others_alive() -> bool:
    """As PID 1: whether any process but ourselves and the SPARED is alive (zombies are not)."""
    return IS_INIT and bool(_other_pids())


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_uid(uid: int) -> None:
    """SIGKILL every process whose real, effective or saved uid is `uid` (setsid cannot hide one).

    Ourselves and the SPARED (root) are skipped unread: this runs after every judged case."""
    skip = {os.getpid(), *SPARED}
    want = str(uid).encode()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in skip:
            continue
        try:
            fd = os.open(f"/proc/{name}/status", os.O_RDONLY)
        except OSError:
            continue
        try:
            text = os.read(fd, 1 << 12)  # Uid: is in the first dozen lines
        except OSError:
            continue
        finally:
            os.close(fd)
        _, found, rest = text.partition(b"\nUid:")
        if found and want in rest.split(b"\n", 1)[0].split()[:3]:
            with contextlib.suppress(OSError):
                os.kill(int(name), signal.SIGKILL)


def _kill_all() -> None:
    """As PID 1: SIGKILL every process but ourselves and the spared ones.

    kill(-1) reaches them all at once; with a process to spare, each is killed by pid, and the
    callers repeat until none is left (a forking program's new children show up in the next pass)."""
    if not SPARED:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        return
    for pid in _other_pids():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def kill_group(pgid: int) -> None:
    """Kill a process group and, as PID 1, every other process in the namespace (not reaped)."""
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)
    if IS_INIT:
        _kill_all()


def kill_leftovers() -> int:
    """As PID 1, kill and reap every process but ourselves (and SPARED); returns how many there were."""
    if not IS_INIT:
        return 0
    reap()
    found = _other_pids()
    left = found
    for _ in range(200):  # up to about a second for the kernel to tear them down
        if not left:
            break
        _kill_all()
        reap()
        time.sleep(0.005)
        left = _other_pids()
    return len(found)


def _empty(top_fd: int, deadline: float, names: list) -> None:
    """Remove everything below the directory open as top_fd (`names`: its entries), depth first,
    one fd open at a time."""
    fd = top_fd
    stack: list = []  # (name of the directory we are in, names left in its parent)
    try:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("the wipe ran out of time")
            if names:
                name = names.pop()
                try:
                    os.unlink(name, dir_fd=fd)
                    continue
                except IsADirectoryError:
                    pass
                except FileNotFoundError:
                    continue
                with contextlib.suppress(OSError):  # owner or CAP_FOWNER; the walk needs rwx
                    os.chmod(name, 0o777, dir_fd=fd)
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                if fd != top_fd:
                    os.close(fd)
                fd = child
                stack.append((name, names))
                names = os.listdir(fd)
                continue
            if not stack:
                return
            name, names = stack.pop()
            # nothing runs any more that could move the tree, so ".." is the directory we came from
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd) if stack else top_fd
            os.close(fd)
            fd = parent
            os.rmdir(name, dir_fd=fd)
    finally:
        if fd != top_fd:
            os.close(fd)


def wipe(directory: str, budget_s: float = WIPE_BUDGET_S) -> bool:
    """Empty `directory` (not the directory itself); True if it is provably empty afterwards."""
    try:
        top = os.open(directory, _DIR_FLAGS)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        names = os.listdir(top)
        if not names:  # nothing runs that could add an entry: empty now is empty (most of /dev/shm's cases)
            return True
        _empty(top, time.monotonic() + budget_s, names)
        return not os.listdir(top)
    except OSError:
        return False
    finally:
        os.close(top)


def ipc_left() -> list:
    """SysV IPC objects (they outlive their processes; only their owner or CAP_SYS_ADMIN removes them)."""
    left = []
    for kind in ("shm", "sem", "msg"):
        try:
            fd = os.open(f"/proc/sysvipc/{kind}", os.O_RDONLY)
        except OSError:
            continue
        try:
            if os.read(fd, 1 << 12).count(b"\n") > 1:  # a header line, then one per object
                left.append(kind)
        except OSError:
            continue
        finally:
            os.close(fd)
    return left
