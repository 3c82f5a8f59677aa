"""Before and after an ``srpo.main`` run: its assets, its output folder, its report.

* ``prepare_run``: makes ``output_dir`` absolute (Ray workers resolve paths on their own), points
  verl's file logger at a fresh ``metrics-<time>.jsonl`` there (a resumed run appends a new file), and,
  for the embedded default (``embedded.enable``), builds or reuses the tiny model and the bundled
  tasks and fills ``actor_rollout_ref.model.path`` and ``data.*_files`` with them.
* ``finish_run``: plots, ``summary.json`` and the held-out before/after table from verl's own
  validation metrics.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from srpo.tools.report import load_metrics, plot_run, run_summary

FAMILY_FILES = {"arith": "arith", "codegen": "codegen"}


def prepare_run(config: DictConfig) -> Path:
    """Resolve the output folder and the embedded assets; returns the output folder."""
    out = Path(os.path.expanduser(str(OmegaConf.select(config, "output_dir", default="runs/srpo")))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with open_dict(config):
        config.output_dir = str(out)
    if OmegaConf.select(config, "trainer.resume_mode", default="auto") == "disable":
        _set_aside_earlier_metrics(out)
    os.environ["VERL_FILE_LOGGER_PATH"] = str(out / f"metrics-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    os.environ.setdefault("TENSORBOARD_DIR", str(out / "tensorboard"))
    if OmegaConf.select(config, "embedded.enable", default=False):
        _prepare_embedded(config)
    return out


def _set_aside_earlier_metrics(out: Path) -> None:
    """A run that starts from scratch (``trainer.resume_mode=disable``) reports only its own metrics.

    The report reads every ``metrics-*.jsonl`` in the folder (a resumed run appends a new file), so
    the files of an earlier run there would mix into this one's table; they move to ``earlier-runs/``.
    """
    earlier = sorted(out.glob("metrics-*.jsonl"))
    if not earlier:
        return
    aside = out / "earlier-runs"
    aside.mkdir(exist_ok=True)
    for path in earlier:
        path.rename(aside / path.name)
    print(
        f"srpo: trainer.resume_mode=disable: moved {len(earlier)} earlier metrics file(s) to {aside}",
        flush=True,
    )


EMBEDDED_TASKS = ("default", "ladder")


def embedded_task(config: DictConfig) -> str:
    """``embedded.task``: ``default`` (arith + codegen) or ``ladder`` (srpo.embedded.ladder)."""
    task = str(OmegaConf.select(config, "embedded.task", default="default"))
    if task not in EMBEDDED_TASKS:
        raise ValueError(f"embedded.task={task!r}: expected one of {EMBEDDED_TASKS}")
    return task


def ladder_settings(config: DictConfig) -> tuple[list[int], int, int]:
    """``embedded.ladder``'s rungs and per-rung split sizes, checked, with errors naming the key."""
    from srpo.embedded.ladder import MAX_RUNG

    rungs = OmegaConf.select(config, "embedded.ladder.rungs", default=None)
    if rungs is None or len(rungs) == 0:
        raise ValueError(
            "embedded.ladder.rungs: list the rungs to train and hold out, e.g. [1, 2, 3, 4, 5, 6]"
        )
    rungs = list(rungs)
    bad = [r for r in rungs if not isinstance(r, int) or not 1 <= r <= MAX_RUNG]
    if bad or len(set(rungs)) != len(rungs):
        raise ValueError(f"embedded.ladder.rungs={rungs}: distinct integers in 1..{MAX_RUNG} expected")
    sizes = []
    for key in ("n_train_per_rung", "n_test_per_rung"):
        value = OmegaConf.select(config, f"embedded.ladder.{key}", default=None)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"embedded.ladder.{key}={value!r}: a positive integer expected")
        sizes.append(value)
    return rungs, sizes[0], sizes[1]


def _prepare_ladder(config: DictConfig) -> None:
    """Model and data of the ladder task: the ladder base model and one parquet per split."""
    from srpo.embedded.build import BuildSettings
    from srpo.embedded.ladder import write_ladder
    from srpo.embedded.ladder_model import LadderModelSettings, cached_ladder_model

    rungs, n_train, n_test = ladder_settings(config)
    emb = config.embedded
    if not OmegaConf.select(config, "actor_rollout_ref.model.path"):
        print("srpo: building (or reusing) the ladder base model ...", flush=True)
        model_dir = cached_ladder_model(LadderModelSettings(base=BuildSettings(seed=int(emb.seed))))
        with open_dict(config):
            config.actor_rollout_ref.model.path = str(model_dir)
    if not OmegaConf.select(config, "data.train_files"):
        data_dir = Path(os.path.expanduser(str(emb.data_dir))).resolve()
        paths = write_ladder(data_dir, rungs, n_train, n_test, int(emb.seed))
        with open_dict(config):
            config.data.train_files = [str(paths["train"])]
            config.data.val_files = [str(paths["test"])]


def _prepare_embedded(config: DictConfig) -> None:
    from srpo.embedded.build import BuildSettings, cached_build
    from srpo.embedded.dataset import write_family
    from srpo.embedded.problem import LEVELS

    if embedded_task(config) == "ladder":
        _prepare_ladder(config)
        return
    emb = config.embedded
    if not OmegaConf.select(config, "actor_rollout_ref.model.path"):
        print("srpo: building (or reusing) the embedded base model ...", flush=True)
        model_dir = cached_build(BuildSettings(seed=int(emb.seed)))
        with open_dict(config):
            config.actor_rollout_ref.model.path = str(model_dir)
    if not OmegaConf.select(config, "data.train_files"):
        data_dir = Path(os.path.expanduser(str(emb.data_dir))).resolve()
        sizes = {"arith": (emb.n_train, emb.n_test), "codegen": (emb.code_n_train, emb.code_n_test)}
        paths: dict[str, dict[str, Path]] = {}
        for family, (n_train, n_test) in sizes.items():
            expected = {s: data_dir / f"{family}_{s}.parquet" for s in ("train", "test")}
            if all(p.is_file() for p in expected.values()):
                paths[family] = expected
            else:
                paths[family] = write_family(
                    family, data_dir, int(n_train), int(n_test), LEVELS, int(emb.seed)
                )
        with open_dict(config):
            config.data.train_files = [str(paths[f]["train"]) for f in sizes]
            config.data.val_files = [str(paths[f]["test"]) for f in sizes]


def held_out_table(metrics: dict[int, dict[str, float]]) -> list[dict[str, Any]]:
    """Per data source: held-out accuracy at the first and the last validation (verl's val-core)."""
    keys = sorted({k for d in metrics.values() for k in d if k.startswith("val-core/") and "/acc/mean@" in k})
    rows = []
    for key in keys:
        steps = [s for s, d in metrics.items() if key in d]
        source = key[len("val-core/") : key.index("/acc/mean@")]
        rows.append(
            {
                "data_source": source,
                "before_step": steps[0],
                "before": metrics[steps[0]][key],
                "after_step": steps[-1],
                "after": metrics[steps[-1]][key],
            }
        )
    return rows


def finish_run(out_dir: Path) -> dict[str, Any]:
    """Write plots and ``summary.json`` for the run in ``out_dir``; print the held-out table."""
    metrics = load_metrics(out_dir.glob("metrics-*.jsonl"))
    summary = run_summary(metrics)
    summary["held_out"] = held_out_table(metrics)
    summary["plots"] = [str(p) for p in plot_run(metrics, out_dir / "plots")] if metrics else []
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if summary["held_out"]:
        print("\nHeld-out accuracy (verl validation, greedy):")
        print(f"  {'data source':<16} {'before':>8} {'after':>8}")
        for row in summary["held_out"]:
            print(f"  {row['data_source']:<16} {row['before']:>8.3f} {row['after']:>8.3f}")
    print(f"\nsrpo: plots and summary.json in {out_dir}", flush=True)
    return summary
