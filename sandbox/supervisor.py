"""In-sandbox supervisor: runs each test case in fresh processes and reports raw outcomes.

Shipped into the sandbox with the modules it uses (bundle.py: `python3 -I -c <source>`, stdlib
only). It is the container's PID 1 (or PID 1 of a private PID namespace for the local backend):
that makes it immune to signals sent by the programs it runs, and lets `kill(-1, SIGKILL)` remove
every process a run left behind.

A `stdio` case is the program alone. A `call` case is the program under runner.py, as the
program uid: we send it the one call request and return its raw replies, which the host decodes
and judges (judge.replay_call). An `assert` case is two processes: the program, under runner.py,
and the test, under judge.py, forked from here and dropped to a second uid. They talk over two
pipes in plain data (plain.py); only the test process holds the pipe to us that carries the verdict.

Protocol: one JSON object per line on stdin, one JSON object per line on stdout.
  {"op": "ping"}                      -> {"op": "pong", ...}
  {"op": "run", "id": ..., ...}       -> {"op": "result", "id": ..., "cases": [...], "dirty": bool}
Expected stdout and `call` return values never enter the sandbox: the supervisor returns what
each case printed or returned and how it ended, and the host judges. `assert` test code runs
only in the test process.
"""

import contextlib
import ctypes
import gc
import itertools
import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time

from sandbox import bundle, cleanup, forkserver, judge

WORK_ROOT = os.environ.get("SRPO_SANDBOX_WORK") or "/work"
IS_INIT = os.getpid() == 1
WIPE_DIRS = [d for d in os.environ.get("SRPO_SANDBOX_WIPE", "").split(":") if d]  # e.g. /dev/shm


def _uids() -> tuple:
    """(program uid, test uid) from SRPO_SANDBOX_UIDS="10001:10002", or (None, None): one uid for all."""
    text = os.environ.get("SRPO_SANDBOX_UIDS", "")
    if not text:
        return None, None
    program, test = (int(x) for x in text.split(":"))
    return program, test


PROGRAM_UID, TEST_UID = _uids()
# RLIMIT_NPROC counts a uid's processes system-wide: only where the program uid is this sandbox's
# alone (the local backend as root); Docker containers share uids, and their pids cgroup caps them.
LIMIT_NPROC = os.environ.get("SRPO_SANDBOX_NPROC") == "1"
CASE_IDS = itertools.count()

# How a stdio program (saved as prog.py) is started, per language. Python is what every image
# ships; C++ needs an image built with `build_sandbox_image.sh --cpp` (g++ and a precompiled
# bits/stdc++.h made with CPP_FLAGS), and runs the binary compiled once per run (compile_cpp).
STDIO_COMMANDS = {"python": (sys.executable, "-I", "prog.py")}
GXX = shutil.which("g++", path="/usr/bin:/bin")
CPP_FLAGS = ("-std=gnu++17", "-O2")  # keep equal to scripts/build_sandbox_image.sh (the PCH's flags)
# Where compiled programs live during their run: root's, executable (/work is noexec), wiped after.
BIN_DIR = os.environ.get("SRPO_SANDBOX_BIN") or ""
BIN_IDS = itertools.count()

# call/assert programs start under runner.py, compiled once here (bundle.py)
RUNNER_PAYLOAD = bundle.payload(bundle.RUNNER)
# "fork_server" (forkserver.py: one interpreter per sandbox forks each Python program) or
# "fresh_interpreter" (each Python program starts its own); see SandboxConfig.start_mode.
START_MODE = os.environ.get("SRPO_SANDBOX_START") or "fresh_interpreter"
FORK_SERVER = None  # the running server in fork_server mode, started by main()
TEST_SERVER = None  # its twin that forks the test processes of assert cases (fork_server mode)
PROGRAM_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "MALLOC_ARENA_MAX": "2",  # per-thread malloc arenas would eat the address-space limit
}


_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded once: every test process calls prctl


def _make_undumpable() -> None:
    # Same-uid programs (local backend) could otherwise ptrace us or open /proc/1/fd/* and forge replies.
    with contextlib.suppress(OSError, AttributeError):
        _LIBC.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


def _empty_bounding_set() -> None:
    """Drop every capability from the bounding set (ours stay): no process we start can gain one."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, einval = 24, 22
    for cap in range(64):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0 and ctypes.get_errno() == einval:
            break  # past the last capability this kernel knows


OOM_FILES = ["/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"]  # cgroup v1, v2


def _oom_kills() -> int:
    """The container's OOM kills so far (-1: unknown); read once per case, so kept lean."""
    for path in OOM_FILES:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            text = os.read(fd, 1 << 12)
        finally:
            os.close(fd)
        if OOM_FILES[0] != path:
            OOM_FILES.remove(path)
            OOM_FILES.insert(0, path)  # the one this container has, first from now on
        for line in text.splitlines():
            if line.startswith(b"oom_kill "):
                return int(line.split()[1])
        return -1
    return -1


PRLIMIT = shutil.which("prlimit", path="/usr/bin:/bin:/usr/sbin:/sbin")


@contextlib.contextmanager
def _as_program_uid():
    """Spawn with the program's uid and gid as our real and effective ids, the saved ones still 0.

    Popen then keeps its vfork path, and exec makes all three ids the program's (no capability
    survives it: no file capabilities, and main() emptied the bounding set); we switch back at once.
    Popen(user=...) would fork the whole supervisor, util-linux setpriv cost another exec: about
    2 and 1.5 ms per test here. No program process is alive while we wear its uid."""
    if PROGRAM_UID is None:
        yield
        return
    uids, gids = os.getresuid(), os.getresgid()
    os.setresgid(PROGRAM_UID, PROGRAM_UID, gids[2])
    os.setresuid(PROGRAM_UID, PROGRAM_UID, uids[2])
    try:
        yield
    finally:
        os.setresuid(*uids)  # allowed: the saved uid is still ours; capabilities come back with it
        os.setresgid(*gids)


def _rlimits(memory_mb: int, fsize: int, nproc: int) -> dict:
    limits = {"as": memory_mb << 20, "fsize": fsize, "core": 0, "nofile": 256}
    if LIMIT_NPROC:
        limits["nproc"] = nproc
    return limits


def _limited(argv: list, limits: dict, cpu_s: int) -> tuple:
    """argv wrapped so the program starts with its rlimits (soft = hard), plus a preexec hook.

    util-linux `prlimit` sets them and execs the program, which keeps the fast spawn path;
    a Python preexec hook (forks, runs Python in the child) costs about 3 ms per test more and
    is only the fallback for images without prlimit."""
    if PRLIMIT:
        flags = [f"--{k}={v}" for k, v in limits.items()] + [f"--cpu={cpu_s}:{cpu_s + 1}"]
        return [PRLIMIT, *flags, "--", *argv], None
    return argv, lambda: _set_rlimits(limits, cpu_s)


def _set_rlimits(limits: dict, cpu_s: int) -> None:
    for k, v in limits.items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{k.upper()}"), (v, v))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))


def _prefer_as_oom_victim(pid: int) -> None:
    """The program, never the supervisor, is the OOM killer's choice (raising needs no privilege)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/oom_score_adj", "w") as f:
        f.write("1000")


def _start_test_process(req: dict, case: dict, fds: tuple, limits: dict, cpu_s: int) -> int:
    """Fork the test process of an `assert` case: the test uid, only its three pipes, stdio on /dev/null; returns its pid."""
    pid = os.fork()
    if pid:
        return pid
    call_w, reply_r, report_w = fds
    try:  # the child: never return into the supervisor's loop
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # the host's pipes are stdin/stdout here: the test must not touch them
            os.dup2(null, fd)
        low = 3
        for fd in sorted(fds):  # every fd but stdio and the three pipes
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 1 << 16)
        if TEST_UID is not None:
            os.setgroups([])
            os.setgid(TEST_UID)
            os.setuid(TEST_UID)  # drops every capability; the kernel also marks us undumpable
        _make_undumpable()
        os.chdir("/")
        _set_rlimits(_test_limits(limits), cpu_s)
        channel = judge.Channel(call_w, reply_r, int(req["output_limit"]) + (64 << 10))
        report = judge.run_assert(channel, case["code"], req.get("entry_point"))
    except BaseException as e:
        report = {"kind": "crashed", "error": f"the test process failed: {type(e).__name__}: {e}"}
    try:
        data = json.dumps(report).encode()
        while data:
            data = data[os.write(report_w, data) :]
    finally:
        os._exit(0)


def _stop_program(proc) -> None:
    """End the program and everything it started, sparing the test process (another uid)."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    if IS_INIT and PROGRAM_UID is not None:  # /proc is our namespace's only when we are its PID 1
        cleanup.kill_uid(PROGRAM_UID)


def _collect(
    proc, deadline: float, out_limit: int, err_keep: int, report_fd=None, call=None, report_lines=0
) -> dict:
    """Read the program's stdout/stderr (and the test's report) until the case is over.

    Over means: the program exited (stdio), the test process closed its report pipe (assert),
    the program's replies are in (call: `report_fd` is its reply pipe, `call` the (fd, request)
    we write to it, done after `report_lines` lines or the reply limit), the deadline passed, or
    stdout grew too long. A pidfd wakes us when the program exits,
    so grandchildren that keep the pipes open cannot stall the run; without pidfd support the exit
    is polled every 20 ms. When a program under test exits early, its remaining processes are
    killed so the test process sees its pipe close."""
    out, err, report = bytearray(), bytearray(), bytearray()
    out_total = 0
    sel = selectors.PollSelector()  # no epoll fd to make and close per case
    for f in (proc.stdout, proc.stderr):
        os.set_blocking(f.fileno(), False)
        sel.register(f.fileno(), selectors.EVENT_READ, "out" if f is proc.stdout else "err")
    if report_fd is not None:
        os.set_blocking(report_fd, False)
        sel.register(report_fd, selectors.EVENT_READ, "report")
    report_limit = out_limit + (64 << 10 if report_lines else 1 << 20)  # judge.Channel's bound
    pending = b""
    if call is not None:
        call_fd, pending = call
        os.set_blocking(call_fd, False)
        sel.register(call_fd, selectors.EVENT_WRITE, "call")
    pidfd = exit_fd = getattr(proc, "exit_fd", None)  # a fork server child: its status message
    if exit_fd is None:
        with contextlib.suppress(OSError, AttributeError):
            pidfd = os.pidfd_open(proc.pid)
    if pidfd is not None:
        sel.register(pidfd, selectors.EVENT_READ, "exit")
    state = "running"
    program_ended = False

    newlines = 0

    def read(fd: int, what: str) -> bool:
        nonlocal out_total, err, newlines
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return False
        if not data:
            sel.unregister(fd)
            return False
        if what == "out":
            out_total += len(data)
            if len(out) <= out_limit:
                out.extend(data[: out_limit + 1 - len(out)])
        elif what == "err":
            err.extend(data)
            if len(err) > 2 * err_keep:
                err = err[-err_keep:]
        else:
            kept = data[: max(0, report_limit + 1 - len(report))]
            report.extend(kept)
            newlines += kept.count(b"\n")
        return True

    def replies_in() -> bool:
        return bool(report_lines) and (newlines >= report_lines or len(report) > report_limit)

    def send(fd: int) -> None:
        nonlocal pending
        try:
            pending = pending[os.write(fd, pending[: 1 << 16]) :]
        except BlockingIOError:
            return
        except OSError:  # the program closed its end: it will not read the call
            pending = b""
        if not pending:
            sel.unregister(fd)

    def program_exited() -> None:
        nonlocal state, program_ended
        program_ended = True
        if report_fd is None:
            state = "exited"
        else:  # its helpers could hold the reply pipe: end them so the test sees EOF
            _stop_program(proc)

    try:
        while state == "running":
            left = deadline - time.monotonic()
            if left <= 0:
                state = "timeout"
                break
            for key, _ in sel.select(left if pidfd is not None else min(left, 0.02)):
                if key.data == "exit":
                    if exit_fd is not None and proc.poll() is None:
                        continue  # the fork server's first reply (the pid), not the exit
                    sel.unregister(pidfd)
                    program_exited()
                elif key.data == "call":
                    send(key.fd)
                elif not read(key.fd, key.data) and key.data == "report" and key.fd not in sel.get_map():
                    state = "judged"
                elif key.data == "report" and replies_in():
                    state = "judged"
                    break
                if out_total > out_limit:
                    state = "output_limit"
                    break
            if state == "running" and pidfd is None and not program_ended and proc.poll() is not None:
                program_exited()
        if state in ("exited", "judged"):  # drain what the program wrote before it ended (bounded)
            for fd, key in list(sel.get_map().items()):
                if key.data in ("out", "err"):
                    for _ in range(64):
                        if fd not in sel.get_map() or not read(fd, key.data):
                            break
            if out_total > out_limit:
                state = "output_limit"
    finally:
        sel.close()
        if pidfd is not None and exit_fd is None:
            os.close(pidfd)
    return {
        "state": state,
        "stdout": bytes(out[:out_limit]),
        "stdout_size": out_total,
        "stderr": bytes(err[-err_keep:]),
        "report": bytes(report),
        "program_ended": program_ended,
    }


def _spawn(argv: list, case_dir: str, stdin_path: str, pass_fds: tuple, preexec) -> subprocess.Popen:
    env = {**PROGRAM_ENV, "HOME": case_dir, "TMPDIR": case_dir}
    with open(stdin_path, "rb") as fin, _as_program_uid():
        proc = subprocess.Popen(
            argv,
            stdin=fin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=case_dir,
            env=env,
            pass_fds=pass_fds,
            start_new_session=True,
            preexec_fn=preexec,
        )
    _prefer_as_oom_victim(proc.pid)
    return proc


def _fork(mode: str, case_dir: str, stdin_path: str, pass_fds: tuple, limits: dict, cpu_s: int):
    """The program as a child of the fork server: same limits, session, dir and uid as _spawn."""
    stdin = os.open(stdin_path, os.O_RDONLY)
    try:
        return FORK_SERVER.spawn(mode, case_dir, [stdin, *pass_fds], limits, cpu_s, PROGRAM_UID)
    finally:
        os.close(stdin)


def start_fork_server() -> None:
    """Start the fork servers while we still hold SETUID/SETGID to pass on (before main() drops
    them): one for programs, one for the test processes of assert cases, which would otherwise be
    forks of this process (a larger one, whose pages we would then copy as we write them)."""
    global FORK_SERVER, TEST_SERVER
    argv = [sys.executable, "-I", "-c", bundle.FORK_SERVER_BOOT, bundle.payload(bundle.FORK_SERVER)]
    FORK_SERVER = forkserver.ForkServer(argv, PROGRAM_ENV, cleanup.SPARED)
    TEST_SERVER = forkserver.ForkServer(argv, PROGRAM_ENV, cleanup.SPARED, role="test")


def _test_limits(limits: dict) -> dict:
    """The test process's rlimits: the program's, with room for the test's own values, small files."""
    return {**limits, "as": limits["as"] + (64 << 20), "fsize": 1 << 20}


def _fork_test(req: dict, case: dict, fds: tuple, limits: dict, cpu_s: int):
    """The test process as a child of the test server; its case travels in a file only it gets."""
    case_fd = os.memfd_create("case", os.MFD_CLOEXEC)
    try:
        data = json.dumps(
            {
                "code": case["code"],
                "entry_point": req.get("entry_point"),
                "max_reply": int(req["output_limit"]) + (64 << 10),
            }
        ).encode()
        while data:
            data = data[os.write(case_fd, data) :]
        os.lseek(case_fd, 0, os.SEEK_SET)
        return TEST_SERVER.spawn_test([*fds, case_fd], _test_limits(limits), cpu_s, TEST_UID)
    finally:
        os.close(case_fd)


def compile_cpp(req: dict) -> dict:
    """Compile the run's C++ program once, as the program uid under limits, into BIN_DIR.

    Returns {"ok": True, "binary": path, "wall_s"} or {"ok": False, "message": the compiler's
    output tail (or why it stopped), "wall_s"}. The compiler sees only the program's source."""
    if not (GXX and BIN_DIR):
        return {"ok": False, "error": "language 'cpp' is not in this image (build_sandbox_image.sh --cpp)"}
    build = os.path.join(WORK_ROOT, f"build{next(CASE_IDS)}")
    os.mkdir(build, 0o700)
    with open(os.path.join(build, "prog.cpp"), "w", encoding="utf-8") as f:
        f.write(req["program"])
    if PROGRAM_UID is not None:  # the compiler's; searchable, so we can read the binary back
        os.chown(build, PROGRAM_UID, PROGRAM_UID)
        os.chmod(build, 0o711)
    time_limit = float(req.get("compile_time_limit_s") or 20.0)
    limits = _rlimits(int(req.get("compile_memory_mb") or 2048), 64 << 20, int(req["nproc"]))
    argv, preexec = _limited([GXX, *CPP_FLAGS, "-o", "prog", "prog.cpp"], limits, int(time_limit) + 1)
    start = time.monotonic()
    proc = _spawn(argv, build, os.devnull, (), preexec)
    try:
        got = _collect(proc, start + time_limit, 1 << 16, int(req["stderr_tail"]))
        if got["state"] != "exited":
            cleanup.kill_group(proc.pid)
        code = proc.wait()
    finally:
        proc.stdout.close()
        proc.stderr.close()
    wall = time.monotonic() - start
    messages = got["stderr"].decode("utf-8", "replace")
    if got["state"] == "timeout":
        return {
            "ok": False,
            "message": f"compilation took longer than {time_limit:g}s\n{messages}",
            "wall_s": wall,
        }
    if code != 0:
        why = f"compiler killed by signal {-code}\n" if code < 0 else ""
        return {"ok": False, "message": why + (messages or f"compiler exit code {code}"), "wall_s": wall}
    binary = os.path.join(BIN_DIR, f"prog{next(BIN_IDS)}")
    with open(os.path.join(build, "prog"), "rb") as src, open(binary, "wb") as dst:
        shutil.copyfileobj(src, dst)  # root's and read-only: no program can swap it between cases
    os.chmod(binary, 0o555)
    return {"ok": True, "binary": binary, "wall_s": wall}


def _write(path: str, text: str) -> None:
    """A new file holding `text` (UTF-8), as open(path, "w") makes it, without the io stack's objects."""
    data = text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def run_case(req: dict, case: dict, case_dir: str) -> dict:
    """Run one case in `case_dir` and describe how it ended."""
    fmt = req["format"]
    judged = fmt != "stdio"
    limit = int(req["output_limit"])
    time_limit = float(req["time_limit_s"])
    cpu_s = int(time_limit) + 1
    limits = _rlimits(int(req["memory_mb"]), limit + 1, int(req["nproc"]))
    if not req.get("binary"):
        _write(os.path.join(case_dir, "prog.py"), req["program"])
    # call and reply pipes of call/assert programs; assert's test process reports on a third
    pipes = [fd for _ in range({"stdio": 0, "call": 2}.get(fmt, 3)) for fd in os.pipe()]
    collect: dict = {}
    try:
        if judged:
            call_r, call_w, reply_r, reply_w = pipes[:4]
            argv = [sys.executable, "-I", "-c", bundle.RUNNER_BOOT, RUNNER_PAYLOAD, req["format"]]
            argv += [str(call_r), str(reply_w)]
            stdin_path, pass_fds = os.devnull, (call_r, reply_w)
        else:
            command = (
                (req["binary"],) if req.get("binary") else STDIO_COMMANDS.get(req.get("language") or "python")
            )
            if command is None:
                return {
                    "status": "error",
                    "message": f"language {req.get('language')!r} is not in this image",
                }
            argv, stdin_path, pass_fds = list(command), os.path.join(case_dir, ".stdin"), ()
            _write(stdin_path, case["input"])
        if PROGRAM_UID is not None:  # the program's from here on; searchable, so we can start it there
            os.chown(case_dir, PROGRAM_UID, PROGRAM_UID)
            os.chmod(case_dir, 0o711)
        start = time.monotonic()
        try:
            if FORK_SERVER is not None and (judged or (req.get("language") or "python") == "python"):
                proc = _fork(req["format"], case_dir, stdin_path, pass_fds, limits, cpu_s)
            else:
                argv, preexec = _limited(argv, limits, cpu_s)
                proc = _spawn(argv, case_dir, stdin_path, pass_fds, preexec)
        except OSError as e:
            return {"status": "error", "message": f"could not start the program: {e}", "wall_s": 0.0}
        test = None  # the test process: a child of the test server, or our own pid
        try:
            if fmt == "call":  # we are the caller: the request now, the replies to the host
                for fd in (call_r, reply_w):
                    os.close(fd)
                pipes = [reply_r, call_w]
                request = judge.call_request(req["fn_name"], case["args"], case["kwargs"])
                collect = {"report_fd": reply_r, "call": (call_w, request), "report_lines": 2}
            elif judged:
                report_r, report_w = pipes[4:]
                test_fds = (call_w, reply_r, report_w)
                if TEST_SERVER is not None:
                    test = _fork_test(req, case, test_fds, limits, cpu_s)
                else:
                    test = _start_test_process(req, case, test_fds, limits, cpu_s)
                for fd in (call_r, call_w, reply_r, reply_w, report_w):  # each end stays with its user
                    os.close(fd)
                pipes = [report_r]
                collect = {"report_fd": report_r}
            got = _collect(proc, start + time_limit, limit, int(req["stderr_tail"]), **collect)
            wall = time.monotonic() - start
            if got["state"] in ("timeout", "output_limit"):
                cleanup.kill_group(proc.pid)
                if test is not None:
                    with contextlib.suppress(OSError):
                        os.kill(test if isinstance(test, int) else test.pid, signal.SIGKILL)
            elif judged:  # the test is over; the program may still be serving
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()  # our own children's status first; then everything else is reaped
            if isinstance(test, int):
                os.waitpid(test, 0)
            elif test is not None:
                test.wait()
            if judged and cleanup.others_alive():  # helpers that left its group: as _stop_program
                _stop_program(proc)  # (only now, so the common case reads no process's status)
        finally:
            proc.stdout.close()
            proc.stderr.close()
    finally:
        for fd in pipes:
            os.close(fd)
    if not IS_INIT:
        cleanup.kill_group(proc.pid)  # the session's stragglers; PID 1 does better below
    leftover = cleanup.kill_leftovers()
    res = {
        "status": {"timeout": "timeout", "output_limit": "output_limit"}.get(got["state"]),
        "exit_code": code,
        "signal": -code if code < 0 else None,
        "wall_s": wall,
        "stdout": got["stdout"].decode("utf-8", "replace"),
        "stdout_size": got["stdout_size"],
        "stderr_tail": got["stderr"].decode("utf-8", "replace"),
        "leftover": leftover,
    }
    if not judged:
        res["status"] = res["status"] or ("signaled" if code < 0 else "exited")
        return res
    res["status"] = res["status"] or "judged"
    res["stdout"] = ""  # what the program printed decides nothing here
    if not got["program_ended"]:  # still serving when the test ended: we stopped it
        res["exit_code"] = res["signal"] = None
    if fmt == "call":  # undecoded: the host judges (judge.replay_call)
        res["reply"] = got["report"].decode("utf-8", "replace")
        res["returned"] = judge.call_returned(got["report"])
        return res
    try:
        res["report"] = json.loads(got["report"]) if got["report"] else None
    except ValueError:
        res["report"] = None
    return res


def finished_cleanly(req: dict, res: dict) -> bool:
    """A stdio program that exited 0, or a test that ran to its end; anything else stops fail_fast."""
    if req["format"] == "stdio":
        return res["status"] == "exited" and res.get("exit_code") == 0
    if req["format"] == "call":
        return res["status"] == "judged" and bool(res.get("returned"))
    return res["status"] == "judged" and (res.get("report") or {}).get("kind") == "passed"


def clean_up() -> list:
    """Kill, wipe and check everything a case could have left; returns what could not be proven gone."""
    left = ["processes"] if cleanup.kill_leftovers() else []
    left += [f"{d} not empty" for d in [WORK_ROOT, *WIPE_DIRS] if not cleanup.wipe(d)]
    return left + [f"SysV {kind}" for kind in cleanup.ipc_left()]


def handle_run(req: dict) -> dict:
    cases = []
    dirty = []  # why this container must not run another program
    compiled = None
    if req.get("language") == "cpp":
        try:
            compiled = compile_cpp(req)
        except OSError as e:
            compiled = {"ok": False, "error": f"supervisor: {e}"}
        finally:
            dirty += clean_up()  # the compiler's files and processes go like a case's
        if not compiled["ok"]:
            return {"op": "result", "id": req.get("id"), "cases": [], "compile": compiled,
                    "dirty": bool(dirty), "why_dirty": sorted(set(dirty))}  # fmt: skip
        req = {**req, "binary": compiled["binary"]}
    try:
        run_cases(req, cases, dirty)
    finally:
        if compiled is not None:
            with contextlib.suppress(OSError):
                os.unlink(compiled["binary"])
    return {
        "op": "result",
        "id": req.get("id"),
        "cases": cases,
        "compile": compiled,
        "dirty": bool(dirty),
        "why_dirty": sorted(set(dirty)),
    }


def run_cases(req: dict, cases: list, dirty: list) -> None:
    """Run every case of the request into `cases`, noting in `dirty` what a case left behind."""
    oom_seen = _oom_kills()  # a case's OOM kills: the count after it (and its clean-up) against before
    for case in req["cases"]:
        if cases and req.get("stop_on_error") and not finished_cleanly(req, cases[-1]):
            cases.append({"status": "skipped", "wall_s": 0.0})
            continue
        case_dir = os.path.join(WORK_ROOT, f"case{next(CASE_IDS)}")  # never a name a past run used
        try:
            os.mkdir(case_dir, 0o700)
            res = run_case(req, case, case_dir)
        except OSError as e:
            res = {"status": "error", "message": f"supervisor: {e}", "wall_s": 0.0}
        finally:
            dirty += clean_up()  # nothing survives into the next case or run
        oom_now = _oom_kills()
        res["oom"] = oom_now > oom_seen >= 0
        oom_seen = oom_now
        if res["status"] in ("timeout", "error", "output_limit"):
            dirty.append(res["status"])
        dirty += ["oom"] * bool(res.get("oom")) + ["leftover processes"] * bool(res.get("leftover"))
        if (res.get("report") or {}).get("kind") == "crashed":  # the test process could not start
            dirty.append("test process failed")
        cases.append(res)


def main() -> None:
    _make_undumpable()
    if IS_INIT:
        # PID 1 only receives the signals it handles: drop Python's SIGINT handler so a program
        # cannot interrupt us (SIGKILL and SIGSTOP from inside the namespace are ignored anyway).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if START_MODE == "fork_server":
        start_fork_server()
    if PROGRAM_UID is not None:  # no child inherits our groups, or can gain a capability by exec
        os.setgroups([])
        _empty_bounding_set()
    os.makedirs(WORK_ROOT, exist_ok=True)
    if os.stat(WORK_ROOT).st_uid == os.getuid():
        os.chmod(WORK_ROOT, 0o711)  # programs may enter their case dir, never create beside it
    # Test processes are forks of ours: keep the collector off everything loaded so far, so a
    # collection in one does not write to (and so copy) every page of our heap.
    gc.freeze()
    stdin = sys.stdin.buffer
    stdout = sys.stdout
    for line in stdin:
        try:
            req = json.loads(line)
            if req.get("op") == "ping":
                reply = {
                    "op": "pong",
                    "pid": os.getpid(),
                    "uid": os.getuid(),
                    "python": sys.version.split()[0],
                    # which loop the fork server runs: "c", or "python <why>" (the host warns)
                    "fork_loop": None if FORK_SERVER is None else FORK_SERVER.loop,
                }
            elif req.get("op") == "run":
                reply = handle_run(req)
            else:
                reply = {
                    "op": "error",
                    "id": req.get("id"),
                    "message": "unknown op {!r}".format(req.get("op")),
                }
        except Exception as e:  # report, never die: the host decides what to do
            reply = {"op": "error", "id": None, "message": f"supervisor: {type(e).__name__}: {e}"}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()
    # stdin closed: the host is gone (or closed us); everything else dies with the namespace


if __name__ == "__main__":
    main()
