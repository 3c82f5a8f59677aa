"""Candidate side of a `call` or `assert` case: define the program, then answer calls as plain data.

Runs in the program's own interpreter (uid of the program), started by the supervisor as
`python3 -I -c <bootstrap> <code> <mode> <call_fd> <reply_fd>`. Everything here is in the
program's reach and trusted by no one: the test process decodes whatever arrives on the reply
pipe with plain.decode, and the verdict is decided there, not here. This side only makes honest
programs work: it defines the program, reports the names of its callables, and answers each call
request with the return value, the exception raised, or the mutated arguments.

Messages are plain-data lists, one line each. On reply_fd, once the program is defined:
["ready", [names of its callables]] or ["not_defined", "SomeError: ..."]; then one per request
[fn name, [args], {kwargs}] read from call_fd: ["value", value, {arg index or name: mutated arg}],
["raised", builtin exception name, text], ["exit", code], ["not_plain", why] or ["missing", name].
Stdlib only: this module is shipped into the sandbox (see bundle.py).
"""

from __future__ import annotations

import builtins
import os
import sys

from sandbox import plain

MUTABLE = (list, dict, set, bytearray)  # arguments whose changes are sent back, as in one interpreter


def _send(fd: int, message: list) -> None:
    try:
        text = plain.encode(message)
    except plain.NotPlainData as e:
        text = plain.encode(["not_plain", str(e)])
    data = (text + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def _print_traceback() -> None:
    import traceback  # only on failure: its imports cost a few ms of every start

    traceback.print_exc()


def _last_line(e: BaseException) -> str:
    import traceback

    return traceback.format_exception_only(e)[-1].strip()[:1000]


def _builtin_exception(e: BaseException) -> str:
    """The first builtin class in the exception's MRO, so `except ValueError` in a test still works."""
    for cls in type(e).__mro__:
        if getattr(builtins, cls.__name__, None) is cls:
            return cls.__name__
    return "Exception"


def _define(source: bytes, name: str) -> dict:
    namespace = {"__name__": name, "__builtins__": builtins}
    exec(compile(source, "prog.py", "exec"), namespace)
    return namespace


def _resolve(namespace: dict, name: str, methods: bool) -> object:
    fn = namespace.get(name)
    if callable(fn):
        return fn
    cls = namespace.get("Solution")
    if methods and isinstance(cls, type) and callable(getattr(cls, name, None)):
        return getattr(cls(), name)
    return None


def _mutable(args: list, kwargs: dict) -> list:
    return [(k, a) for k, a in [*enumerate(args), *kwargs.items()] if isinstance(a, MUTABLE)]


def _answer(namespace: dict, request: list, methods: bool) -> list:
    name, args, kwargs = request
    fn = _resolve(namespace, name, methods)
    if fn is None:
        return ["missing", name]
    before = {k: plain.encode(a) for k, a in _mutable(args, kwargs)}
    try:
        value = fn(*args, **kwargs)
    except SystemExit as e:
        return ["exit", repr(e.code)]
    except BaseException as e:
        _print_traceback()
        try:
            text = str(e)[:1000]
        except Exception:
            text = ""
        return ["raised", _builtin_exception(e), text]
    mutated = {}
    for k, a in _mutable(args, kwargs):
        try:
            if plain.encode(a) != before[k]:
                mutated[k] = a
        except plain.NotPlainData:
            continue
    return ["value", value, mutated]


def _read_file(path: str) -> bytes:
    """A file's bytes through os.read: the io stack's objects would cost a forked child its pages.
    compile() decodes them as the interpreter decodes a script (UTF-8 or the coding cookie)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
    finally:
        os.close(fd)


def _next_line(fd: int, pending: bytearray) -> bytes | None:
    """The next line read from fd (without its newline), or None at the end."""
    while (end := pending.find(b"\n")) < 0:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return None
        pending += chunk
    line = bytes(pending[:end])
    del pending[: end + 1]
    return line


def main(argv: list | None = None) -> None:
    """argv: mode, call fd, reply fd (sys.argv[1:] when started as its own interpreter)."""
    args = sys.argv[1:] if argv is None else argv
    mode, call_fd, reply_fd = args[0], int(args[1]), int(args[2])
    try:
        namespace = _define(_read_file("prog.py"), "__main__" if mode == "assert" else "solution")
    except SystemExit as e:
        _send(reply_fd, ["not_defined", f"SystemExit({e.code!r}) raised while the program was being defined"])
        os._exit(1)
    except BaseException as e:
        _print_traceback()
        _send(reply_fd, ["not_defined", _last_line(e)])
        os._exit(1)
    _send(reply_fd, ["ready", [n for n, v in list(namespace.items()) if isinstance(n, str) and callable(v)]])
    pending = bytearray()
    while True:
        line = _next_line(call_fd, pending)
        if line is None:  # the test is over
            os._exit(0)
        reply = _answer(namespace, plain.decode(line), mode == "call")
        sys.stdout.flush()
        sys.stderr.flush()
        _send(reply_fd, reply)
