"""The ladder task: chains that are right step by step, disjoint splits, one data source per rung, and a
config that composes, with every study baseline, into a valid run whose bad keys are named."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from srpo.algorithm.config import load_srpo_config
from srpo.embedded.ladder import (
    MAX_RUNG,
    data_source,
    generate_ladder,
    generate_rung,
    make_chain,
    write_ladder,
)
from srpo.embedded.probe import grade_math
from srpo.embedded.setup import embedded_task, ladder_settings

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")
STEP = re.compile(r"^(\d+) ([+-]) (\d+) = (\d+)$")


def _compose(name: str, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        return compose(config_name=name, overrides=list(overrides))


@pytest.mark.parametrize("rung", range(1, MAX_RUNG + 1))
def test_chains_are_table_facts_in_a_row(rung: int) -> None:
    rng = random.Random(rung)
    for _ in range(200):
        p = make_chain(rng, rung)
        lines = p.solution.split("\n")
        assert len(lines) == rung + 1 and lines[-1] == f"\\boxed{{{p.ground_truth}}}"
        value = None
        for i, line in enumerate(lines[:-1]):
            a, sign, b, result = STEP.match(line).groups()
            a, b, result = int(a), int(b), int(result)
            assert value is None or a == value  # each step starts from the last result
            assert 0 <= b <= 9 and result == (a + b if sign == "+" else a - b)
            assert sign == ("+" if i % 2 == 0 else "-")
            assert (0 <= a <= 9) if sign == "+" else (0 <= result <= 9)  # addition facts and inverses
            value = result
        # the question is the same chain as the worked steps, and Python agrees with the answer
        expr = p.question.removeprefix("Compute ").split(".")[0]
        assert eval(expr) == int(p.ground_truth)  # noqa: S307 - digits and +/- only, made above
        assert expr.count("+") + expr.count("-") == rung and p.level == rung
        assert grade_math(p.solution, p.ground_truth)


def test_splits_are_disjoint_and_interleaved_by_rung() -> None:
    train = generate_ladder([1, 2, 3, 4, 5, 6], "train", 8, seed=0)
    test = generate_ladder([1, 2, 3, 4, 5, 6], "test", 16, seed=0)
    assert not {p.question for p in train} & {p.question for p in test}
    assert len({p.question for p in test}) == len(test) == 96
    assert [p.level for p in train[:12]] == [1, 2, 3, 4, 5, 6] * 2
    # deterministic by seed, different across seeds
    assert generate_rung(4, "train", 8, 0) == generate_rung(4, "train", 8, 0)
    assert generate_rung(4, "train", 8, 0) != generate_rung(4, "train", 8, 1)


def test_bad_rungs_and_sizes_fail_clearly() -> None:
    with pytest.raises(ValueError, match="rung must be an integer in 1..6"):
        make_chain(random.Random(0), 7)
    with pytest.raises(ValueError, match="rungs repeat"):
        generate_ladder([1, 1], "train", 2, 0)
    with pytest.raises(ValueError, match="fewer than 500 distinct test"):
        generate_rung(1, "test", 500, 0)  # rung 1 has 100 questions in all


def test_rows_name_their_rung(tmp_path: Path) -> None:
    paths = write_ladder(tmp_path, [1, 4, 6], 3, 2, seed=0)
    rows = pq.read_table(paths["test"]).to_pylist()
    assert [r["data_source"] for r in rows] == [data_source(r) for r in (1, 4, 6)] * 2
    assert all(r["extra_info"]["domain"] == "math" and r["ability"] == "math" for r in rows)
    assert [r["extra_info"]["difficulty"] for r in rows[:3]] == ["1", "4", "6"]
    assert len(pq.read_table(paths["train"])) == 9


def test_ladder_config_composes_and_is_cheap() -> None:
    cfg = _compose("embedded", "+tasks=ladder")
    assert embedded_task(cfg) == "ladder" and embedded_task(_compose("embedded")) == "default"
    rungs, n_train, n_test = ladder_settings(cfg)
    assert rungs == [1, 2, 3, 4, 5, 6]
    steps_per_epoch = len(rungs) * n_train // cfg.data.train_batch_size
    assert cfg.trainer.total_training_steps >= 10 * steps_per_epoch  # >= 10 History Resampling epoch ends
    assert load_srpo_config(cfg.srpo).curriculum.stage2_domains == ["math"]
    # verl asserts that every micro batch divides a step's sequences (prompts x rollouts)
    sequences = cfg.data.train_batch_size * cfg.actor_rollout_ref.rollout.n
    for micro in (
        cfg.actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu,
        cfg.actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu,
        cfg.actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu,
    ):
        assert micro is None or sequences % micro == 0
    # the default run is untouched
    assert _compose("embedded").data.train_batch_size == 16


@pytest.mark.parametrize("method", ["srpo", "grpo", "dapo", "grpo_skip", "srpo_drop_all_wrong"])
def test_study_baselines_compose_over_the_ladder(method: str) -> None:
    cfg = _compose("embedded", "+tasks=ladder", f"+baselines={method}")
    load_srpo_config(cfg.srpo)
    assert cfg.embedded.task == "ladder" and cfg.data.train_batch_size == 8
    assert cfg.actor_rollout_ref.rollout.n == 4
    # One stage on the ladder whatever the method: a method overlay must not re-enable the switch
    # (which would close an epoch early at switch_step, from math to math).
    assert cfg.srpo.curriculum.switch_at == "never"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("task", "stairs", "embedded.task='stairs'"),
        ("ladder.rungs", [1, 7], r"embedded.ladder.rungs=\[1, 7\]"),
        ("ladder.rungs", [], "embedded.ladder.rungs: list the rungs"),
        ("ladder.n_train_per_rung", 0, "embedded.ladder.n_train_per_rung=0"),
    ],
)
def test_bad_ladder_keys_are_named(key: str, value: object, message: str) -> None:
    cfg = _compose("embedded", "+tasks=ladder")
    with open_dict(cfg):
        node = cfg.embedded
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    with pytest.raises(ValueError, match=message):
        embedded_task(cfg)
        ladder_settings(cfg)
