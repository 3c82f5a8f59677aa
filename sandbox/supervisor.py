"""In-sandbox supervisor: runs each test case in a fresh interpreter and reports raw outcomes.

This file is shipped verbatim into the sandbox (`python3 -I -c <source>`), so it uses the standard
library only and imports nothing from the package. It is the container's PID 1 (or PID 1 of a
private PID namespace for the local backend): that makes it immune to signals sent by the programs
it runs, and lets `kill(-1, SIGKILL)` remove every process a run left behind.

Protocol: one JSON object per line on stdin, one JSON object per line on stdout.
  {"op": "ping"}                      -> {"op": "pong", ...}
  {"op": "run", "id": ..., ...}       -> {"op": "result", "id": ..., "cases": [...], "dirty": bool}
The supervisor never sees expected outputs: it returns what each case printed and how it ended,
and the host judges. Verdicts are therefore out of the programs' reach.
"""

import contextlib
import ctypes
import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time

WORK_ROOT = os.environ.get("SRPO_SANDBOX_WORK") or "/work"
IS_INIT = os.getpid() == 1
WIPE_DIRS = [d for d in os.environ.get("SRPO_SANDBOX_WIPE", "").split(":") if d]  # e.g. /dev/shm


def _is_real_root() -> bool:
    """Root of the initial user namespace (local backend run as root), not root of a private one."""
    try:
        with open("/proc/self/uid_map") as f:
            return os.getuid() == 0 and f.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return False


DROP_TO_UID = 65534 if _is_real_root() else None  # the local backend run as root runs programs as nobody

# How a stdio program (saved as prog.py) is started, per language. Python is what the image
# ships; an image with another toolchain adds its row here and to SUPPORTED_LANGUAGES in api.py.
STDIO_COMMANDS = {"python": (sys.executable, "-I", "prog.py")}

# Runs call-based and assert-based cases: the candidate and the test share one interpreter.
# argv[2] is the fd of a file only the host reads back; the marker is written after the test finished, so a
# program that exits early (sys.exit, os._exit) cannot look like a pass.
RUNNER = r"""
import json, os, sys
mode = sys.argv[1]
out = os.fdopen(int(sys.argv[2]), "w")
with open("prog.py", encoding="utf-8") as f:
    src = f.read()
g = {"__name__": "__main__" if mode == "assert" else "solution", "__builtins__": __builtins__}
code = compile(src, "prog.py", "exec")
try:
    exec(code, g)
except SystemExit as e:
    sys.stderr.write("SystemExit(%r) raised while the program was being defined\n" % (e.code,))
    sys.stderr.flush()
    os._exit(1)
if mode == "assert":
    with open("test.py", encoding="utf-8") as f:
        test = compile(f.read(), "test.py", "exec")
    try:
        exec(test, g)
    except SystemExit as e:
        sys.stderr.write("SystemExit(%r) raised during the test\n" % (e.code,))
        sys.stderr.flush()
        os._exit(1)
    out.write("ok")
else:
    name = sys.argv[3]
    fn = g.get(name)
    if not callable(fn):
        cls = g.get("Solution")
        if isinstance(cls, type) and callable(getattr(cls, name, None)):
            fn = getattr(cls(), name)
    if not callable(fn):
        sys.stderr.write("NameError: the program defines no function %r (top level or Solution method)\n" % name)
        sys.stderr.flush()
        os._exit(1)
    with open("case.json", encoding="utf-8") as f:
        case = json.load(f)
    try:
        value = fn(*case["args"], **case["kwargs"])
    except SystemExit as e:
        sys.stderr.write("SystemExit(%r) raised by the function\n" % (e.code,))
        sys.stderr.flush()
        os._exit(1)
    try:
        text = json.dumps({"value": value})
    except (TypeError, ValueError) as e:
        text = json.dumps({"unserializable": "%s: %s" % (type(value).__name__, e)})
    out.write(text)
out.flush()
"""


def _make_undumpable() -> None:
    # Same-uid programs could otherwise ptrace us or open /proc/1/fd/* and forge replies.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


def _oom_kills() -> int:
    for path, key in (
        ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
        ("/sys/fs/cgroup/memory.events", "oom_kill"),
    ):
        try:
            with open(path) as f:
                for line in f:
                    k, _, v = line.partition(" ")
                    if k == key:
                        return int(v)
        except OSError:
            continue
    return -1


def _other_pids() -> list:
    me = os.getpid()
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            try:
                with open(f"/proc/{name}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            # kernel threads do not appear in a container's PID namespace; zombies are reaped below
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                pids.append(int(name))
    return pids


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_everything(pgid: int) -> None:
    """Kill the case's process group and, as PID 1, every other process in the namespace.

    Does not reap: the caller collects its own child's status first."""
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)
    if IS_INIT:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)


def _kill_leftovers() -> int:
    """As PID 1, kill and reap every process but ourselves; returns how many there were."""
    if not IS_INIT:
        return 0
    _reap()
    found = _other_pids()
    left = found
    for _ in range(200):  # up to about a second for the kernel to tear them down
        if not left:
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        _reap()
        time.sleep(0.005)
        left = _other_pids()
    return len(found)


def _wipe(directory: str) -> None:
    """Remove everything under a directory a program could write to (not the directory itself)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


PRLIMIT = shutil.which("prlimit", path="/usr/bin:/bin:/usr/sbin:/sbin")


def _limited(argv: list, memory_mb: int, fsize: int, cpu_s: int, nproc: int) -> tuple:
    """argv wrapped so the program starts with its rlimits (soft = hard), plus a preexec hook.

    util-linux `prlimit` sets them and execs the program, which keeps the fast vfork spawn path;
    a Python preexec hook (forks, runs Python in the child) costs about 3 ms per test more and
    is only the fallback for images without prlimit."""
    limits = {
        "as": memory_mb << 20,
        "fsize": fsize,
        "core": 0,
        "nofile": 256,
    }
    if DROP_TO_UID is not None:
        limits["nproc"] = nproc  # counts per user: only meaningful for the local backend's nobody
    if PRLIMIT:
        flags = [f"--{k}={v}" for k, v in limits.items()] + [f"--cpu={cpu_s}:{cpu_s + 1}"]
        return [PRLIMIT, *flags, "--", *argv], None
    names = {
        "as": "RLIMIT_AS",
        "fsize": "RLIMIT_FSIZE",
        "core": "RLIMIT_CORE",
        "nofile": "RLIMIT_NOFILE",
        "nproc": "RLIMIT_NPROC",
    }

    def apply() -> None:
        for k, v in limits.items():
            resource.setrlimit(getattr(resource, names[k]), (v, v))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))

    return argv, apply


def _prefer_as_oom_victim(pid: int) -> None:
    """The program, never the supervisor, is the OOM killer's choice (raising needs no privilege)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/oom_score_adj", "w") as f:
        f.write("1000")


def _head(path: str, n: int) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(n).decode("utf-8", "replace")
    except OSError:
        return ""


def _collect(proc, deadline: float, out_limit: int, err_keep: int) -> dict:
    """Read the program's stdout/stderr until it exits, the deadline passes or stdout is too long.

    A pidfd wakes us when the process exits, so grandchildren that keep the pipes open cannot
    stall the run; without pidfd support the exit is polled every 20 ms."""
    out, err = bytearray(), bytearray()
    out_total = 0
    sel = selectors.DefaultSelector()
    for f in (proc.stdout, proc.stderr):
        os.set_blocking(f.fileno(), False)
        sel.register(f, selectors.EVENT_READ)
    pidfd = None
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(proc.pid)
        sel.register(pidfd, selectors.EVENT_READ)
    state = "running"

    def read(f) -> bool:
        nonlocal out_total, err
        try:
            data = os.read(f.fileno(), 1 << 16)
        except BlockingIOError:
            return False
        if not data:
            sel.unregister(f)
            return False
        if f is proc.stdout:
            out_total += len(data)
            if len(out) <= out_limit:
                out.extend(data[: out_limit + 1 - len(out)])
        else:
            err.extend(data)
            if len(err) > 2 * err_keep:
                err = err[-err_keep:]
        return True

    try:
        while state == "running":
            left = deadline - time.monotonic()
            if left <= 0:
                state = "timeout"
                break
            for key, _ in sel.select(left if pidfd is not None else min(left, 0.02)):
                if key.fileobj is pidfd:
                    state = "exited"
                else:
                    read(key.fileobj)
                if out_total > out_limit:
                    state = "output_limit"
                    break
            if state == "running" and pidfd is None and proc.poll() is not None:
                state = "exited"
        if state == "exited":  # drain what the program wrote before exiting (bounded)
            for f in (proc.stdout, proc.stderr):
                for _ in range(64):
                    if f.fileno() not in (k.fd for k in sel.get_map().values()) or not read(f):
                        break
            if out_total > out_limit:
                state = "output_limit"
    finally:
        sel.close()
        if pidfd is not None:
            os.close(pidfd)
    return {
        "state": state,
        "stdout": bytes(out[:out_limit]),
        "stdout_size": out_total,
        "stderr": bytes(err[-err_keep:]),
    }


def run_case(req: dict, case: dict, case_dir: str) -> dict:
    """Run one case in `case_dir` and describe how it ended."""
    fmt = req["format"]
    limit = int(req["output_limit"])
    with open(os.path.join(case_dir, "prog.py"), "w", encoding="utf-8") as f:
        f.write(req["program"])
    stdin_path = os.devnull
    if fmt == "stdio":
        stdin_path = os.path.join(case_dir, ".stdin")
        with open(stdin_path, "w", encoding="utf-8") as f:
            f.write(case["input"])
        command = STDIO_COMMANDS.get(req.get("language") or "python")
        if command is None:
            return {
                "status": "error",
                "message": f"language {req.get('language')!r} is not in this image",
                "wall_s": 0.0,
            }
        argv = list(command)
    elif fmt == "call":
        with open(os.path.join(case_dir, "case.json"), "w", encoding="utf-8") as f:
            json.dump({"args": case["args"], "kwargs": case["kwargs"]}, f)
        argv = [sys.executable, "-I", "-c", RUNNER, "call", "RESULT_FD", req["fn_name"]]
    else:
        with open(os.path.join(case_dir, "test.py"), "w", encoding="utf-8") as f:
            f.write(case["code"])
        argv = [sys.executable, "-I", "-c", RUNNER, "assert", "RESULT_FD"]
    if DROP_TO_UID is not None:
        os.chown(case_dir, DROP_TO_UID, DROP_TO_UID)
        for name in os.listdir(case_dir):
            os.chown(os.path.join(case_dir, name), DROP_TO_UID, DROP_TO_UID)

    res_path = os.path.join(case_dir, ".result")
    time_limit = float(req["time_limit_s"])
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": case_dir,
        "TMPDIR": case_dir,
        "MALLOC_ARENA_MAX": "2",  # per-thread malloc arenas would eat the address-space limit
    }
    oom_before = _oom_kills()
    with open(stdin_path, "rb") as fin, open(res_path, "wb") as fres:
        argv = [str(fres.fileno()) if a == "RESULT_FD" else a for a in argv]
        argv, preexec = _limited(
            argv, int(req["memory_mb"]), limit + 1, int(time_limit) + 1, int(req["nproc"])
        )
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=fin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=case_dir,
                env=env,
                pass_fds=(fres.fileno(),),
                start_new_session=True,
                preexec_fn=preexec,
                user=DROP_TO_UID,
                group=DROP_TO_UID,
                extra_groups=[] if DROP_TO_UID is not None else None,
            )
        except OSError as e:
            return {"status": "error", "message": f"could not start the program: {e}", "wall_s": 0.0}
    _prefer_as_oom_victim(proc.pid)
    try:
        got = _collect(proc, start + time_limit, limit, int(req["stderr_tail"]))
        wall = time.monotonic() - start
        if got["state"] != "exited":
            _kill_everything(proc.pid)
        code = proc.wait()  # our own child's status first; then everything else is reaped
    finally:
        proc.stdout.close()
        proc.stderr.close()
    if not IS_INIT:
        _kill_everything(proc.pid)  # the session's stragglers; PID 1 does better below
    leftover = _kill_leftovers()
    oom_after = _oom_kills()
    status = {"timeout": "timeout", "output_limit": "output_limit"}.get(got["state"])
    return {
        "status": status or ("signaled" if code < 0 else "exited"),
        "exit_code": code,
        "signal": -code if code < 0 else None,
        "wall_s": wall,
        "stdout": got["stdout"].decode("utf-8", "replace"),
        "stdout_size": got["stdout_size"],
        "stderr_tail": got["stderr"].decode("utf-8", "replace"),
        "result": _head(res_path, limit),
        "oom": oom_after > oom_before >= 0,
        "leftover": leftover,
    }


def finished_cleanly(req: dict, res: dict) -> bool:
    """Exit code 0 and, for call/assert cases, a result written: anything else fails whatever the host judges."""
    if res["status"] != "exited" or res.get("exit_code") != 0:
        return False
    return req["format"] == "stdio" or bool(res.get("result"))


def handle_run(req: dict) -> dict:
    os.makedirs(WORK_ROOT, exist_ok=True)
    cases = []
    dirty = False
    for i, case in enumerate(req["cases"]):
        if cases and req.get("stop_on_error") and not finished_cleanly(req, cases[-1]):
            cases.append({"status": "skipped", "wall_s": 0.0})
            continue
        case_dir = os.path.join(WORK_ROOT, f"case{i}")
        try:
            os.mkdir(case_dir, 0o700)
            res = run_case(req, case, case_dir)
        except OSError as e:
            res = {"status": "error", "message": f"supervisor: {e}", "wall_s": 0.0}
        finally:
            for directory in [WORK_ROOT, *WIPE_DIRS]:  # nothing survives into the next case or run
                _wipe(directory)
        dirty = (
            dirty
            or res["status"] in ("timeout", "error", "output_limit")
            or res.get("oom")
            or res.get("leftover")
        )
        cases.append(res)
    return {"op": "result", "id": req.get("id"), "cases": cases, "dirty": bool(dirty)}


def main() -> None:
    _make_undumpable()
    if IS_INIT:
        # PID 1 only receives the signals it handles: drop Python's SIGINT handler so a program
        # cannot interrupt us (SIGKILL and SIGSTOP from inside the namespace are ignored anyway).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
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
