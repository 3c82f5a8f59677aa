"""Paper-scale simulation of prompt selection (a simulation, not training).

The project's real ``srpo.algorithm.sampler.SRPOSampler`` (with its ``srpo.algorithm.history.HistoryResampling``,
``srpo.algorithm.curriculum.Curriculum`` and ``srpo.algorithm.skipping.PreRolloutSkipper``) chooses the prompts; a
synthetic learner (``benchmarks/sim_learner.py``, assumptions documented there) plays the policy.
That isolates what the issue asks about, which prompts get the rollouts, at the paper's scale: 256
prompts x 32 rollouts per step, tens of thousands of prompts, 1,000+ steps, two stages (math, then
math + code). Every method runs the same worlds (same prompts and difficulties per seed).

    python -m benchmarks.simulate_selection                      # everything: sim.md, plots, cost table
    python -m benchmarks.simulate_selection --quick              # a small smoke run (seconds)
    python -m benchmarks.simulate_selection --scenarios base --methods srpo grpo

Methods (how prompts are chosen; the learner is the same):

* ``grpo``: the sampler with History Resampling off (every prompt stays in the pool).
* ``srpo``: History Resampling as in the paper (drop all-correct prompts at each epoch end).
* ``srpo_drop_all_wrong``: History Resampling that drops all-wrong prompts too.
* ``srpo_max_all_wrong``: keeps all-wrong prompts, but drops those all wrong 2 epochs in a row
  (``max_all_wrong_epochs: 2``).
* ``dapo``: DAPO dynamic sampling: per step, roll out batches until 256 groups with nonzero advantage
  are collected (zero-advantage groups are generated, paid for and thrown away), as verl's
  ``algorithm.filter_groups`` does for ``baselines/dapo``.
* ``grpo_skip``: GRPO with GRESO-style pre-rollout skipping (``srpo.algorithm.skipping``).
* ``srpo_readmit2`` / ``srpo_readmit5`` (``readmit_after_epochs``), ``srpo_min_pool`` (``min_pool_size:
  1024``, ``refill: readmit_oldest``), ``srpo_fill_batch`` (``fill_batch``): History Resampling's
  re-admission settings, swept on the scenarios of ``--readmit-scenarios``.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import REPO, command_line
from benchmarks.sim_cost import BEFORE_REF, SIZES, cost_table
from benchmarks.sim_learner import LearnerSpec, SyntheticLearner
from benchmarks.sim_report import write_report
from srpo.algorithm.config import CurriculumConfig, HistoryResamplingConfig, SkippingConfig, SRPOConfig
from srpo.algorithm.sampler import SRPOSampler

BATCH, GROUP = 256, 32
# verl's replay buffer would keep drawing; a cap keeps a world with no informative prompt finite.
DAPO_MAX_GEN_BATCHES = 16


@dataclass(frozen=True)
class Method:
    """How prompts are chosen: History Resampling settings, skipping, and DAPO's per-step filter."""

    history: dict[str, Any] = field(default_factory=dict)
    skipping: bool = False
    dynamic_sampling: bool = False


METHODS: dict[str, Method] = {
    "grpo": Method(history={"enable": False}),
    "srpo": Method(),
    "srpo_drop_all_wrong": Method(history={"keep_all_wrong": False}),
    "srpo_max_all_wrong": Method(history={"max_all_wrong_epochs": 2}),
    "dapo": Method(history={"enable": False}, dynamic_sampling=True),
    "grpo_skip": Method(history={"enable": False}, skipping=True),
    "srpo_readmit2": Method(history={"readmit_after_epochs": 2}),
    "srpo_readmit5": Method(history={"readmit_after_epochs": 5}),
    "srpo_min_pool": Method(history={"min_pool_size": 1024, "refill": "readmit_oldest"}),
    "srpo_fill_batch": Method(history={"fill_batch": True}),
}
MAIN_METHODS = ("grpo", "srpo", "srpo_drop_all_wrong", "srpo_max_all_wrong", "dapo", "grpo_skip")
READMIT_METHODS = ("srpo", "srpo_readmit2", "srpo_readmit5", "srpo_min_pool", "srpo_fill_batch")


@dataclass(frozen=True)
class Scenario:
    """A simulated world and run length; ``switch_step`` starts stage 2 (math + code)."""

    description: str
    learner: LearnerSpec
    steps: int = 1200
    switch_step: int = 600


SCENARIOS: dict[str, Scenario] = {
    "base": Scenario(
        "16k math + 8k code prompts, difficulty spread around the starting skill", LearnerSpec()
    ),
    "easy": Scenario(
        "as base, but most prompts start solved (difficulty 1.5 lower)",
        LearnerSpec(math_difficulty=(-1.5, 1.6), code_difficulty=(-1.0, 1.6)),
    ),
    "solved": Scenario(
        "small set (3k math + 1.5k code), strong per-prompt learning: the pool drains as prompts are "
        "solved and never come back",
        LearnerSpec(n_math=3000, n_code=1500, eta_local=0.6),
    ),
    "unlearnable": Scenario(
        "as base, with 30% of prompts that no skill solves (e.g. wrong reference answers)",
        LearnerSpec(unlearnable_frac=0.3),
    ),
    "forgetting": Scenario(
        "as base with strong per-prompt learning that fades (2%/step): solved prompts drift back down",
        LearnerSpec(eta_local=0.6, forget_rate=0.02),
    ),
    "saturating": Scenario(
        "as base, but the shared skill stops growing after +1.0 (model capacity): hard prompts stay hard",
        LearnerSpec(capacity=1.0),
    ),
    "large_pool": Scenario(
        "160k math + 80k code prompts: fewer than 2 epochs, History Resampling rarely acts",
        LearnerSpec(n_math=160_000, n_code=80_000),
    ),
}


@dataclass
class RunResult:
    """What one simulated run produced, step by step."""

    scenario: str
    method: str
    seed: int
    eval_steps: list[int] = field(default_factory=list)
    eval_rollouts: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    zero_adv_share: list[float] = field(default_factory=list)  # per step, of the groups rolled out
    rollouts_per_step: list[int] = field(default_factory=list)
    pool: list[tuple[int, int]] = field(default_factory=list)  # (step, eligible pool) at epoch ends
    epochs: int = 0
    wall_s: float = 0.0

    @property
    def total_rollouts(self) -> int:
        return int(sum(self.rollouts_per_step))

    def rollouts_to(self, target: float) -> float:
        """Rollouts spent when the accuracy first reached ``target`` (inf if never)."""
        for rollouts, acc in zip(self.eval_rollouts, self.accuracy, strict=True):
            if acc >= target:
                return float(rollouts)
        return float("inf")


def make_config(method: Method, seed: int, switch_step: int) -> SRPOConfig:
    """The validated ``srpo`` config a real run of this method would use."""
    return SRPOConfig(
        seed=seed,
        history=HistoryResamplingConfig(**method.history),
        curriculum=CurriculumConfig(switch_at="step", switch_step=switch_step),
        skipping=SkippingConfig(enable=method.skipping),
    ).validate()


def simulate(
    scenario_name: str,
    method_name: str,
    seed: int,
    scenario: Scenario | None = None,
    batch: int = BATCH,
    group: int = GROUP,
    eval_every: int = 5,
) -> RunResult:
    """Run one method on one world for ``scenario.steps`` steps, through the real sampler."""
    scenario = scenario or SCENARIOS[scenario_name]
    method = METHODS[method_name]
    start = time.perf_counter()
    learner = SyntheticLearner(scenario.learner, np.random.default_rng(seed))  # same world per seed
    rollout_rng = np.random.default_rng([seed, 1])
    ids = np.array([f"p{i}" for i in range(len(learner))], dtype=object)
    sampler = SRPOSampler(list(ids), list(learner.domains), make_config(method, seed, scenario.switch_step))
    result = RunResult(scenario_name, method_name, seed)
    rollouts = 0
    for step in range(1, scenario.steps + 1):
        sampler.set_step(step)
        rows, n_correct, generated, zero = _one_step(sampler, learner, ids, method, batch, group, rollout_rng)
        learner.learn(rows, n_correct, group, batch)
        rollouts += generated * group
        result.rollouts_per_step.append(generated * group)
        result.zero_adv_share.append(zero / generated)
        if len(sampler.reports) > result.epochs:
            result.epochs = len(sampler.reports)
            result.pool.append((step, _eligible_pool(sampler)))
        if step % eval_every == 0 or step == scenario.steps:
            result.eval_steps.append(step)
            result.eval_rollouts.append(rollouts)
            result.accuracy.append(learner.accuracy()["all"])
    result.wall_s = time.perf_counter() - start
    return result


def _one_step(
    sampler: SRPOSampler,
    learner: SyntheticLearner,
    ids: np.ndarray,
    method: Method,
    batch: int,
    group: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Draw, roll out and record one step's prompts: (trained rows, their correct counts, groups
    generated, zero-advantage groups among them)."""
    kept_rows, kept_correct = [], []
    generated = zero = 0
    for _ in range(DAPO_MAX_GEN_BATCHES if method.dynamic_sampling else 1):
        rows = np.asarray(sampler.draw(batch), dtype=np.int64)
        n_correct = learner.rollout(rows, group, rng)
        sampler.record(np.repeat(ids[rows], group), _rewards(n_correct, group))
        informative = (n_correct > 0) & (n_correct < group)
        generated += len(rows)
        zero += int((~informative).sum())
        if not method.dynamic_sampling:
            return rows, n_correct, generated, zero
        kept_rows.append(rows[informative])
        kept_correct.append(n_correct[informative])
        if sum(len(r) for r in kept_rows) >= batch:
            break
    # DAPO trains on exactly one batch of informative groups; the surplus is discarded.
    return np.concatenate(kept_rows)[:batch], np.concatenate(kept_correct)[:batch], generated, zero


def _rewards(n_correct: np.ndarray, group: int) -> np.ndarray:
    """Per-rollout 0/1 rewards, ``n_correct[i]`` ones in group ``i`` (order within a group is moot)."""
    return (np.arange(group)[None, :] < n_correct[:, None]).astype(np.float64).ravel()


def _eligible_pool(sampler: SRPOSampler) -> int:
    """Prompts the current stage can draw: in the pool and of an active domain."""
    return int((sampler.history.active & sampler.in_stage).sum())


def scaled(name: str, scale: dict[str, Any] | None) -> Scenario:
    """The scenario ``name``, with ``scale`` (``--quick``) overriding run length and set sizes."""
    scenario = SCENARIOS[name]
    if not scale:
        return scenario
    learner = replace(scenario.learner, **scale.get("learner", {}))
    return replace(scenario, learner=learner, **{k: v for k, v in scale.items() if k != "learner"})


def run_all(
    scenarios: list[str], methods: list[str], seeds: list[int], scale: dict[str, Any] | None = None
) -> list[RunResult]:
    """Every (scenario, method, seed), one after another, with one progress line per run."""
    results = []
    total = len(scenarios) * len(methods) * len(seeds)
    for name in scenarios:
        for method in methods:
            for seed in seeds:
                res = simulate(name, method, seed, scaled(name, scale))
                results.append(res)
                print(
                    f"[{len(results)}/{total}] {name:11s} {method:20s} seed {seed}: "
                    f"acc {res.accuracy[-1]:.3f}, {res.total_rollouts / 1e6:.2f}M rollouts, "
                    f"{res.epochs} epochs, {res.wall_s:.1f}s",
                    flush=True,
                )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--methods", nargs="+", default=None, choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--readmit-scenarios", nargs="*", default=["base", "solved", "unlearnable", "forgetting"]
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "sim")
    parser.add_argument("--quick", action="store_true", help="small worlds and 120 steps (a smoke run)")
    parser.add_argument("--cost-sizes", nargs="*", type=int, default=list(SIZES), help="none: no cost table")
    parser.add_argument("--before-ref", default=BEFORE_REF, help="git ref of the 'before' cost column")
    args = parser.parse_args(argv)
    scale = None
    if args.quick:
        scale = {"steps": 120, "switch_step": 60, "learner": {"n_math": 1500, "n_code": 750}}
    methods = args.methods or list(MAIN_METHODS)
    results = run_all(args.scenarios, methods, args.seeds, scale)
    readmit = [s for s in args.readmit_scenarios if s in args.scenarios]
    extra = [m for m in READMIT_METHODS if m not in methods]
    if readmit and extra and args.methods is None:
        results += run_all(readmit, extra, args.seeds, scale)
    costs = ""
    if args.cost_sizes:
        print(
            f"timing the sampler's bookkeeping at {args.cost_sizes} prompts, {args.before_ref} vs now",
            flush=True,
        )
        try:
            costs = cost_table(args.cost_sizes, args.before_ref)
        except subprocess.CalledProcessError as err:  # e.g. a shallow clone without the 'before' commit
            costs = f"(not measured: `{' '.join(err.cmd)}` failed: {(err.stderr or '').strip()[:200]})"
    used = {name: scaled(name, scale) for name in args.scenarios}
    path = write_report(
        results, args.out, used, command_line("benchmarks.simulate_selection"), MAIN_METHODS, costs
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
