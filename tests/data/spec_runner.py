"""A small, independent runner of reference programs against converted test specs.

It checks the data, not the sandbox: a known-correct solution must pass every case our converters
wrote (and a wrong one must fail), which catches mis-parsed inputs, unwrapped outputs, wrong entry
points. Trusted fixture code only; each case runs in a fresh ``python`` subprocess with a timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

_CALL_HARNESS = """
import json, sys
payload = json.loads(sys.stdin.read())
namespace = {"__name__": "__main__"}
exec(compile(payload["program"], "<candidate>", "exec"), namespace)
name = payload["fn_name"]
target = namespace.get(name)
if target is None:
    target = getattr(namespace["Solution"](), name)
result = target(*payload["args"], **payload["kwargs"])
print(json.dumps(json.loads(json.dumps(result)) == payload["expected"]))
"""


def _run(code: str, stdin: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, timeout=timeout_s
    )


def _same_tokens(got: str, want: str) -> bool:
    strip = lambda s: [line.split() for line in s.rstrip("\n").split("\n")]  # noqa: E731
    return strip(got.rstrip()) == strip(want.rstrip())


def case_results(program: str, spec: dict[str, Any], timeout_s: float = 20.0) -> list[bool]:
    """Whether ``program`` passes each case of ``spec`` (the JSON object of docs/data_format.md)."""
    results = []
    for case in spec["cases"]:
        if spec["format"] == "stdio":
            done = _run(program, case["input"], timeout_s)
            results.append(done.returncode == 0 and _same_tokens(done.stdout, case["output"]))
        elif spec["format"] == "call":
            payload = {"program": program, "fn_name": spec["fn_name"], **case}
            done = _run(_CALL_HARNESS, json.dumps(payload), timeout_s)
            results.append(done.returncode == 0 and done.stdout.strip() == "true")
        else:
            done = _run(program + "\n\n" + case["code"], "", timeout_s)
            results.append(done.returncode == 0)
    return results
