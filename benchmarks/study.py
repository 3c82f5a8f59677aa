"""The comparison study: SRPO vs GRPO vs DAPO dynamic sampling (and variants) on the embedded tasks.

Every method is an overlay in configs/baselines/ over configs/embedded.yaml, so all runs share the
model, data, rollout engine, reward, step budget and seeds; only the way prompts are chosen differs.
Runs go one after another (this machine has 2 cores), each a ``python -m srpo.main`` subprocess:

    python -m benchmarks.study --seeds 0 1 2 --out runs/study            # run everything, then report
    python -m benchmarks.study --dry-run                                 # print the commands only
    python -m benchmarks.study --from-runs runs/study --target 0.5       # only aggregate existing runs

What is read back from each run folder:

* ``draws.jsonl`` (the SRPO prompt loader: every batch of prompts drawn, with its step). Rollouts per
  step = prompts drawn x ``rollout.n``; DAPO's refills are draws too, so its over-sampling counts.
  Prompts that ``grpo_skip`` skips before rollout are never drawn, so they (rightly) count nothing.
* ``metrics-*.jsonl`` (verl's file logger): held-out accuracy per data source
  (``val-core/<source>/acc/mean@N``), ``response_length/mean``, ``srpo/zero_adv_group_frac`` and
  DAPO's ``training/filter_groups/evicted_samples``.
* ``study_run.json`` (written here): method, seed, command, exit code, wall time, rollout.n, batch.

Generated tokens per step are estimated as ``response_length/mean`` x rollouts of that step: verl logs
the mean length of the trained batch only, so DAPO's evicted groups are assumed to be as long.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO, table, write_json
from srpo.tools.report import epoch_composition, load_metrics, save_figure

METHODS = ("srpo", "grpo", "dapo", "srpo_drop_all_wrong", "srpo_one_stage", "grpo_skip")
ZERO_ADV_KEY = "srpo/zero_adv_group_frac"
EVICTED_KEY = "training/filter_groups/evicted_samples"
LENGTH_KEY = "response_length/mean"
STEP_TIME_KEY = "timing_s/step"
# verl's correlation of the rollout engine's token probabilities with the actor's: 1.0 on CPU when the
# engine holds the actor's weights. Below SYNC_FLOOR the step's rollouts came from other weights (seen
# when two runs on one host crossed their weight syncs, fixed in srpo/cpu/vllm_rollout.py).
SYNC_CORR_KEY = "training/rollout_actor_probs_pearson_corr"
SYNC_FLOOR = 0.99
RUN_RECORD = "study_run.json"


# ---------------------------------------------------------------- running


def run_dir(out: Path, method: str, seed: int) -> Path:
    return out / f"{method}-s{seed}"


def run_command(
    method: str,
    seed: int,
    out: Path,
    rollout_n: int,
    batch: int,
    steps: int | None,
    extra: list[str],
    task: str | None = None,
) -> list[str]:
    """The exact training command of one (method, seed) run; assets are shared across runs.

    ``task`` names an overlay in configs/tasks/ (e.g. ``ladder``) applied before the method's.
    """
    cmd = [
        sys.executable,
        "-m",
        "srpo.main",
        *([f"+tasks={task}"] if task else []),
        f"+baselines={method}",
        f"output_dir={run_dir(out, method, seed)}",
        f"srpo.seed={seed}",
        f"embedded.data_dir={out / 'data'}",
        f"actor_rollout_ref.rollout.n={rollout_n}",
        f"data.train_batch_size={batch}",
        "trainer.resume_mode=disable",
    ]
    if steps is not None:
        cmd.append(f"trainer.total_training_steps={steps}")
    return cmd + extra


def run_all(args: argparse.Namespace) -> None:
    """Run methods x seeds sequentially, recording each run's command, exit code and wall time."""
    for seed in args.seeds:
        for method in args.methods:
            cmd = run_command(
                method, seed, args.out, args.rollout_n, args.batch, args.steps, args.overrides, args.task
            )
            print(shlex.join(cmd), flush=True)
            if args.dry_run:
                continue
            folder = run_dir(args.out, method, seed)
            folder.mkdir(parents=True, exist_ok=True)
            start = time.monotonic()
            with open(folder / "study.log", "ab") as log:
                try:
                    rc = subprocess.run(
                        cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, timeout=args.run_timeout
                    ).returncode
                except subprocess.TimeoutExpired:
                    rc = 124
            record = {
                "method": method,
                "seed": seed,
                "command": shlex.join(cmd),
                "returncode": rc,
                "wall_s": time.monotonic() - start,
                "rollout_n": args.rollout_n,
                "train_batch_size": args.batch,
                "task": args.task,
            }
            write_json(folder / RUN_RECORD, record)
            print(f"  -> exit {rc} in {record['wall_s']:.0f} s", flush=True)


# ---------------------------------------------------------------- reading one run


@dataclass
class RunResult:
    """What one run measured, step by step and at the end."""

    method: str
    seed: int
    wall_s: float | None
    steps: list[int] = field(default_factory=list)
    rollouts: dict[int, int] = field(default_factory=dict)  # per step
    tokens: dict[int, float] = field(default_factory=dict)  # per step (estimate)
    zero_adv: dict[int, float] = field(default_factory=dict)  # share of generated groups with no signal
    held_out: dict[int, dict[str, float]] = field(default_factory=dict)  # step -> source -> accuracy
    step_wall: dict[int, float] = field(
        default_factory=dict
    )  # verl's timing_s/step (no start-up, no validation)
    epochs: list[dict[str, float]] = field(default_factory=list)  # History Resampling's pool per epoch end
    # prompts drawn (rolled out) per data source over the run, and the distinct ones of each epoch
    drawn_by_source: dict[str, int] = field(default_factory=dict)
    epoch_sources: dict[int, dict[str, int]] = field(default_factory=dict)
    sync_corr: dict[int, float] = field(default_factory=dict)  # per step, see SYNC_CORR_KEY

    def final(self, source: str | None = None) -> float | None:
        """Held-out accuracy at the last validation: the mean over sources, or that of ``source``."""
        if not self.held_out:
            return None
        accs = self.held_out[max(self.held_out)]
        if source is not None:
            return accs.get(source)
        return statistics.fmean(accs.values())

    def cumulative(self, per_step: dict[int, float], through: int) -> float:
        return float(sum(v for s, v in per_step.items() if s <= through))

    def first_step_reaching(self, target: float, source: str | None = None) -> int | None:
        """First validated step whose held-out accuracy is >= target: the mean over data sources, or
        that of ``source`` alone."""
        for step in sorted(self.held_out):
            accs = self.held_out[step]
            if source is not None:
                accs = {source: accs[source]} if source in accs else {}
            if accs and statistics.fmean(accs.values()) >= target:
                return step
        return None


def _held_out(metrics: dict[int, dict[str, float]]) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for step, data in metrics.items():
        for key, value in data.items():
            if key.startswith("val-core/") and "/acc/mean@" in key:
                source = key[len("val-core/") : key.index("/acc/mean@")]
                out.setdefault(step, {})[source] = float(value)
    return out


def _draws(path: Path) -> dict[int, int]:
    per_step: dict[int, int] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                per_step[int(rec["step"])] = per_step.get(int(rec["step"]), 0) + len(rec["prompt_ids"])
    return per_step


def train_sources(data_dir: Path) -> dict[str, str]:
    """prompt_id -> data_source of every training row of the study's shared data folder (empty when
    it holds no ``*train*.parquet``): lets the report say on which rungs the rollouts were spent."""
    import pyarrow.parquet as pq

    out: dict[str, str] = {}
    for path in sorted(data_dir.glob("*train*.parquet")):
        for row in pq.read_table(path, columns=["data_source", "extra_info"]).to_pylist():
            out[row["extra_info"]["prompt_id"]] = row["data_source"]
    return out


def _draws_by_source(
    path: Path, source_of: dict[str, str]
) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
    """Prompts drawn per source over the run, and the distinct prompts drawn per source in each epoch."""
    total: dict[str, int] = {}
    per_epoch: dict[int, dict[str, set[str]]] = {}
    if not source_of or not path.is_file():
        return total, {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        for pid in rec["prompt_ids"]:
            source = source_of.get(pid, "?")
            total[source] = total.get(source, 0) + 1
            per_epoch.setdefault(int(rec["epoch"]), {}).setdefault(source, set()).add(pid)
    return total, {e: {s: len(ids) for s, ids in d.items()} for e, d in sorted(per_epoch.items())}


def read_run(folder: Path, source_of: dict[str, str] | None = None) -> RunResult:
    """One run folder -> RunResult; fails with the folder's name when it holds no metrics.

    ``source_of`` (prompt_id -> data_source, see ``train_sources``) adds the draws per source."""
    record_path = folder / RUN_RECORD
    if not record_path.is_file():
        raise FileNotFoundError(f"{folder}: no {RUN_RECORD} (not a study run folder)")
    record = json.loads(record_path.read_text())
    metrics = load_metrics(folder.glob("metrics-*.jsonl"))
    if not metrics:
        raise FileNotFoundError(
            f"{folder}: no metrics-*.jsonl (did the run start? see {folder / 'study.log'})"
        )
    n, batch = int(record["rollout_n"]), int(record["train_batch_size"])
    result = RunResult(
        record["method"], int(record["seed"]), record.get("wall_s"), held_out=_held_out(metrics)
    )
    drawn = _draws(folder / "draws.jsonl")
    result.drawn_by_source, result.epoch_sources = _draws_by_source(folder / "draws.jsonl", source_of or {})
    train_steps = [s for s, d in metrics.items() if LENGTH_KEY in d]
    result.steps = train_steps
    result.epochs = epoch_composition(metrics)
    for step in train_steps:
        data = metrics[step]
        if STEP_TIME_KEY in data:
            result.step_wall[step] = float(data[STEP_TIME_KEY])
        if SYNC_CORR_KEY in data:
            result.sync_corr[step] = float(data[SYNC_CORR_KEY])
        evicted = float(data.get(EVICTED_KEY, 0.0))
        prompts = drawn.get(step, batch + evicted)  # without draws.jsonl: the batch plus DAPO's evictions
        result.rollouts[step] = int(prompts * n)
        result.tokens[step] = float(data[LENGTH_KEY]) * prompts * n
        if ZERO_ADV_KEY in data:
            # DAPO trains only on groups with signal: evicted groups count as zero-advantage ones.
            result.zero_adv[step] = (evicted + float(data[ZERO_ADV_KEY]) * batch) / (evicted + batch)
    return result


# ---------------------------------------------------------------- the comparison


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{statistics.fmean(values):.3g} ± {statistics.stdev(values):.2g}"


def summarize(runs: list[RunResult], target: float, source: str | None = None) -> list[dict[str, Any]]:
    """One row per method: means ± sample standard deviation over its seeds."""
    rows = []
    for method in _methods(runs):
        group = [r for r in runs if r.method == method]
        reached = [(r, r.first_step_reaching(target, source)) for r in group]
        hit = [(r, s) for r, s in reached if s is not None]
        finals: dict[str, list[float]] = {}
        for r in group:
            if r.held_out:
                for name, acc in r.held_out[max(r.held_out)].items():
                    finals.setdefault(name, []).append(acc)
        rows.append(
            {
                "method": method,
                "seeds": sorted(r.seed for r in group),
                "reached": f"{len(hit)}/{len(group)}",
                "rollouts_to_target": [r.cumulative(r.rollouts, s) for r, s in hit],
                "tokens_to_target": [r.cumulative(r.tokens, s) for r, s in hit],
                "total_rollouts": [r.cumulative(r.rollouts, max(r.steps, default=0)) for r in group],
                "final_acc": finals,
                "zero_adv_mean": [statistics.fmean(r.zero_adv.values()) for r in group if r.zero_adv],
                "wall_s": [r.wall_s for r in group if r.wall_s is not None],
            }
        )
    return rows


def markdown_table(rows: list[dict[str, Any]], target: float) -> str:
    sources = sorted({s for row in rows for s in row["final_acc"]})
    head = [
        "method",
        "seeds",
        f"reached {target:g}",
        "rollouts to target",
        "gen. tokens to target",
        "rollouts (all steps)",
        *[f"final acc {s}" for s in sources],
        "zero-adv groups",
        "wall s",
    ]
    cells = [
        [
            row["method"],
            ",".join(map(str, row["seeds"])),
            row["reached"],
            _mean_sd(row["rollouts_to_target"]),
            _mean_sd(row["tokens_to_target"]),
            _mean_sd(row["total_rollouts"]),
            *[_mean_sd(row["final_acc"].get(s, [])) for s in sources],
            _mean_sd(row["zero_adv_mean"]),
            _mean_sd(row["wall_s"]),
        ]
        for row in rows
    ]
    return "\n".join(table(head, cells)) + "\n"


# ---------------------------------------------------------------- late targets


def _sources(runs: list[RunResult]) -> list[str]:
    return sorted({s for r in runs for accs in r.held_out.values() for s in accs})


def _method_order(method: str) -> tuple[int, str]:
    """Sort key: the study's methods in METHODS order, any other after them by name."""
    return (METHODS.index(method) if method in METHODS else 99, method)


def _methods(runs: list[RunResult]) -> list[str]:
    return sorted({r.method for r in runs}, key=_method_order)


def _titled_table(title: str, header: list[str], rows: list[list[str]]) -> str:
    """A report section: a blank line, its title, then a markdown table."""
    return "\n".join([f"\n{title}\n", *table(header, rows)]) + "\n"


def late_targets(runs: list[RunResult], frac: float) -> dict[str, float]:
    """``frac`` x the best final held-out accuracy any run reached: overall (key ``all``) and per source.

    A source no run ever solved (best final 0) gets no target: every run would "reach" 0 at step 0.
    """
    targets: dict[str, float] = {}
    for key in ["all", *_sources(runs)]:
        finals = [f for r in runs if (f := r.final(None if key == "all" else key)) is not None]
        if finals and max(finals) > 0:
            targets[key] = frac * max(finals)
    return targets


def late_rows(runs: list[RunResult], targets: dict[str, float]) -> dict[str, dict[str, dict[str, Any]]]:
    """method -> target key -> rollouts, generated tokens and training wall (s) to reach it, per seed."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for method in _methods(runs):
        group = [r for r in runs if r.method == method]
        for key, target in targets.items():
            hit = [(r, r.first_step_reaching(target, None if key == "all" else key)) for r in group]
            hit = [(r, s) for r, s in hit if s is not None]
            out.setdefault(method, {})[key] = {
                "target": target,
                "reached": f"{len(hit)}/{len(group)}",
                "rollouts": [r.cumulative(r.rollouts, s) for r, s in hit],
                "tokens": [r.cumulative(r.tokens, s) for r, s in hit],
                "wall_s": [r.cumulative(r.step_wall, s) for r, s in hit],
            }
    return out


def beyond_spread(a: list[float], b: list[float]) -> str:
    """Whether two methods' means differ by more than the sum of their seed standard deviations."""
    if len(a) < 2 or len(b) < 2:
        return "n/a (<2 seeds)"
    gap = abs(statistics.fmean(a) - statistics.fmean(b))
    return "yes" if gap > statistics.stdev(a) + statistics.stdev(b) else "no"


def drawn_by_source_markdown(runs: list[RunResult], methods: list[str]) -> str:
    """Where each method spent its rollouts: the share of drawn prompts per data source (seed means)."""
    sources = sorted({s for r in runs for s in r.drawn_by_source})
    if not sources:
        return ""
    rows = []
    for m in methods:
        group = [r for r in runs if r.method == m and r.drawn_by_source]
        cells = []
        for s in sources:
            shares = [r.drawn_by_source.get(s, 0) / sum(r.drawn_by_source.values()) for r in group]
            cells.append(_mean_sd(shares))
        rows.append([m, *cells])
    return _titled_table(
        "Where the rollouts went: share of all prompts drawn over the run, per data source "
        "(mean ± sd over seeds):",
        ["method", *sources],
        rows,
    )


def heldout_markdown(runs: list[RunResult]) -> str:
    """Every run's held-out accuracy per source at each validation, with the rollouts spent by then."""
    sources = _sources(runs)
    parts = []
    for r in sorted(runs, key=lambda r: (_methods(runs).index(r.method), r.seed)):
        rows = []
        for step in sorted(r.held_out):
            accs = r.held_out[step]
            cells = [f"{accs[s]:.2f}" if s in accs else "-" for s in sources]
            rows.append([str(step), f"{r.cumulative(r.rollouts, step):.0f}", *cells])
        title = f"{r.method}, seed {r.seed} ({len(r.epochs)} epoch ends):"
        parts.append(_titled_table(title, ["step", "rollouts", *sources], rows))
    return "Held-out accuracy (greedy) per data source at each validation, per run:\n" + "".join(parts)


def ratio_cell(rows: dict[str, dict[str, dict[str, Any]]], method: str, key: str, reference: str) -> str:
    """Rollouts ``method`` spent to reach target ``key`` over ``reference``'s (ratio of seed means).

    ``*`` marks a gap beyond the sum of both seed standard deviations; the reached counts follow,
    because a mean over only the seeds that reached a target flatters a method that often misses it.
    """
    mine, ref = rows[method][key], rows[reference][key]
    if not mine["rollouts"]:
        return f"never ({mine['reached']})"
    if not ref["rollouts"] or statistics.fmean(ref["rollouts"]) == 0:
        return f"- ({mine['reached']} vs {ref['reached']}; {reference} never or at step 0)"
    ratio = statistics.fmean(mine["rollouts"]) / statistics.fmean(ref["rollouts"])
    star = "*" if beyond_spread(mine["rollouts"], ref["rollouts"]) == "yes" else ""
    return f"{ratio:.2f}x{star} ({mine['reached']} vs {ref['reached']})"


def ratio_per_target_markdown(
    rows: dict[str, dict[str, dict[str, Any]]], methods: list[str], keys: list[str], reference: str
) -> str:
    """One row per method: its rollouts to every late target as a share of ``reference``'s (the
    issue's goal is <= 0.5x GRPO's for SRPO)."""
    return _titled_table(
        f"Rollouts to each late target as a share of {reference}'s (ratio of seed means; * = gap beyond "
        "the sum of both seed standard deviations; reached/seeds of the method vs the reference):",
        ["method", *keys],
        [[m, *[ratio_cell(rows, m, k, reference) for k in keys]] for m in methods if m != reference],
    )


def late_data(runs: list[RunResult], frac: float, targets: dict[str, float] | None = None) -> dict[str, Any]:
    """What the late-target tables show, per method and per run, as saved in study_late.json.

    ``targets`` fixes the targets (e.g. an earlier study's, so that new seeds are measured against the
    same bar); by default they are ``frac`` x the best final accuracy of these runs."""
    targets = late_targets(runs, frac) if targets is None else targets
    keys = ["all", *_sources(runs)]
    return {
        "frac": frac,
        "targets": targets,
        "late": late_rows(runs, targets),
        "finals": {
            m: {
                k: [
                    f for r in runs if r.method == m and (f := r.final(None if k == "all" else k)) is not None
                ]
                for k in keys
            }
            for m in _methods(runs)
        },
        "zero_adv_per_step": {_run_key(r): r.zero_adv for r in runs},
        "epochs": {_run_key(r): r.epochs for r in runs},
    }


def _run_key(r: RunResult) -> str:
    return f"{r.method}-s{r.seed}"


def _split_run_key(key: str) -> tuple[str, int]:
    """``_run_key``'s inverse: (method, seed)."""
    method, seed = key.rsplit("-s", 1)
    return method, int(seed)


def merge_late(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Two studies' late data as one: per method, the seeds of both (their run folders need not exist).

    Both must have been measured against the same targets, and no run (method, seed) may be in both."""
    if earlier["targets"] != later["targets"]:
        raise SystemExit(
            f"study: cannot merge studies with different late targets: {earlier['targets']} vs {later['targets']}"
        )
    twice = sorted(set(earlier["epochs"]) & set(later["epochs"]))
    if twice:
        raise SystemExit(f"study: runs {twice} are in both studies; merge each run once")
    late: dict[str, dict[str, dict[str, Any]]] = {}
    finals: dict[str, dict[str, list[float]]] = {}
    for data in (earlier, later):
        for m, per_key in data["late"].items():
            for k, cell in per_key.items():
                into = late.setdefault(m, {}).setdefault(
                    k,
                    {"target": cell["target"], "reached": "0/0", "rollouts": [], "tokens": [], "wall_s": []},
                )
                hit, seen = (int(x) for x in into["reached"].split("/"))
                more_hit, more_seen = (int(x) for x in cell["reached"].split("/"))
                into["reached"] = f"{hit + more_hit}/{seen + more_seen}"
                for what in ("rollouts", "tokens", "wall_s"):
                    into[what] = into[what] + cell[what]
        for m, per_key in data["finals"].items():
            for k, values in per_key.items():
                finals.setdefault(m, {}).setdefault(k, []).extend(values)
    return {
        "frac": later["frac"],
        "targets": later["targets"],
        "late": late,
        "finals": finals,
        "zero_adv_per_step": earlier["zero_adv_per_step"] | later["zero_adv_per_step"],
        "epochs": earlier["epochs"] | later["epochs"],
    }


def late_tables(data: dict[str, Any], reference: str = "grpo") -> str:
    """The cost to reach each late target, final accuracy per source, and the differences against
    ``reference`` with a spread check, from ``late_data`` (or a merge of several)."""
    targets, rows, finals = data["targets"], data["late"], data["finals"]
    methods = sorted(rows, key=_method_order)
    keys = list(targets)
    parts = [
        f"Late targets: {data['frac']:g} x the best final held-out accuracy any run reached "
        "(`all` = mean over rungs/sources): " + ", ".join(f"{k} {t:.3f}" for k, t in targets.items()) + "\n"
    ]
    for what, label in (
        ("rollouts", "rollouts"),
        ("tokens", "generated tokens"),
        ("wall_s", "training wall s"),
    ):
        cells = [
            [m, *[f"{_mean_sd(rows[m][k][what])} ({rows[m][k]['reached']})" for k in keys]] for m in methods
        ]
        title = (
            f"{label.capitalize()} to reach each late target (mean ± sd over the seeds that reached it; "
            "reached/seeds):"
        )
        parts.append(_titled_table(title, ["method", *keys], cells))
    sources = [k for k in next(iter(finals.values()), {}) if k != "all"]
    head = ["method", "seeds", "final all", *[f"final {s}" for s in sources], "zero-adv share", "epoch ends"]
    final_rows = []
    for m in methods:
        run_keys = sorted(
            (k for k in data["epochs"] if _split_run_key(k)[0] == m), key=lambda k: _split_run_key(k)[1]
        )
        zero = [
            statistics.fmean(data["zero_adv_per_step"][k].values())
            for k in run_keys
            if data["zero_adv_per_step"].get(k)
        ]
        final_rows.append(
            [
                m,
                ",".join(str(_split_run_key(k)[1]) for k in run_keys),
                *[_mean_sd(finals[m].get(k, [])) for k in ["all", *sources]],
                _mean_sd(zero),
                _mean_sd([float(len(data["epochs"][k])) for k in run_keys]),
            ]
        )
    parts.append(
        _titled_table(
            "Final held-out accuracy (greedy) and zero-advantage share of generated groups (mean ± sd over seeds):",
            head,
            final_rows,
        )
    )
    if reference in methods:
        lines = [
            f"\nAgainst {reference}: ratio of means, and whether the gap exceeds the sum of both seed "
            "standard deviations:\n",
            "| method | rollouts to late `all` | beyond spread | final all | beyond spread |",
            "|---|---|---|---|---|",
        ]
        ref_roll = rows[reference].get("all", {}).get("rollouts", [])
        for m in methods:
            if m == reference:
                continue
            roll = rows[m].get("all", {}).get("rollouts", [])
            ratio = (
                f"{statistics.fmean(roll) / statistics.fmean(ref_roll):.2f}x"
                if roll and ref_roll and statistics.fmean(ref_roll) > 0
                else "-"
            )
            fin, ref_fin = finals[m]["all"], finals[reference]["all"]
            fratio = (
                f"{statistics.fmean(fin) / statistics.fmean(ref_fin):.2f}x"
                if fin and ref_fin and statistics.fmean(ref_fin) > 0
                else "-"
            )
            lines.append(
                f"| {m} | {ratio} | {beyond_spread(roll, ref_roll)} | {fratio} | {beyond_spread(fin, ref_fin)} |"
            )
        parts.append("\n".join(lines) + "\n")
        parts.append(ratio_per_target_markdown(rows, methods, keys, reference))
    return "".join(parts)


def pool_markdown(runs: list[RunResult]) -> str:
    """Where the rollouts went per source, and History Resampling's pool at each epoch end: read from
    the run folders, so only for the runs at hand."""
    methods = _methods(runs)
    parts = [drawn_by_source_markdown(runs, methods)]
    drawn_sources = sorted({s for r in runs for d in r.epoch_sources.values() for s in d})
    lines = [
        "\nHistory Resampling's pool at each epoch end (lowest seed of each method; shares of the prompts "
        "seen that epoch"
        + (
            f"; distinct prompts drawn that epoch per source, {' / '.join(drawn_sources)}"
            if drawn_sources
            else ""
        )
        + "):\n",
        "| method | epoch | pool after | too easy | all wrong | mixed |"
        + (" drawn per source |" if drawn_sources else ""),
        "|---|---|---|---|---|---|" + ("---|" if drawn_sources else ""),
    ]
    for m in methods:
        first = min((r for r in runs if r.method == m), key=lambda r: r.seed)
        for e in first.epochs:
            drawn = first.epoch_sources.get(int(e["epoch"]), {})
            cell = f" {' / '.join(str(drawn.get(s, 0)) for s in drawn_sources)} |" if drawn_sources else ""
            lines.append(
                f"| {m} | {e['epoch']} | {e['pool_size']:.0f} | {e['too_easy']:.2f} | "
                f"{e['all_wrong']:.2f} | {e['mixed']:.2f} |{cell}"
            )
    parts.append("\n".join(lines) + "\n")
    return "".join(parts)


def plot_late(runs: list[RunResult], out: Path) -> list[Path]:
    """Held-out accuracy per source against rollouts (one panel per source), and the pool per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = _methods(runs)
    colours = {m: f"C{i}" for i, m in enumerate(methods)}
    sources = _sources(runs)
    cols = min(3, len(sources))
    rows = math.ceil(len(sources) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, source in zip(axes.flat, sources, strict=False):
        for r in runs:
            steps = [s for s in sorted(r.held_out) if source in r.held_out[s]]
            label = r.method if r.seed == min(x.seed for x in runs if x.method == r.method) else None
            ax.plot(
                [r.cumulative(r.rollouts, s) for s in steps],
                [r.held_out[s][source] for s in steps],
                color=colours[r.method],
                alpha=0.7,
                marker=".",
                label=label,
            )
        ax.set_title(source, fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("rollouts generated", fontsize=8)
    for ax in list(axes.flat)[len(sources) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    paths = [save_figure(fig, out / "study_accuracy_per_source.png")]
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in runs:
        if r.epochs:
            label = r.method if r.seed == min(x.seed for x in runs if x.method == r.method) else None
            ax.plot(
                [e["epoch"] for e in r.epochs],
                [e["pool_size"] for e in r.epochs],
                marker=".",
                color=colours[r.method],
                alpha=0.7,
                label=label,
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel("History Resampling pool after the epoch")
    if any(r.epochs for r in runs):
        ax.legend(fontsize=8)
    paths.append(save_figure(fig, out / "study_pool_per_epoch.png"))
    return paths


def plot(runs: list[RunResult], out: Path) -> list[Path]:
    """held-out accuracy vs cumulative rollouts, and zero-advantage share per step, one colour per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = sorted({r.method for r in runs})
    colours = {m: f"C{i}" for i, m in enumerate(methods)}
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in runs:
        steps = sorted(r.held_out)
        xs = [r.cumulative(r.rollouts, s) for s in steps]
        ys = [statistics.fmean(r.held_out[s].values()) for s in steps]
        label = r.method if r.seed == min(x.seed for x in runs if x.method == r.method) else None
        ax.plot(xs, ys, marker="o", color=colours[r.method], alpha=0.7, label=label)
    ax.set_xlabel("rollouts generated")
    ax.set_ylabel("held-out accuracy (mean over sources)")
    ax.legend(fontsize=8)
    paths.append(save_figure(fig, out / "study_accuracy_vs_rollouts.png"))
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in methods:
        per_step: dict[int, list[float]] = {}
        for r in runs:
            if r.method == m:
                for s, v in r.zero_adv.items():
                    per_step.setdefault(s, []).append(v)
        steps = sorted(per_step)
        ax.plot(steps, [statistics.fmean(per_step[s]) for s in steps], color=colours[m], label=m)
    ax.set_xlabel("step")
    ax.set_ylabel("zero-advantage share of generated groups")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    paths.append(save_figure(fig, out / "study_zero_adv.png"))
    return paths


def unsynced_runs(runs: list[RunResult], floor: float = SYNC_FLOOR) -> list[str]:
    """Runs with steps whose rollouts did not come from the actor's weights (see SYNC_CORR_KEY):
    their figures are not those of the method, so the report names them."""
    out = []
    for r in runs:
        bad = sorted(step for step, corr in r.sync_corr.items() if corr < floor)
        if bad:
            out.append(f"{_run_key(r)} (steps {', '.join(map(str, bad))})")
    return out


def aggregate(
    runs_dir: Path,
    target: float,
    source: str | None = None,
    late_frac: float | None = None,
    merge_late_from: Path | None = None,
) -> str:
    """Read every study run under ``runs_dir``; write study.md, study.json and the PNGs there
    (with ``late_frac``: study_late.md / .json and the per-source and pool plots too).

    ``merge_late_from``: an earlier study's study_late.json whose runs join these in the late tables
    (measured against its targets), for adding seeds to a study whose run folders are gone."""
    folders = sorted(p.parent for p in runs_dir.glob(f"*/{RUN_RECORD}"))
    if not folders:
        raise SystemExit(f"study: no run folders with {RUN_RECORD} under {runs_dir}")
    runs, skipped = [], []
    source_of = train_sources(runs_dir / "data")
    for folder in folders:
        try:
            runs.append(read_run(folder, source_of))
        except FileNotFoundError as err:
            skipped.append(str(err))
    if not runs:
        raise SystemExit("study: no readable runs:\n  " + "\n  ".join(skipped))
    rows = summarize(runs, target, source)
    report = markdown_table(rows, target)
    notes = "".join(f"\nSkipped: {s}" for s in skipped)
    notes += "".join(
        f"\nWARNING: rollouts not from the actor's weights ({SYNC_CORR_KEY} < {SYNC_FLOOR}): {name}"
        for name in unsynced_runs(runs)
    )
    what = f"{source} held-out accuracy" if source else "held-out accuracy (mean over data sources)"
    suffix = f"-{source.replace('/', '_')}" if source else ""
    (runs_dir / f"study{suffix}.md").write_text(f"Target {what}: {target:g}\n\n{report}{notes}\n")
    write_json(runs_dir / f"study{suffix}.json", {"target": target, "source": source, "methods": rows})
    plot(runs, runs_dir)
    print(report + notes)
    if late_frac is not None:
        earlier = json.loads(merge_late_from.read_text()) if merge_late_from else None
        if earlier is not None and earlier["frac"] != late_frac:
            raise SystemExit(f"study: {merge_late_from} has late_frac {earlier['frac']}, not {late_frac}")
        data = late_data(runs, late_frac, None if earlier is None else earlier["targets"])
        text = ""
        if earlier is not None:
            data = merge_late(earlier, data)
            text = (
                f"Merged with {merge_late_from.name}: its runs ({', '.join(sorted(earlier['epochs']))}) enter "
                "by their saved figures and set the targets; the pool and per-source tables below are "
                "of this folder's runs only.\n\n"
            )
        text += late_tables(data) + pool_markdown(runs)
        (runs_dir / "study_late.md").write_text(text + notes + "\n")
        (runs_dir / "study_heldout.md").write_text(heldout_markdown(runs))
        write_json(runs_dir / "study_late.json", data)
        plot_late(runs, runs_dir)
        print(text)
        report += text
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", nargs="+", default=list(METHODS), help="overlays in configs/baselines/")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--out", type=Path, default=REPO / "runs" / "study")
    p.add_argument(
        "--steps", type=int, default=None, help="trainer.total_training_steps (default: embedded's)"
    )
    p.add_argument(
        "--rollout-n",
        type=int,
        default=None,
        help="rollouts per prompt for every method (default: the config's)",
    )
    p.add_argument(
        "--batch", type=int, default=None, help="prompts per step for every method (default: the config's)"
    )
    p.add_argument("--task", default=None, help="a task overlay in configs/tasks/ (e.g. ladder)")
    p.add_argument(
        "--late-frac",
        type=float,
        default=None,
        help="also report late targets: this share of the best final held-out accuracy any method "
        "reached, overall and per data source (e.g. 0.9)",
    )
    p.add_argument("--target", type=float, default=0.5, help="held-out accuracy to reach")
    p.add_argument(
        "--target-source",
        default=None,
        help="data source whose accuracy must reach the target (default: mean)",
    )
    p.add_argument("--run-timeout", type=float, default=4 * 3600, help="seconds before a run is killed")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--from-runs", type=Path, default=None, help="only aggregate the runs in this folder")
    p.add_argument(
        "--merge-late",
        type=Path,
        default=None,
        help="an earlier study's study_late.json: its runs join the late tables, with its targets "
        "(needs --late-frac, the same as that study's)",
    )
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run (after --)")
    args = p.parse_args(argv)
    unknown = [m for m in args.methods if not (REPO / "configs" / "baselines" / f"{m}.yaml").is_file()]
    if unknown:
        p.error(f"unknown method(s) {unknown}: no configs/baselines/<method>.yaml")
    if not 0 < args.target <= 1 or not math.isfinite(args.target):
        p.error(f"--target {args.target}: must be in (0, 1]")
    if args.merge_late is not None and args.late_frac is None:
        p.error("--merge-late needs --late-frac (the late tables are what it merges)")
    if args.merge_late is not None and not args.merge_late.is_file():
        p.error(f"--merge-late {args.merge_late}: no such file")
    if args.late_frac is not None and not 0 < args.late_frac <= 1:
        p.error(f"--late-frac {args.late_frac}: must be in (0, 1]")
    if args.task is not None and not (REPO / "configs" / "tasks" / f"{args.task}.yaml").is_file():
        p.error(f"unknown task {args.task!r}: no configs/tasks/{args.task}.yaml")
    if args.from_runs is None and (args.rollout_n is None or args.batch is None):
        n, batch = config_sizes(args.task)
        args.rollout_n = n if args.rollout_n is None else args.rollout_n
        args.batch = batch if args.batch is None else args.batch
    return args


def config_sizes(task: str | None) -> tuple[int, int]:
    """``rollout.n`` and ``train_batch_size`` of configs/embedded.yaml with the task overlay."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base=None):
        cfg = compose(config_name="embedded", overrides=[f"+tasks={task}"] if task else [])
    return int(cfg.actor_rollout_ref.rollout.n), int(cfg.data.train_batch_size)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.from_runs is not None:
        aggregate(args.from_runs, args.target, args.target_source, args.late_frac, args.merge_late)
        return
    run_all(args)
    if not args.dry_run:
        aggregate(args.out, args.target, args.target_source, args.late_frac)


if __name__ == "__main__":
    main()
