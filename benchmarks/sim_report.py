"""Tables and plots of the prompt-selection simulation (benchmarks/simulate_selection.py).

Targets, per seed (every method of a seed runs the same world):

* ``GRPO final``: the accuracy GRPO has after its whole run; a method's cost is the rollouts it spent
  until its accuracy first reached that value, as a share of the rollouts GRPO itself needed.
* ``late``: 90% of the best final accuracy any method reached in that scenario and seed (the
  issue's "late target"), same ratio.

Ratios are given as the mean over seeds with the range in brackets; "never" means the target was not
reached in some seed.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import table, write_json
from srpo.tools.report import plt, save_figure

SMOOTH = 25  # steps in the moving average of the zero-advantage share


def _by(results: Sequence[Any]) -> dict[str, dict[str, dict[int, Any]]]:
    out: dict[str, dict[str, dict[int, Any]]] = defaultdict(lambda: defaultdict(dict))
    for r in results:
        out[r.scenario][r.method][r.seed] = r
    return out


def targets(runs: dict[str, dict[int, Any]]) -> dict[int, dict[str, float]]:
    """Per seed: GRPO's final accuracy and the late target (90% of the best final accuracy)."""
    out = {}
    for seed, grpo in runs["grpo"].items():
        best = max(r[seed].accuracy[-1] for r in runs.values() if seed in r)
        out[seed] = {"grpo_final": grpo.accuracy[-1], "late": 0.9 * best}
    return out


def ratios(
    runs: dict[str, dict[int, Any]], method: str, levels: dict[int, dict[str, float]], target: str
) -> list[float]:
    """Per seed: rollouts ``method`` needed to reach the target / rollouts GRPO needed."""
    out = []
    for seed, run in runs[method].items():
        level = levels[seed][target]
        base = runs["grpo"][seed].rollouts_to(level)
        # GRPO never reached the target (or at once): no ratio to give.
        out.append(run.rollouts_to(level) / base if 0 < base < math.inf else float("nan"))
    return out


def _fmt_ratio(values: list[float]) -> str:
    if not values:
        return "-"
    if any(math.isnan(v) for v in values):
        return "GRPO never reached it"
    if any(math.isinf(v) for v in values):
        reached = [v for v in values if not math.isinf(v)]
        return f"never ({len(values) - len(reached)}/{len(values)} seeds)"
    mean = statistics.fmean(values)
    return f"{mean:.2f} [{min(values):.2f}-{max(values):.2f}]" if len(values) > 1 else f"{mean:.2f}"


def _fmt_spread(values: list[float], digits: int = 3) -> str:
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.pstdev(values):.{digits}f}"


def method_rows(runs: dict[str, dict[int, Any]], methods: Sequence[str], switch_step: int) -> list[list[str]]:
    """One table row per method of a scenario (targets from all of the scenario's runs)."""
    levels = targets(runs) if "grpo" in runs else {}
    rows = []
    for method in methods:
        seeds = runs[method]
        rs = list(seeds.values())
        zero1 = [statistics.fmean(r.zero_adv_share[:switch_step]) for r in rs]
        zero2 = [statistics.fmean(r.zero_adv_share[switch_step:]) for r in rs]
        rows.append(
            [
                method,
                _fmt_spread([r.accuracy[-1] for r in rs]),
                _fmt_ratio(ratios(runs, method, levels, "grpo_final")) if levels else "-",
                _fmt_ratio(ratios(runs, method, levels, "late")) if levels else "-",
                f"{statistics.fmean(r.total_rollouts for r in rs) / 1e6:.1f}M",
                f"{statistics.fmean(zero1):.2f} / {statistics.fmean(zero2):.2f}",
                f"{statistics.fmean(r.pool[-1][1] if r.pool else 0 for r in rs):.0f}",
                f"{statistics.fmean(r.epochs for r in rs):.0f}",
            ]
        )
    return rows


HEADER = [
    "method",
    "final accuracy (mean ± sd)",
    "rollouts to GRPO final, / GRPO",
    "rollouts to late target, / GRPO",
    "rollouts in run",
    "zero-adv share stage 1 / 2",
    "pool at last epoch end",
    "epochs",
]


def plot_scenario(
    name: str, runs: dict[str, dict[int, Any]], methods: Sequence[str], switch_step: int, path: Path
) -> Path:
    """Accuracy vs rollouts, zero-advantage share per step, eligible pool per epoch (first seed)."""
    fig, (ax_acc, ax_zero, ax_pool) = plt.subplots(1, 3, figsize=(15, 4))
    for method in methods:
        seeds = runs[method]
        r = seeds[min(seeds)]
        ax_acc.plot(np.asarray(r.eval_rollouts) / 1e6, r.accuracy, label=method)
        zero = np.convolve(r.zero_adv_share, np.ones(SMOOTH) / SMOOTH, mode="valid")
        ax_zero.plot(np.arange(len(zero)) + SMOOTH, zero, label=method)
        if r.pool:
            steps, pool = zip(*r.pool, strict=True)
            ax_pool.step(steps, pool, where="post", label=method)
    ax_acc.set(xlabel="rollouts (millions)", ylabel="accuracy (all prompts)", title=f"{name}: accuracy")
    ax_zero.set(xlabel="step", ylabel=f"share ({SMOOTH}-step mean)", title="zero-advantage groups rolled out")
    ax_pool.set(xlabel="step", ylabel="prompts", title="eligible pool at epoch ends", yscale="log")
    for ax in (ax_zero, ax_pool):
        ax.axvline(switch_step, color="grey", lw=0.8, ls=":")
    ax_acc.legend(fontsize=7)
    return save_figure(fig, path)


def write_report(
    results: Sequence[Any],
    out: Path,
    scenarios: dict[str, Any],
    command: str,
    main_methods: Sequence[str],
    cost_table: str = "",
) -> Path:
    """sim.md with one table per scenario (main methods), the readmit sweep, plots, cost table;
    sim.json with one summary per run."""
    out.mkdir(parents=True, exist_ok=True)
    grouped = _by(results)
    seeds = sorted({r.seed for r in results})
    lines = [
        "# Paper-scale simulation of prompt selection (a simulation, not training)",
        "",
        f"Command: `{command}` (seeds {seeds}; {sum(r.wall_s for r in results):.0f} s of runs).",
        "The real `SRPOSampler` / `HistoryResampling` / `Curriculum` / `PreRolloutSkipper` choose the "
        "prompts; a synthetic learner (`benchmarks/sim_learner.py`) plays the policy. 256 prompts x 32 "
        "rollouts per step. Targets and ratios: `benchmarks/sim_report.py`.",
        "",
    ]
    for name, runs in grouped.items():
        sc = scenarios[name]
        main = [m for m in runs if m in main_methods]
        sweep = [m for m in runs if m not in main_methods or m in ("grpo", "srpo")]
        lines += [
            f"## {name}",
            "",
            f"{sc.description}. Set: {sc.learner.n_math} math + {sc.learner.n_code} code prompts; "
            f"{sc.steps} steps, stage 2 (math + code) from step {sc.switch_step}.",
            "",
            *table(HEADER, method_rows(runs, main, sc.switch_step)),
            "",
        ]
        plot = plot_scenario(name, runs, main, sc.switch_step, out / f"sim-{name}.png")
        lines += [f"![{name}]({plot.name})", ""]
        if len(sweep) > 2:
            lines += ["History Resampling settings (`readmit_*`, `min_pool_size`, `fill_batch`):", ""]
            lines += [*table(HEADER, method_rows(runs, sweep, sc.switch_step)), ""]
            plot = plot_scenario(name, runs, sweep, sc.switch_step, out / f"sim-{name}-readmit.png")
            lines += [f"![{name}: re-admission settings]({plot.name})", ""]
    if cost_table:
        lines += ["## Bookkeeping cost vs pool size", "", cost_table, ""]
    summary = [
        {
            "scenario": r.scenario,
            "method": r.method,
            "seed": r.seed,
            "final_accuracy": r.accuracy[-1],
            "rollouts": r.total_rollouts,
            "epochs": r.epochs,
            "final_pool": r.pool[-1][1] if r.pool else None,
            "mean_zero_adv_share": statistics.fmean(r.zero_adv_share),
            "wall_s": r.wall_s,
        }
        for r in results
    ]
    write_json(out / "sim.json", summary, indent=1)
    path = out / "sim.md"
    path.write_text("\n".join(lines))
    return path
