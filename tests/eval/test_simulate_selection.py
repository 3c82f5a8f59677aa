"""benchmarks.simulate_selection drives the project's real sampler classes with a synthetic learner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks import sim_cost, sim_report
from benchmarks import simulate_selection as sim
from benchmarks.sim_learner import LearnerSpec, SyntheticLearner, group_signal
from benchmarks.sim_report import write_report
from srpo.algorithm.history import HistoryResampling
from srpo.algorithm.sampler import SRPOSampler
from srpo.algorithm.skipping import PreRolloutSkipper

TINY = sim.Scenario("tiny", LearnerSpec(n_math=300, n_code=150, eta_local=0.6), steps=60, switch_step=30)
KW = {"scenario": TINY, "batch": 32, "group": 8, "eval_every": 5}


def _count_calls(monkeypatch, cls, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(cls, name)

    def wrapper(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, wrapper)
    return calls


def test_srpo_runs_through_the_real_sampler_and_history(monkeypatch):
    draws = _count_calls(monkeypatch, SRPOSampler, "draw")
    ends = _count_calls(monkeypatch, HistoryResampling, "end_epoch")
    res = sim.simulate("tiny", "srpo", 0, **KW)
    assert len(draws) == TINY.steps
    assert len(ends) == res.epochs > 3
    assert res.pool[-1][1] < 450  # solved prompts left the (math + code) pool
    assert res.total_rollouts == TINY.steps * 32 * 8


def test_grpo_keeps_the_pool_and_grpo_skip_uses_the_real_skipper(monkeypatch):
    grpo = sim.simulate("tiny", "grpo", 0, **KW)
    assert {pool for _, pool in grpo.pool} == {300, 450}  # stage 1 math only, then math + code
    keeps = _count_calls(monkeypatch, PreRolloutSkipper, "keeps")
    sim.simulate("tiny", "grpo_skip", 0, **KW)
    assert len(keeps) >= TINY.steps * 32


def test_dapo_trains_only_on_informative_groups_and_pays_for_the_rest(monkeypatch):
    trained: list[np.ndarray] = []
    original = SyntheticLearner.learn

    def learn(self, rows, n_correct, group_size, batch_size):
        trained.append(np.asarray(n_correct))
        return original(self, rows, n_correct, group_size, batch_size)

    monkeypatch.setattr(SyntheticLearner, "learn", learn)
    res = sim.simulate("tiny", "dapo", 0, **KW)
    assert all(((k > 0) & (k < 8)).all() for k in trained)
    assert max(len(k) for k in trained) == 32
    assert res.total_rollouts > TINY.steps * 32 * 8  # zero-advantage groups were generated too


def test_same_seed_same_world_across_methods():
    a = sim.simulate("tiny", "grpo", 3, **KW)
    b = sim.simulate("tiny", "srpo", 3, **KW)
    assert a.accuracy[0] == pytest.approx(b.accuracy[0], abs=0.02)  # first eval: same prompts, 5 steps in
    assert a.accuracy != b.accuracy


def test_learner_signal_learning_unlearnable_and_forgetting():
    assert group_signal(np.array([0, 4, 8, 2]), 8).tolist() == [0.0, 1.0, 0.0, 0.75]
    spec = LearnerSpec(n_math=200, n_code=0, unlearnable_frac=0.5, forget_rate=0.1)
    learner = SyntheticLearner(spec, np.random.default_rng(0))
    rows = np.arange(200)
    before = learner.solve_rate(rows)
    learner.learn(rows, np.full(200, 4), 8, 200)  # every group half right: full signal
    after = learner.solve_rate(rows)
    assert (after[learner.learnable] > before[learner.learnable]).all()
    assert (after[~learner.learnable] == 0).all() and (~learner.learnable).sum() > 50
    learned = learner.local.copy()
    learner.learn(rows[:0], np.zeros(0, dtype=int), 8, 200)  # a step that trains nothing
    assert np.allclose(learner.local, 0.9 * learned)
    capped = SyntheticLearner(replace(spec, capacity=0.01, forget_rate=0.0), np.random.default_rng(0))
    for _ in range(50):
        capped.learn(rows, np.full(200, 4), 8, 200)
    assert capped.gain["math"] <= 0.01 + 1e-12


def test_report_writes_tables_and_plots(tmp_path):
    results = [sim.simulate("tiny", m, s, **KW) for m in ("grpo", "srpo", "srpo_readmit2") for s in (0, 1)]
    path = write_report(
        results, tmp_path, {"tiny": TINY}, "python -m x", sim.MAIN_METHODS, cost_table="| a |"
    )
    text = path.read_text()
    assert "| grpo | " in text and "| srpo_readmit2 | " in text and "| a |" in text
    assert (tmp_path / "sim-tiny.png").stat().st_size > 10_000
    assert (tmp_path / "sim-tiny-readmit.png").stat().st_size > 10_000
    runs = json.loads((tmp_path / "sim.json").read_text())
    assert {(r["method"], r["seed"]) for r in runs} == {
        (m, s) for m in ("grpo", "srpo", "srpo_readmit2") for s in (0, 1)
    }


def test_cost_measure_times_every_phase_on_the_real_sampler():
    out = sim_cost.measure([3000])
    assert set(out[3000]) == set(sim_cost.PHASES) and all(v > 0 for v in out[3000].values())


def test_cost_before_times_the_old_tree_not_the_installed_one(tmp_path):
    # fd347fe predates srpo/algorithm/: the editable install must not answer for the old tree
    root = sim_cost.export_srpo(sim_cost.BEFORE_REF, tmp_path)
    assert not (root / "srpo" / "algorithm").exists()
    probe = (
        "import sys; from benchmarks.sim_cost import sampler_api; "
        "print(sys.modules[sampler_api()[3].__module__].__file__)"
    )
    env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{sim_cost.REPO}")
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == (root / "srpo" / "sampler.py").resolve()
    out = sim_cost.measure_in_subprocess(root, [2000])  # checks the same itself
    assert set(out[2000]) == set(sim_cost.PHASES)


def test_ratio_is_undefined_when_grpo_never_reaches_the_target():
    grpo = sim.RunResult("t", "grpo", 0, eval_rollouts=[10, 20], accuracy=[0.5, 0.6])
    srpo = sim.RunResult("t", "srpo", 0, eval_rollouts=[10, 20], accuracy=[0.6, 0.8])
    runs = {"grpo": {0: grpo}, "srpo": {0: srpo}}
    levels = sim_report.targets(runs)  # late target 0.72: GRPO never gets there
    assert sim_report._fmt_ratio(sim_report.ratios(runs, "srpo", levels, "late")) == "GRPO never reached it"
    assert sim_report.ratios(runs, "srpo", levels, "grpo_final") == [0.5]
