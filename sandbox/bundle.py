"""Ship stdlib-only modules of this package into a sandbox as one `python3 -I -c` source.

Nothing is copied into the container's filesystem: the supervisor's source (and, from there,
the program runner's) travels on the command line. The loader registers each module as
`sandbox.<name>` so the shipped modules import each other as they do on the host.
Stdlib only: this module is itself shipped, so the supervisor can build the runner's source.
"""

from __future__ import annotations

import os

SHIPPED = ("bundle", "plain", "runner", "judge", "cleanup", "supervisor")  # dependency order
_SOURCES: dict[str, str] = {}  # the loader fills this inside the sandbox; the host reads the files

_LOADER = """import sys, types
def _load(sources, names):
    package = types.ModuleType("sandbox")
    package.__path__ = []
    sys.modules["sandbox"] = package
    for name in names:
        module = types.ModuleType("sandbox." + name)
        sys.modules[module.__name__] = module
        setattr(package, name, module)
        exec(compile(sources[name], "sandbox/" + name + ".py", "exec"), module.__dict__)
        if name == "bundle":  # first: later modules may build sources at import
            module._SOURCES.update(sources)
_load({sources!r}, {names!r})
del _load
{main}
"""


def sources() -> dict[str, str]:
    """The shipped modules' text: the loader's copy inside the sandbox, the package's files outside."""
    if not _SOURCES:
        here = os.path.dirname(os.path.abspath(__file__))
        for name in SHIPPED:
            with open(os.path.join(here, name + ".py"), encoding="utf-8") as f:
                _SOURCES[name] = f.read()
    return _SOURCES


def program(names: tuple[str, ...], main: str) -> str:
    """Source that loads `names` (in order) and then runs the statement `main`."""
    text = sources()
    return _LOADER.format(sources={n: text[n] for n in names}, names=list(names), main=main)


def supervisor_source() -> str:
    return program(SHIPPED, "sys.modules['sandbox.supervisor'].main()")


def runner_source() -> str:
    return program(("plain", "runner"), "sys.modules['sandbox.runner'].main()")
