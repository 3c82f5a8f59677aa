"""Ship stdlib-only modules of this package into a sandbox on a `python3 -I -c` command line.

Nothing is copied into the container's filesystem. The supervisor travels as source (once per
container); a program's runner travels as marshalled code objects the supervisor compiled once,
because compiling them in every program's interpreter would cost a few ms per test. Either way
the loader registers each module as `sandbox.<name>`, so they import each other as on the host.
Stdlib only: this module is itself shipped, so the supervisor can build the runner's payload.
"""

from __future__ import annotations

import binascii
import marshal
import os

SHIPPED = ("bundle", "plain", "runner", "judge", "cleanup", "forkserver", "supervisor")  # dependency order
RUNNER = ("plain", "runner")
FORK_SERVER = ("plain", "runner", "judge", "forkserver")  # what a fork server's children may need
_SOURCES: dict[str, str] = {}  # the loader fills this inside the sandbox; the host reads the files

_LOADER = """import sys
def _load(modules):
    package = sys.modules["sandbox"] = type(sys)("sandbox")
    package.__path__ = []
    for name, code in modules:
        module = sys.modules["sandbox." + name] = type(sys)("sandbox." + name)
        setattr(package, name, module)
        if isinstance(code, str):
            code = compile(code, "sandbox/" + name + ".py", "exec")
        exec(code, module.__dict__)
        if name == "bundle":  # first: later modules may build payloads at import
            module._SOURCES.update(modules)
"""


def _boot(call: str) -> str:
    """Source that loads the marshalled modules in argv[1], then runs `call`."""
    return (
        _LOADER
        + "import binascii, marshal\n_load(marshal.loads(binascii.a2b_base64(sys.argv.pop(1))))\n"
        + call
    )


RUNNER_BOOT = _boot("sys.modules['sandbox.runner'].main()\n")
FORK_SERVER_BOOT = _boot("sys.modules['sandbox.forkserver'].serve(int(sys.argv[1]), *sys.argv[2:])\n")


def sources() -> dict[str, str]:
    """The shipped modules' text: the loader's copy inside the sandbox, the package's files outside."""
    if not _SOURCES:
        here = os.path.dirname(os.path.abspath(__file__))
        read = {}
        for name in SHIPPED:
            with open(os.path.join(here, name + ".py"), encoding="utf-8") as f:
                read[name] = f.read()
        # one update, never a half-filled dict: a pool starts its workers from several threads
        _SOURCES.update(read)
    return _SOURCES


def supervisor_source() -> str:
    """`python3 -I -c` source that loads every shipped module and runs the supervisor."""
    text = sources()
    modules = [(name, text[name]) for name in SHIPPED]
    return f"{_LOADER}_load({modules!r})\nsys.modules['sandbox.supervisor'].main()\n"


def payload(names: tuple = RUNNER, as_source: bool = False) -> str:
    """Modules compiled and marshalled, base64: the argument after RUNNER_BOOT or FORK_SERVER_BOOT.

    Marshal data is only ever loaded by the same interpreter that wrote it (the sandbox's).
    ``as_source``: the modules' source text instead of code, which any Python 3 loads (for an
    interpreter other than this one, e.g. the host's python3 in tests and benchmarks)."""
    text = sources()
    if as_source:
        modules = [(name, text[name]) for name in names]
    else:
        modules = [(name, compile(text[name], f"sandbox/{name}.py", "exec")) for name in names]
    return binascii.b2a_base64(marshal.dumps(modules), newline=False).decode()
