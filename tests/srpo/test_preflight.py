"""Start-up checks stop a misconfigured run with one message naming the problem and the fix."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from srpo.main import CONFIG_DIR
from srpo.verl_glue.preflight import PreflightError, run_preflight, sandbox_image


def _row(i: int, domain: str = "math") -> dict:
    gt = (
        "4"
        if domain == "math"
        else json.dumps({"format": "call", "fn_name": "f", "cases": [{"args": [1], "expected": 2}]})
    )
    return {
        "data_source": f"srpo/{'arith' if domain == 'math' else 'codegen'}",
        "prompt": [{"role": "user", "content": f"question {i}"}],
        "ability": domain,
        "reward_model": {"style": "rule", "ground_truth": gt},
        "extra_info": {"prompt_id": f"p{i}", "domain": domain, "split": "train", "index": i},
    }


@pytest.fixture
def good(tmp_path: Path) -> dict:
    data = tmp_path / "train.parquet"
    pd.DataFrame([_row(i) for i in range(4)]).to_parquet(data)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    return {"data": str(data), "model": str(model)}


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        return compose(config_name="srpo", overrides=overrides)


def _base(good: dict) -> list[str]:
    return [
        f"data.train_files={good['data']}",
        f"data.val_files={good['data']}",
        f"actor_rollout_ref.model.path={good['model']}",
        "srpo.curriculum.switch_at=never",
    ]


def test_good_config_passes(good):
    cfg = run_preflight(_compose(_base(good)))
    assert cfg.curriculum.switch_at == "never"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("data.train_files=/nope/train.parquet", "data.train_files: no such file '/nope/train.parquet'"),
        ("actor_rollout_ref.model.path=/nope/model", "actor_rollout_ref.model.path='/nope/model'"),
        ("srpo.history.success_threshold=-1", "srpo.history.success_threshold=-1"),
        ("srpo.curriculum.stage2_domains=[math,poetry]", "srpo.curriculum.stage2_domains='poetry'"),
        ("trainer.use_v1=false", "trainer.use_v1=false"),
        ("algorithm.adv_estimator=srpoo", "algorithm.adv_estimator='srpoo' is not a registered advantage"),
        ("trainer.v1.trainer_mode=srp", "trainer.v1.trainer_mode='srp' is not a registered verl trainer"),
        (
            "reward.custom_reward_function.path=pkg://reward_fns.nope",
            "reward.custom_reward_function.path='pkg://reward_fns.nope' (name='compute_score_async') does not load",
        ),
        ("reward.custom_reward_function.name=scoring", "(name='scoring') does not load"),
        ("reward.num_workers=-1", "reward.num_workers=-1: must be >= 0"),
        (
            "+reward.custom_reward_function.reward_kwargs.weights.acuracy=1",
            "reward.custom_reward_function.reward_kwargs: unknown reward config key 'weights.acuracy'",
        ),
    ],
)
def test_bad_config_is_named(good, override, expected):
    with pytest.raises(PreflightError) as err:
        run_preflight(_compose([*_base(good), override]))
    assert expected in str(err.value)


def test_rewards_in_the_agent_loop_need_no_reward_model(good):
    run_preflight(_compose([*_base(good), "reward.num_workers=0"]))
    with pytest.raises(PreflightError, match=r"reward.reward_model.enable=true needs verl's reward workers"):
        run_preflight(_compose([*_base(good), "reward.num_workers=0", "reward.reward_model.enable=true"]))
    with pytest.raises(
        PreflightError, match=r"trainer.v1.trainer_mode='sync' would give the agent loop no reward"
    ):
        run_preflight(_compose([*_base(good), "reward.num_workers=0", "trainer.v1.trainer_mode=sync"]))


def test_malformed_row_is_named(good, tmp_path):
    bad = tmp_path / "bad.parquet"
    rows = [_row(0), _row(1)]
    rows[1]["reward_model"] = {"style": "rule", "ground_truth": ""}
    pd.DataFrame(rows).to_parquet(bad)
    with pytest.raises(PreflightError) as err:
        run_preflight(_compose([*_base(good), f"data.train_files={bad}"]))
    assert "row 1" in str(err.value) and "ground_truth" in str(err.value)


def test_code_rewards_without_docker_daemon(good, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    overrides = [o for o in _base(good) if "switch_at" not in o]
    with pytest.raises(PreflightError) as err:
        run_preflight(_compose(overrides))
    assert "Docker daemon is not reachable" in str(err.value) and "scripts/start_dockerd.sh" in str(err.value)


def test_unknown_override_key_is_refused_by_hydra():
    with pytest.raises(Exception, match="srpo.histroy"):
        _compose(["srpo.histroy.enable=false"])


def test_unknown_names_list_the_valid_ones(good):
    with pytest.raises(PreflightError) as err:
        run_preflight(_compose([*_base(good), "algorithm.adv_estimator=srpoo"]))
    message = str(err.value)
    assert "grpo" in message and "gae" in message and "Did you mean 'srpo'?" in message
    with pytest.raises(PreflightError) as err:
        run_preflight(_compose([*_base(good), "trainer.v1.trainer_mode=srp"]))
    assert "srpo" in str(err.value) and "sync" in str(err.value)


def test_sandbox_image_is_read_from_the_code_reward_key(good):
    config = _compose(
        [*_base(good), "+reward.custom_reward_function.reward_kwargs.code.sandbox.image=mine:1"]
    )
    assert sandbox_image(config) == "mine:1"


@pytest.mark.docker
def test_missing_configured_sandbox_image_is_named(good):
    overrides = [o for o in _base(good) if "switch_at" not in o]
    image = "srpo-sandbox:no-such-tag"
    with pytest.raises(PreflightError) as err:
        run_preflight(
            _compose([*overrides, f"+reward.custom_reward_function.reward_kwargs.code.sandbox.image={image}"])
        )
    assert f"sandbox image {image!r}" in str(err.value) and f"--image {image}" in str(err.value)


def _checkpoints(tmp_path: Path, step: int) -> Path:
    ckpt = tmp_path / "out" / "checkpoints"
    (ckpt / f"global_step_{step}").mkdir(parents=True)
    (ckpt / "latest_checkpointed_iteration.txt").write_text(str(step))
    return ckpt


def test_finished_output_dir_is_reported(good, tmp_path):
    ckpt = _checkpoints(tmp_path, 40)
    run = [*_base(good), f"trainer.default_local_dir={ckpt}", "trainer.total_training_steps=40"]
    with pytest.raises(PreflightError) as err:
        run_preflight(_compose(run))
    assert "holds a finished run at step 40" in str(err.value)
    assert "pass output_dir=... or trainer.resume_mode=disable to train again" in str(err.value)
    run_preflight(_compose([*run, "trainer.resume_mode=disable"]))  # training again from scratch is fine
    run_preflight(_compose([*run[:-1], "trainer.total_training_steps=60"]))  # training on from step 40 too


def test_unfinished_output_dir_resumes(good, tmp_path):
    ckpt = _checkpoints(tmp_path, 20)
    run_preflight(
        _compose([*_base(good), f"trainer.default_local_dir={ckpt}", "trainer.total_training_steps=40"])
    )


@pytest.mark.timeout(120)
def test_main_fails_in_seconds_before_ray(good, tmp_path):
    """The whole entry point stops before Ray starts (verl alone fails after ~80 s of start-up)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "srpo.main",
            "--config-name",
            "srpo",
            *_base(good),
            "algorithm.adv_estimator=srpoo",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=110,
    )
    assert out.returncode == 2, out.stderr[-2000:]
    assert "srpo: algorithm.adv_estimator='srpoo' is not a registered advantage estimator" in out.stderr
    # before Ray: the speed follows from that (about 18 s on an idle 2-core machine, most of it
    # importing verl); a wall-clock bound here would only measure the machine's load
    assert "ray" not in out.stdout.lower() and "Started a local Ray instance" not in out.stderr


def test_transfer_queue_metrics_need_the_controller_actor(good):
    with_metrics = [
        *_base(good),
        "+transfer_queue.controller.in_driver=true",
        "transfer_queue.metrics.enabled=true",
    ]
    with pytest.raises(
        PreflightError, match=r"transfer_queue\.metrics\.enabled=true .* Set one of them to false"
    ):
        run_preflight(_compose(with_metrics))
    run_preflight(
        _compose(
            [
                *_base(good),
                "+transfer_queue.controller.in_driver=false",
                "transfer_queue.metrics.enabled=true",
            ]
        )
    )
