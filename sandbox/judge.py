"""Trusted side of a `call` or `assert` case: the test runs here, against proxies of the program.

For an `assert` case the supervisor forks this process and drops it to the test uid before anything
runs, so the program (another uid) cannot read, signal, trace or write to it. The program's
functions are reached only through `Channel.call`: arguments go out and return values come back
as plain data (plain.py) and are rebuilt here as fresh builtin values, so every comparison the
test makes is between values this process built. The test code and expected values never leave
this process; the verdict is this module's report, written to a pipe only the supervisor reads.

A `call` case needs no test code, so it needs no test process: the supervisor sends the one call
request itself and hands the program's raw replies to the host, which rebuilds the verdict with
`replay_call` (the same `run_call` over the recorded bytes). The program's reply is then decoded
only outside the sandbox, and a case costs one process instead of two.

Report kinds: passed | assertion | error (the test raised) | returned (call format; the host
compares) | raised (call format) | not_defined | missing | not_plain | program_gone.
Stdlib only: this module is shipped into the sandbox (see bundle.py).
"""

from __future__ import annotations

import builtins
import os

from sandbox import plain


class ProgramGone(BaseException):
    """The program exited, was killed or broke the protocol: the test cannot go on.

    A BaseException so a test's `except Exception` does not swallow it; a test that swallows it
    anyway still fails, because the channel remembers (Channel.broken)."""


class Missing(NameError):
    """The program has no callable of the requested name."""


def _exception(name: object, text: object) -> BaseException:
    """A builtin exception of the program's exception's type, so `except ValueError` still works."""
    cls = getattr(builtins, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = RuntimeError
    for base in cls.__mro__:  # some (UnicodeDecodeError) need more arguments: use a base
        try:
            return base(str(text))
        except TypeError:
            continue
    return RuntimeError(str(text))


def _write_back(target: object, new: object) -> None:
    """Apply the program's changes to a mutable argument in place, as one interpreter would."""
    if type(target) is not type(new):
        return
    if isinstance(target, list | bytearray):
        target[:] = new
    elif isinstance(target, dict | set):
        target.clear()
        target.update(new)


class Channel:
    """Calls into the program over two pipes; replies are bounded and decoded as plain data."""

    def __init__(self, call_fd: int | None, reply_fd: int | None, max_reply: int) -> None:
        """None for both fds: a replay of replies recorded in `buf` (nothing is sent)."""
        self.call_fd = call_fd
        self.reply_fd = reply_fd
        self.max_reply = max_reply
        self.buf = bytearray()
        self.broken = ""  # why the program can no longer be trusted to answer
        self.not_plain = ""  # a return value that could not cross: the test cannot pass

    def fail(self, why: str) -> ProgramGone:
        self.broken = self.broken or why
        return ProgramGone(self.broken)

    def receive(self) -> list:
        while (end := self.buf.find(b"\n")) < 0:
            if len(self.buf) > self.max_reply:
                raise self.fail(f"a reply of the program is over {self.max_reply} bytes")
            chunk = os.read(self.reply_fd, 1 << 16) if self.reply_fd is not None else b""
            if not chunk:
                raise self.fail("the program exited before the test finished")
            self.buf += chunk
        line = bytes(self.buf[:end])
        del self.buf[: end + 1]
        try:
            message = plain.decode(line)
        except ValueError as e:
            raise self.fail(f"the program sent a malformed reply ({e})") from None
        if type(message) is not list or not message or type(message[0]) is not str:
            raise self.fail("the program sent a malformed reply")
        return message

    def call(self, name: str, args: tuple, kwargs: dict) -> object:
        if self.broken:
            raise ProgramGone(self.broken)
        data = call_request(name, args, kwargs) if self.call_fd is not None else b""
        try:
            while data:
                data = data[os.write(self.call_fd, data) :]
        except OSError:
            raise self.fail("the program exited before the test finished") from None
        reply = self.receive()
        kind, rest = reply[0], reply[1:]
        if kind == "value" and len(rest) == 2 and type(rest[1]) is dict:
            for key, new in rest[1].items():
                if type(key) is int and 0 <= key < len(args):
                    _write_back(args[key], new)
                elif type(key) is str and key in kwargs:
                    _write_back(kwargs[key], new)
            return rest[0]
        if kind == "raised" and len(rest) == 2:
            raise _exception(rest[0], rest[1])
        if kind == "exit" and len(rest) == 1:
            raise self.fail(f"the program called exit({rest[0]}) during a call")
        if kind == "not_plain" and len(rest) == 1:
            self.not_plain = self.not_plain or f"{name}() returned {rest[0]}"
            raise plain.NotPlainData(self.not_plain)
        if kind == "missing":
            raise Missing(f"the program defines no function {name!r} (top level or Solution method)")
        raise self.fail(f"the program sent an unexpected reply {kind!r}")

    def proxy(self, name: str):
        """What the test calls instead of the program's function."""

        def stub(*args, **kwargs):
            return self.call(name, args, kwargs)

        stub.__name__ = stub.__qualname__ = name
        return stub

    def ready(self) -> list[str] | str:
        """The program's callable names once it is defined, or why defining it failed."""
        message = self.receive()
        if message[0] == "not_defined" and len(message) == 2:
            return str(message[1])
        if message[0] == "ready" and len(message) == 2 and type(message[1]) is list:
            return [n for n in message[1] if type(n) is str]
        raise self.fail("the program sent a malformed first message")


def _error_line(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _test_line(e: BaseException, test: str) -> str:
    """The line of the test code where the exception surfaced (its innermost frame there)."""
    line = 0
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<test>":
            line = tb.tb_lineno
        tb = tb.tb_next
    lines = test.splitlines()
    return f"test line {line}: {lines[line - 1].strip()[:200]}" if 0 < line <= len(lines) else ""


def _verdict(channel: Channel, outcome: dict) -> dict:
    """A broken or tainted channel overrides what the test concluded (it may have swallowed it)."""
    if channel.broken:
        return {"kind": "program_gone", "error": channel.broken}
    if channel.not_plain and outcome["kind"] == "passed":
        return {"kind": "not_plain", "error": channel.not_plain}
    return outcome


def run_assert(channel: Channel, test: str, entry_point: str | None) -> dict:
    """Run the test code with a proxy bound to each of the program's function names."""
    try:
        names = channel.ready()
    except ProgramGone:
        return _verdict(channel, {})
    if isinstance(names, str):
        return {"kind": "not_defined", "error": names}
    namespace: dict[str, object] = {"__name__": "__main__", "__builtins__": builtins}
    for name in names:
        # never shadow a builtin the test relies on, unless the spec names it as the entry point
        if (
            name.isidentifier()
            and not name.startswith("__")
            and (name == entry_point or not hasattr(builtins, name))
        ):
            namespace[name] = channel.proxy(name)
    try:
        exec(compile(test, "<test>", "exec"), namespace)
    except AssertionError as e:
        return _verdict(channel, {"kind": "assertion", "error": _error_line(e), "line": _test_line(e, test)})
    except plain.NotPlainData as e:
        return _verdict(channel, {"kind": "not_plain", "error": str(e), "line": _test_line(e, test)})
    except ProgramGone:
        return _verdict(channel, {})
    except SystemExit as e:
        return _verdict(channel, {"kind": "error", "error": f"SystemExit({e.code!r}) raised during the test"})
    except BaseException as e:
        return _verdict(channel, {"kind": "error", "error": _error_line(e), "line": _test_line(e, test)})
    return _verdict(channel, {"kind": "passed"})


def run_call(channel: Channel, fn_name: str, args: list, kwargs: dict) -> dict:
    """Call the program's function once; the host compares the returned value."""
    try:
        names = channel.ready()
        if isinstance(names, str):
            return {"kind": "not_defined", "error": names}
        value = channel.call(fn_name, tuple(args), kwargs)
    except ProgramGone:
        return _verdict(channel, {})
    except Missing as e:
        return {"kind": "missing", "error": f"NameError: {e}"}
    except plain.NotPlainData as e:
        return {"kind": "not_plain", "error": str(e)}
    except BaseException as e:
        return {"kind": "raised", "error": _error_line(e)}
    return {"kind": "returned", "value": plain.encode(value)}


def call_request(name: str, args: tuple | list, kwargs: dict) -> bytes:
    """The line that asks the program to call `name` (runner.py reads it)."""
    return (plain.encode([name, list(args), dict(kwargs)]) + "\n").encode()


def call_returned(replies: bytes) -> bool:
    """Whether recorded call replies are a definition and a returned value (not yet decoded or
    checked: the host judges); what fail_fast asks of a `call` case inside the sandbox."""
    lines = replies.split(b"\n", 2)
    return len(lines) > 2 and lines[0].startswith(b'["ready"') and lines[1].startswith(b'["value"')


def replay_call(replies: bytes, fn_name: str, args: list, kwargs: dict, max_reply: int) -> dict:
    """`run_call`'s report from the program's replies as the supervisor recorded them (at most
    max_reply + 1 bytes; a longer reply is refused as in a live test)."""
    channel = Channel(None, None, max_reply)
    channel.buf += replies
    return run_call(channel, fn_name, args, kwargs)
