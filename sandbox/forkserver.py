"""Fork server: one pre-started interpreter per sandbox that forks a fresh child per test case.

Starting a Python interpreter costs most of a short test (about 19 ms in the image); a fork of an
interpreter that already imported the program's runtime costs well under a millisecond. The
supervisor starts this server once, before it empties its capability bounding set (the server
keeps SETUID/SETGID to drop each child to the program uid), and then asks it for one child per
case over a Unix socket, handing over the case's stdin, stdout and stderr (and, for `call` and
`assert`, the call and reply pipes) as file descriptors. A second server of the same kind, role
"test", forks the test processes of `assert` cases (uid 10002, left undumpable); their test code
comes in a file descriptor (a memfd) only that child receives, read after the fork.

Why no state flows between children, or back into the server:
- The server never receives a program, an input or a test: only a mode, a case dir and limits
  (and fds it passes on unread, closed before its next fork). Each child reads prog.py from its
  own case dir, or its test from its own fd, after the fork.
- The server runs as root of the container (another uid than programs), is not dumpable, and
  holds nothing a child can open: a child can neither signal, trace nor write to it. Its only
  input from a child is the exit status (waitpid).
- A child is a copy-on-write copy of the server's memory: whatever it changes (modules, builtins,
  environment, files it opens) is its own. Before the program runs, the child closes every fd
  but its case's (the server's socket included), starts a new session, sets the same rlimits as
  a fresh interpreter gets, enters its case dir and takes the program's uid, gid and no groups,
  which clears every capability. The supervisor's clean-up after the case (kill all, wipe) is
  the same as in the fresh-interpreter mode; only the server process is spared.
What children do share: the server's hash seed (str hashes, and so set order, are the same in
every child; `random` reseeds itself in each child) and the modules imported here.

The server forks when a case arrives, after it has prepared what the child needs (the request
decoded, HOME and TMPDIR in its own environment): between children its pages are shared with no
one, so its own writes cost no copy, while whatever a child has to do itself after the fork writes
pages it shares with the server, each one copied (about 5 us a page on the machine measured,
BENCHMARKS.md). It has at most one child at a time, which the clean-up kills like any program.
Its loop runs in C (forkhelper.c, built into the image at HELPER): no Python between cases, so the
server writes a dozen pages per case instead of ~150, and each child's set-up (session, fds,
rlimits, case dir, ids) is done in C. Where the image has no such library, the same loop runs in
Python (serve), and the supervisor's host warns once.

Messages are short lines of words over a SOCK_SEQPACKET socketpair: `ready c` (or `ready python
<why>`) once started, then per
request (encode_request: mode, CPU seconds, uid, the rlimits and the case dir, with the fds [stdin,
stdout, stderr(, call_r, reply_w)]; a test process: [null, null, null, call_w, reply_r, report_w,
case]) the replies `pid <pid>`, then `status <waitstatus>` when the child is gone (or `error <text>`
if the request could not be forked).
Stdlib only: this module is shipped into the sandbox (see bundle.py).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import json
import os
import resource
import socket
import sys

# Imported once here, so programs that use them (most do) find them loaded.
PRELOAD = ("collections", "functools", "heapq", "bisect", "itertools", "math", "re", "string", "typing")
CHILD_FDS = 7  # stdin, stdout, stderr, the call and reply pipes; a test child's report pipe and case
JUDGE = "judge"  # the mode of a test process (assert cases), forked by the supervisor's test server
REPLY_TIMEOUT_S = 10.0
HELPER = "/usr/local/lib/srpo/forkhelper.so"  # the C loop (forkhelper.c), built into the image
MODES = ("stdio", "call", "assert", JUDGE)  # forkhelper.c's MODES: the C loop returns index + 1
FORK_HOOKS = ("BeforeFork", "AfterFork_Parent", "AfterFork_Child")  # what os.fork calls around a fork
# A child's environment, as the supervisor gives a fresh interpreter; HOME and TMPDIR are its case dir.
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "MALLOC_ARENA_MAX": "2"}


# ---------------------------------------------------------------- messages


def encode_request(mode: str, case_dir: str, limits: dict, cpu_s: int, uid) -> bytes:
    """A case for a child as one line of words (the case dir last, as it may hold spaces): no JSON
    to parse in every child, so fewer of the server's pages touched and copied."""
    rlimits = ",".join(f"{key}={int(value)}" for key, value in limits.items())
    return f"{mode} {int(cpu_s)} {'-' if uid is None else int(uid)} {rlimits} {case_dir}".encode()


def decode_request(msg: bytes) -> dict:
    """The request as the child uses it: rlimits as (resource, (soft, hard)) pairs, CPU's last."""
    mode, cpu_s, uid, rlimits, case_dir = msg.decode().split(" ", 4)
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode[:20]!r}")
    limits = [
        (getattr(resource, f"RLIMIT_{key.upper()}"), (int(value), int(value)))
        for key, _, value in (item.partition("=") for item in rlimits.split(","))
    ]
    return {
        "mode": mode,
        "case_dir": case_dir,
        "uid": None if uid == "-" else int(uid),
        "rlimits": [*limits, (resource.RLIMIT_CPU, (int(cpu_s), int(cpu_s) + 1))],
    }


# ---------------------------------------------------------------- the server (its own interpreter)


_LIBC = None  # libc through ctypes, loaded once by serve()
_ROLE = "program"  # what this server's children become (serve's role)


def _prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        _LIBC.prctl(option, value, 0, 0, 0)


def _empty_bounding_set() -> None:
    import ctypes

    for cap in range(64):  # PR_CAPBSET_DROP = 24; EINVAL past the last capability
        if _LIBC.prctl(24, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break


def _warm_up() -> None:
    """Run once what every child runs, so its code and first allocations are in place before the
    forks: a child then faults in (copies) far fewer pages, most of a fork's cost here."""
    from sandbox import plain

    exec(compile(b"def f(n):\n    return [i * i for i in range(n)]\nx = sum(f(10))\n", "warm", "exec"), {})
    plain.decode(plain.encode(["value", [1, 2.5, "s", (None, True)], {0: {"k": {3}}}]))
    for key in ("AS", "FSIZE", "CORE", "NOFILE", "CPU"):
        limit = getattr(resource, f"RLIMIT_{key}")
        resource.setrlimit(limit, resource.getrlimit(limit))
    os.chdir(os.getcwd())
    os.setresgid(*os.getresgid())  # no change: binds the calls a child makes (ld.so's lazy lookups)
    os.setresuid(*os.getresuid())
    decode_request(encode_request("stdio", "/", {"as": 1 << 30}, 1, None))


def serve(sock_fd: int, role: str = "program", helper: str = HELPER) -> None:
    """The server's loop: one child per request, until the supervisor closes the socket.

    `role` "program" forks programs, "test" the test processes of assert cases (which leave
    their OOM score alone: the program stays the OOM killer's first choice). `helper`: the C
    loop's library (forkhelper.c); "" or a path that does not load runs the Python loop instead,
    and the first message says which one runs ("ready c", or "ready python <why>")."""
    global _LIBC, _ROLE
    _ROLE = role
    _LIBC = ctypes.CDLL(None, use_errno=True)
    _prctl(4, 0)  # PR_SET_DUMPABLE 0: no one may trace us or open our /proc files
    if os.getuid() == 0:
        os.setgroups([])
        _empty_bounding_set()
    os.environ.clear()  # what every child's environment starts from
    os.environ.update(ENV)
    for name in PRELOAD:
        __import__(name)
    _warm_up()
    serve_c, why = _load_helper(helper)
    import gc

    gc.freeze()  # what is loaded now stays shared with children instead of being copied on write
    sock = socket.socket(fileno=sock_fd)
    if serve_c is not None:
        sock.send(b"ready c")
        serve_c(sock_fd)  # never returns
    sock.send(b"ready python " + why.encode()[:200])
    while True:
        try:
            msg, fds, flags, _ = socket.recv_fds(sock, 1 << 16, CHILD_FDS)
        except OSError:
            os._exit(0)
        if not msg:  # the supervisor is gone
            os._exit(0)
        try:
            if flags & socket.MSG_TRUNC:
                raise ValueError("the request is too long")
            req = decode_request(msg)
            # Made here, not in the child: our own pages are shared with no one between children,
            # so what we write costs no copy, and the child inherits it.
            os.environ["HOME"] = os.environ["TMPDIR"] = req["case_dir"]
            if req["mode"] == "stdio":
                req["main"] = _main_module(req["case_dir"])
            pid = os.fork()
        except Exception as e:  # a request we cannot read (or a failed fork) ends that case, not us
            for fd in fds:
                os.close(fd)
            sock.send(b"error the fork server could not start the case: %s" % str(e).encode()[:200])
            continue
        if pid == 0:
            _child(req, fds)  # never returns
        for fd in fds:
            os.close(fd)
        sock.send(b"pid %d" % pid)
        _, status = os.waitpid(pid, 0)
        sock.send(b"status %d" % status)


def _load_helper(path: str):
    """(the C loop's entry point, set up; ""), or (None, why the Python loop runs instead)."""
    if not path:
        return None, "no C loop asked for"
    if not os.path.exists(path):
        return None, f"no {path} (an image built before the C loop)"
    try:
        lib = ctypes.PyDLL(path)  # PyDLL: the GIL stays held, as forking needs
        lib.fh_init.argtypes = [ctypes.c_int, *[ctypes.c_void_p] * 3, ctypes.c_char_p, ctypes.c_size_t]
        lib.fh_serve.argtypes = [ctypes.c_int]
        hooks = [
            ctypes.cast(getattr(ctypes.pythonapi, f"PyOS_{name}"), ctypes.c_void_p) for name in FORK_HOOKS
        ]
        script = ctypes.create_string_buffer(4096 + 16)
        if lib.fh_init(int(_ROLE == "program"), *hooks, script, len(script)) != 0:
            raise OSError("fh_init could not put HOME and TMPDIR into the environment")
    except (OSError, AttributeError) as e:
        return None, f"{path} does not load: {e}"
    return functools.partial(_serve_c, lib.fh_serve, script), ""


def _serve_c(fh_serve, script, sock_fd: int) -> None:
    """The loop in C (forkhelper.c): it returns in the server only when the supervisor is gone,
    and in each child once the child is set up (session, fds, rlimits, case dir, uid, C
    environment), with its mode and its prog.py path in `script`; the child then runs the case
    here. No Python runs in the server between cases, and each child does only the little below
    before the program."""
    main = _main_module("/")  # a template: each child fills in its own __file__ (copy-on-write)
    environ = os.environ._data  # the encoded values: the C loop has set the C environment already
    mode = fh_serve(sock_fd)
    if mode <= 0:  # the supervisor is gone, or our socket failed
        os._exit(0)
    try:
        path = script.value
        environ[b"HOME"] = environ[b"TMPDIR"] = path[:-8]  # path minus "/prog.py"
        main.__file__ = path.decode()
        atexit._clear()  # nothing of the server's runs at the program's exit
    except BaseException as e:
        _start_failed(e)
    _run_case(MODES[mode - 1], main)


def _child(req: dict, fds: list) -> None:
    """Become the program: fds, limits, case dir, uid (its session is its own already); run it, exit."""
    try:  # never return into the server's loop
        os.setsid()
        if _ROLE == "program":  # the program, never the supervisor, is the OOM killer's choice
            oom = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
            try:
                os.write(oom, b"1000")
            finally:
                os.close(oom)
        high = [os.dup(fd) for fd in fds]  # out of the way of the numbers they move to
        for target, fd in enumerate(high):
            os.dup2(fd, target)
        os.closerange(len(fds), 1 << 16)  # our socket and every stray fd
        for limit, values in req["rlimits"]:
            resource.setrlimit(limit, values)
        os.chdir(req["case_dir"])
        uid = req.get("uid")
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)  # all three ids: no capability is left, none can come back
        if req["mode"] != JUDGE:  # a test process stays undumpable: no program may read or trace it
            _prctl(4, 1)  # dumpable again, as an exec'd program would be (its own /proc files are its own)
        atexit._clear()  # nothing of the server's runs at the program's exit
    except BaseException as e:
        _start_failed(e)
    _run_case(req["mode"], req.get("main"))


def _start_failed(e: BaseException) -> None:
    with contextlib.suppress(BaseException):
        os.write(2, f"fork server: could not start the program: {e}\n".encode())
    os._exit(125)


def _run_case(mode: str, main) -> None:
    """Run the case in this child, set up by either loop, and exit."""
    if mode == "stdio":
        os._exit(_run_script(main))
    if mode == JUDGE:
        _judge()
    from sandbox import runner

    runner.main([mode, "3", "4"])
    os._exit(0)


def _judge() -> None:
    """Be the test process of an assert case (fds: 3 call, 4 reply, 5 report, 6 the case).

    The test code reaches this child only now, after its fork, from a file only it was given, so
    no later child of the server can inherit it. The report goes to the supervisor on fd 5."""
    from sandbox import judge

    try:
        case = json.loads(b"".join(iter(lambda: os.read(6, 1 << 20), b"")))
        os.close(6)
        channel = judge.Channel(3, 4, int(case["max_reply"]))
        report = judge.run_assert(channel, case["code"], case.get("entry_point"))
    except BaseException as e:
        report = {"kind": "crashed", "error": f"the test process failed: {type(e).__name__}: {e}"}
    try:
        data = json.dumps(report).encode()
        while data:
            data = data[os.write(5, data) :]
    finally:
        os._exit(0)


def _main_module(case_dir: str):
    """The `__main__` module a script in case_dir/prog.py runs in (made by the server, still empty)."""
    import builtins

    module = type(sys)("__main__")
    module.__dict__.update(__file__=_script_path(case_dir), __cached__=None, __builtins__=builtins)
    return module


def _script_path(case_dir: str) -> str:
    return os.path.abspath(os.path.join(case_dir, "prog.py"))  # as the interpreter resolves a script's path


def _run_script(module) -> int:
    """Run prog.py in `module` (_main_module) as `python3 -I prog.py` would; return its exit status."""
    path = module.__file__
    sys.modules["__main__"] = module
    sys.argv[:] = ["prog.py"]
    code = 0
    try:
        fd = os.open(path, os.O_RDONLY)  # bytes: compile() honours a coding cookie as the interpreter does
        try:
            source = b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
        finally:
            os.close(fd)
        exec(compile(source, path, "exec"), module.__dict__)
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException as e:
        code = 1
        _excepthook(e)
    return _finalize(code)


def _exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    with contextlib.suppress(Exception):
        print(e.code, file=sys.stderr)
    return 1


def _excepthook(e: BaseException) -> None:
    tb = e.__traceback__
    if tb is not None and tb.tb_frame.f_code is _run_script.__code__:
        tb = tb.tb_next  # the traceback starts in the program, as a script's would
        e.__traceback__ = tb
    try:
        sys.excepthook(type(e), e, tb)
    except BaseException:
        with contextlib.suppress(BaseException):
            os.write(2, f"{type(e).__name__}: {e}\n".encode())


def _finalize(code: int) -> int:
    """What the interpreter does at exit: join threads, run atexit, flush stdout and stderr."""
    threading = sys.modules.get("threading")
    if threading is not None:
        with contextlib.suppress(BaseException):
            threading._shutdown()
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:
            code = 120 if stream is sys.stdout else code
    return code


# ---------------------------------------------------------------- the supervisor's side


class ForkedProgram:
    """A child of the fork server, with the parts of subprocess.Popen the supervisor uses.

    The server's replies (its pid, then its exit status) are read when needed, so starting a
    program costs no round trip: the supervisor is already reading the program's output while
    the server forks."""

    def __init__(self, server: ForkServer, stdout_fd: int | None, stderr_fd: int | None) -> None:
        """stdout_fd and stderr_fd: our ends of its output pipes (None: its output is discarded)."""
        self.server = server
        self._pid: int | None = None
        # closed by the supervisor
        self.stdout = None if stdout_fd is None else open(stdout_fd, "rb", buffering=0)  # noqa: SIM115
        self.stderr = None if stderr_fd is None else open(stderr_fd, "rb", buffering=0)  # noqa: SIM115
        self.returncode: int | None = None

    @property
    def exit_fd(self) -> int:
        """Readable when the server has news: the pid, or (then poll() says so) the exit status."""
        return self.server.sock.fileno()

    @property
    def pid(self) -> int:
        while self._pid is None:
            self._take(self.server.receive())
        return self._pid

    def _take(self, reply: dict) -> None:
        if "pid" in reply:
            self._pid = reply["pid"]
        elif "status" in reply and self._pid is not None:
            self.returncode = os.waitstatus_to_exitcode(reply["status"])
        else:
            raise OSError(reply.get("error") or f"unexpected fork server reply {reply!r}")

    def poll(self) -> int | None:
        while self.returncode is None and self.server.readable():
            self._take(self.server.receive())
        return self.returncode

    def wait(self) -> int:
        while self.returncode is None:
            self._take(self.server.receive())
        return self.returncode


class ForkServer:
    """The supervisor's handle on its fork server process."""

    def __init__(
        self, argv: list, env: dict, spared: set, role: str = "program", helper: str = HELPER
    ) -> None:
        """Start the server (`role`, `helper`: see serve); its pid joins `spared`, the pids the
        clean-up must not kill (its children are not spared: each is a case's program or test).
        `loop` then says which loop it runs: "c", or "python <why>"."""
        import subprocess

        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            [*argv, str(theirs.fileno()), role, helper],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),),
            cwd="/",
            env=env,
        )
        theirs.close()
        self.sock.settimeout(REPLY_TIMEOUT_S)
        spared.add(self.proc.pid)
        ready = self.receive()
        if "ready" not in ready:
            raise OSError("the fork server did not start")
        self.loop = ready["ready"]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def readable(self) -> bool:
        import select

        return bool(select.select([self.sock], [], [], 0)[0])

    def receive(self) -> dict:
        try:
            data = self.sock.recv(1 << 16)
        except OSError as e:
            raise OSError(f"the fork server does not answer: {e}") from None
        if not data:
            raise OSError("the fork server is gone")
        kind, _, rest = data.decode("ascii", "replace").partition(" ")
        if kind == "error":
            return {"error": rest}
        if kind == "ready":
            return {"ready": rest or "python"}
        try:
            numbers = [int(x) for x in rest.split()]
            if kind == "pid":
                return {"pid": numbers[0]}
            if kind == "status":
                return {"status": numbers[0]}
        except (ValueError, IndexError):
            pass
        raise OSError(f"unexpected fork server reply {data[:100]!r}")

    def spawn(self, mode: str, case_dir: str, fds: list, limits: dict, cpu_s: int, uid) -> ForkedProgram:
        """Fork a child running the case; fds are its stdin and, for call/assert, its two pipes."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self._send(encode_request(mode, case_dir, limits, cpu_s, uid), [fds[0], out_w, err_w, *fds[1:]])
        except OSError:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        return ForkedProgram(self, out_r, err_r)

    def spawn_test(self, fds: list, limits: dict, cpu_s: int, uid) -> ForkedProgram:
        """Fork the test process of an assert case; fds: its call, reply and report pipes and a
        file holding the case. Its stdin, stdout and stderr are /dev/null."""
        null = os.open(os.devnull, os.O_RDWR)
        try:
            self._send(encode_request(JUDGE, "/", limits, cpu_s, uid), [null, null, null, *fds])
        finally:
            os.close(null)
        return ForkedProgram(self, None, None)

    def _send(self, request: bytes, fds: list) -> None:
        try:
            socket.send_fds(self.sock, [request], fds)
        except OSError as e:
            raise OSError(f"the fork server does not answer: {e}") from None

    def close(self) -> None:
        self.sock.close()
