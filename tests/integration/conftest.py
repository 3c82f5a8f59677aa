"""Assets shared by the end-to-end runs: a random-init tiny model and a small embedded dataset."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A random-init model (no warm-up: these tests check plumbing, not learning) and small data."""
    root = tmp_path_factory.mktemp("assets")
    model = root / "model"
    data = root / "data"
    subprocess.run(
        [
            sys.executable,
            "scripts/build_base_model.py",
            "--out",
            str(model),
            "--skip-warmup",
            "--quiet",
            "--cache-dir",
            str(root / "cache"),
        ],
        cwd=REPO,
        check=True,
        timeout=600,
    )
    subprocess.run(
        [
            sys.executable,
            "scripts/make_embedded_data.py",
            "--out",
            str(data),
            "--n-train",
            "16",
            "--n-test",
            "8",
            "--code-n-train",
            "8",
            "--code-n-test",
            "4",
        ],
        cwd=REPO,
        check=True,
        timeout=300,
    )
    return {
        "model": str(model),
        "train": f"[{data}/arith_train.parquet,{data}/codegen_train.parquet]",
        "val": f"[{data}/arith_test.parquet,{data}/codegen_test.parquet]",
    }


def tiny_overrides(assets: dict[str, str]) -> list[str]:
    """Sizes that make verl's trainer take a few seconds per step on 2 CPU cores."""
    return [
        f"actor_rollout_ref.model.path={assets['model']}",
        f"data.train_files={assets['train']}",
        f"data.val_files={assets['val']}",
        "data.train_batch_size=8",
        "actor_rollout_ref.rollout.n=4",
        "actor_rollout_ref.actor.ppo_mini_batch_size=8",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=32",
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=32",
        "data.max_response_length=32",
    ]


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a run and every process it started (Ray's raylet, workers, vLLM), like a crash would."""
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for p in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    psutil.wait_procs(family, timeout=30)


def run_until(cmd: list[str], log: Path, done: callable, timeout_s: float) -> subprocess.Popen:
    """Start ``cmd``; return once ``done()`` holds (the caller decides whether to kill it)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log, "ab") as f:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout_s
    while not done():
        if proc.poll() is not None:
            raise AssertionError(f"run exited with {proc.returncode} before the expected point; see {log}")
        if time.monotonic() > deadline:
            kill_tree(proc)
            raise AssertionError(f"run did not reach the expected point within {timeout_s} s; see {log}")
        time.sleep(2)
    return proc
