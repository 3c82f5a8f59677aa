"""`python -m sandbox`: exit codes and output of run and check."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import IMAGE, REPO

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "--image", IMAGE, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=90,
    )


def test_run_exit_codes_and_json(docker_ready, tmp_path):
    program = tmp_path / "prog.py"
    program.write_text("print(int(input()) * 2)\n")
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "format": "stdio",
                "cases": [{"input": "2\n", "output": "4\n"}, {"input": "3\n", "output": "7\n"}],
            }
        )
    )
    out = cli("run", str(program), str(spec), "--json")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert [t["verdict"] for t in report["tests"]] == ["passed", "wrong_answer"]
    assert report["fraction_passed"] == 0.5

    spec.write_text(json.dumps({"format": "stdio", "cases": [{"input": "2\n", "output": "4\n"}]}))
    out = cli("run", str(program), str(spec))
    assert out.returncode == 0
    assert "passed 1/1" in out.stdout

    spec.write_text('{"format": "stdio"}')
    out = cli("run", str(program), str(spec))
    assert out.returncode == 2
    assert "missing required field 'cases'" in out.stderr


def test_check_and_clear_errors(docker_ready):
    assert cli("check").returncode == 0
    missing = cli("--image", "srpo-sandbox:nope", "check")
    assert missing.returncode == 2
    assert "build_sandbox_image.sh" in missing.stderr
