"""Turn a run's metric log into pictures and a summary people can read at a glance.

verl's ``file`` logger writes one JSON line per step (``{"step": n, "data": {...}}``). A resumed
run appends a new file, so this module reads every ``metrics*.jsonl`` in the run folder, keeps the
last record of each step, and draws:

* ``reward.png``: mean reward and per-domain training accuracy vs step, with the stage switch
  marked, beside held-out accuracy per data source at each validation;
* ``pool.png``: History Resampling's pool and the composition of each epoch (too easy / all wrong /
  mixed);
* ``signal.png``: the share of zero-advantage groups and the mean response length vs step.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REWARD_KEY = "critic/score/mean"
LENGTH_KEY = "response_length/mean"


def load_metrics(paths: Iterable[Path]) -> dict[int, dict[str, float]]:
    """Step -> metrics, from verl file-logger JSON lines (later files win for repeated steps)."""
    steps: dict[int, dict[str, float]] = {}
    for path in sorted(paths, key=lambda p: p.stat().st_mtime):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            data = {k: v for k, v in record.get("data", {}).items() if isinstance(v, int | float)}
            steps.setdefault(int(record["step"]), {}).update(data)
    return dict(sorted(steps.items()))


def series(metrics: dict[int, dict[str, float]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric, skipping steps that lack it or have a non-finite value."""
    xs, ys = [], []
    for step, data in metrics.items():
        value = data.get(key)
        if value is not None and math.isfinite(value):
            xs.append(step)
            ys.append(float(value))
    return xs, ys


def stage_switch_step(metrics: dict[int, dict[str, float]]) -> int | None:
    """First step logged in stage 2, if any."""
    return next((s for s, d in metrics.items() if d.get("srpo/stage") == 2.0), None)


def epoch_composition(metrics: dict[int, dict[str, float]]) -> list[dict[str, float]]:
    """One row per finished epoch: the fractions History Resampling reported and the pool size."""
    rows: dict[int, dict[str, float]] = {}
    for data in metrics.values():
        epoch = data.get("srpo/epoch")
        if epoch is None or epoch < 1 or "srpo/too_easy_frac" not in data:
            continue
        rows[int(epoch) - 1] = {
            "epoch": int(epoch) - 1,
            "too_easy": data["srpo/too_easy_frac"],
            "all_wrong": data["srpo/all_wrong_frac"],
            "mixed": data["srpo/mixed_frac"],
            "pool_size": data["srpo/pool_size"],
        }
    return [rows[e] for e in sorted(rows)]


def _mark_switch(ax: Any, switch: int | None) -> None:
    if switch is not None:
        ax.axvline(switch, color="grey", linestyle="--", linewidth=1)
        ax.text(switch, ax.get_ylim()[1], " stage 2", va="top", fontsize=8, color="grey")


def plot_run(metrics: dict[int, dict[str, float]], out_dir: Path) -> list[Path]:
    """Write the PNG plots into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    switch = stage_switch_step(metrics)
    written = []

    fig, (ax, ax_val) = plt.subplots(1, 2, figsize=(12, 4))
    ax.plot(*series(metrics, REWARD_KEY), label="mean reward", color="black")
    domain_keys = sorted({k for d in metrics.values() for k in d if k.startswith("srpo/acc/")})
    for key in domain_keys:
        ax.plot(*series(metrics, key), label=f"accuracy ({key.rsplit('/', 1)[-1]})", marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("reward / accuracy")
    ax.set_title("Training reward and per-domain accuracy")
    ax.legend(loc="best", fontsize=8)
    _mark_switch(ax, switch)
    val_keys = sorted({k for d in metrics.values() for k in d if k.startswith("val-core/") and "/acc/" in k})
    for key in val_keys:
        ax_val.plot(*series(metrics, key), label=key[len("val-core/") : key.index("/acc/")], marker="o")
    ax_val.set_ylim(-0.02, 1.02)
    ax_val.set_xlabel("step")
    ax_val.set_ylabel("accuracy")
    ax_val.set_title("Held-out accuracy")
    if val_keys:
        ax_val.legend(loc="best", fontsize=8)
    _mark_switch(ax_val, switch)
    written.append(save_figure(fig, out_dir / "reward.png"))

    fig, (ax_pool, ax_mix) = plt.subplots(1, 2, figsize=(10, 4))
    ax_pool.plot(*series(metrics, "srpo/pool_size"), color="tab:blue")
    ax_pool.set_xlabel("step")
    ax_pool.set_ylabel("prompts in pool")
    ax_pool.set_title("History Resampling pool")
    _mark_switch(ax_pool, switch)
    rows = epoch_composition(metrics)
    if rows:
        epochs = [r["epoch"] for r in rows]
        bottom = [0.0] * len(rows)
        for key, color in (("mixed", "tab:green"), ("all_wrong", "tab:red"), ("too_easy", "tab:grey")):
            vals = [r[key] for r in rows]
            ax_mix.bar(epochs, vals, bottom=bottom, color=color, label=key.replace("_", " "))
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax_mix.legend(fontsize=8)
    ax_mix.set_xlabel("epoch")
    ax_mix.set_ylabel("share of prompts seen")
    ax_mix.set_title("Epoch composition")
    written.append(save_figure(fig, out_dir / "pool.png"))

    fig, (ax_zero, ax_len) = plt.subplots(1, 2, figsize=(10, 4))
    ax_zero.plot(*series(metrics, "srpo/zero_adv_group_frac"), color="tab:orange")
    ax_zero.set_ylim(-0.02, 1.02)
    ax_zero.set_xlabel("step")
    ax_zero.set_title("Groups with zero advantage")
    _mark_switch(ax_zero, switch)
    ax_len.plot(*series(metrics, LENGTH_KEY), color="tab:purple")
    ax_len.set_xlabel("step")
    ax_len.set_title("Mean response length (tokens)")
    _mark_switch(ax_len, switch)
    written.append(save_figure(fig, out_dir / "signal.png"))
    return written


def save_figure(fig: Any, path: Path) -> Path:
    """Lay out, write at the project's plot resolution, and free the figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_summary(metrics: dict[int, dict[str, float]]) -> dict[str, Any]:
    """The numbers a reader wants first: steps, last reward and accuracies, pool, stage switch."""
    last = metrics[max(metrics)] if metrics else {}
    trained = [step for step, data in metrics.items() if REWARD_KEY in data]  # step 0 holds only validation
    first = metrics[min(trained)] if trained else {}
    pick = (REWARD_KEY, "srpo/pool_size", "srpo/zero_adv_group_frac", LENGTH_KEY)
    return {
        "steps": len(metrics),
        "stage_switch_step": stage_switch_step(metrics),
        "first": {k: first[k] for k in pick if k in first} | _domain_acc(first),
        "last": {k: last[k] for k in pick if k in last} | _domain_acc(last),
        "epochs": epoch_composition(metrics),
    }


def _domain_acc(data: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in data.items() if k.startswith("srpo/acc/")}
