"""Start-up checks stop a misconfigured run with one message naming the problem and the fix."""

import json
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from srpo.main import CONFIG_DIR
from srpo.preflight import PreflightError, run_preflight


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
    ],
)
def test_bad_config_is_named(good, override, expected):
    with pytest.raises(PreflightError) as err:
        run_preflight(_compose([*_base(good), override]))
    assert expected in str(err.value)


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
