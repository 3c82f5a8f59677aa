"""``python -m srpo.eval``: avg@k and pass@k of a model on verl-format sets, through verl itself.

The generations come from verl's own validation (``trainer.val_only=true``): k samples per problem
from the same rollout engine and the same reward function the training uses, dumped by verl to
``trainer.validation_data_dir`` as ``<step>.jsonl``. This module then groups those samples per
problem, finds each problem's data source in the parquet files, and writes ``eval_report.json``
and ``eval_report.png`` (configs/eval.yaml). ``eval.from_dump=DIR`` skips generation and only
aggregates an existing dump.

A dump line, as verl writes it: ``input``, ``output``, ``gts``, ``score``, ``step``, every
reward-extra field (``acc``, ``format``, ... from reward_fns) and ``uid`` (``<prompt-uid>_<session>_
<turn>``, the prompt part shared by the k samples of one problem).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from srpo.paths import config_dir
from srpo.tools.passk import SourceScores, score_groups


class EvalError(ValueError):
    """A dump or data file that cannot be turned into a report."""


def latest_dump(dump_dir: Path) -> Path:
    """The dump verl wrote last (highest step) in ``dump_dir``."""
    files = [p for p in Path(dump_dir).glob("*.jsonl") if p.stem.isdigit()]
    if not files:
        raise EvalError(
            f"no <step>.jsonl generation dump in {dump_dir} (is trainer.validation_data_dir set?)"
        )
    return max(files, key=lambda p: int(p.stem))


def read_dump(path: Path) -> list[dict[str, Any]]:
    """The dump's lines as dicts, with a progress bar (an eval of a large set has many)."""
    lines = Path(path).read_text().splitlines()
    rows = []
    for i, line in enumerate(tqdm(lines, desc=f"reading {Path(path).name}", unit="sample", file=sys.stdout)):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise EvalError(f"{path}:{i + 1}: not JSON ({err})") from err
    return rows


def _prompt_text(prompt: Any) -> str:
    """The last user message of a verl ``prompt`` column (a list of role/content dicts)."""
    messages = list(prompt)
    users = [m["content"] for m in messages if m.get("role") == "user"]
    return str(users[-1] if users else messages[-1]["content"])


def source_index(data_files: Iterable[str | Path]) -> dict[str, list[tuple[str, str]]]:
    """ground truth -> [(data_source, user prompt)] over the parquet files that were evaluated.

    verl's dump has no data_source column; the ground truth narrows a sample to a few rows, and
    the prompt text (contained in the decoded chat input) settles ties.
    """
    import pandas as pd

    index: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for path in data_files:
        frame = pd.read_parquet(path, columns=["data_source", "prompt", "reward_model"])
        for source, prompt, rm in zip(
            frame["data_source"], frame["prompt"], frame["reward_model"], strict=True
        ):
            index[str(rm["ground_truth"])].append((str(source), _prompt_text(prompt)))
    return dict(index)


def _source_of(row: dict[str, Any], index: dict[str, list[tuple[str, str]]] | None) -> str:
    if index is None:
        return str(row.get("data_source", "all"))
    candidates = index.get(str(row.get("gts")))
    if not candidates:
        raise EvalError(
            f"sample with ground truth {str(row.get('gts'))[:80]!r} matches no row of the data files"
        )
    sources = {s for s, _ in candidates}
    if len(sources) == 1:
        return sources.pop()
    text = str(row.get("input", ""))
    matches = {s for s, p in candidates if p and p in text}
    if len(matches) != 1:
        raise EvalError(f"cannot tell the data source of input {text[:80]!r}: candidates {sorted(sources)}")
    return matches.pop()


def group_samples(
    rows: Sequence[dict[str, Any]],
    index: dict[str, list[tuple[str, str]]] | None,
    reward_key: str = "acc",
    success_threshold: float = 1.0,
) -> list[tuple[str, list[bool]]]:
    """(data_source, correctness of each sample) per problem; a sample is correct if reward_key >= threshold."""
    groups: dict[str, list[bool]] = defaultdict(list)
    sources: dict[str, str] = {}
    for row in rows:
        uid = row.get("uid")
        problem = str(uid).rsplit("_", 2)[0] if uid is not None else str(row.get("input"))
        value = row.get(reward_key)
        if value is None:
            raise EvalError(f"dump sample lacks {reward_key!r} (has {sorted(row)}); set eval.reward_key")
        groups[problem].append(float(value) >= success_threshold)
        sources.setdefault(problem, _source_of(row, index))
    return [(sources[p], groups[p]) for p in groups]


def build_report(scores: dict[str, SourceScores], meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON report: per data source and over all problems, plus how it was produced."""
    n_all = sum(s.n_problems for s in scores.values())
    ks = sorted({k for s in scores.values() for k in s.pass_at_k})
    overall = {
        "n_problems": n_all,
        "avg_at_k": sum(s.avg_at_k * s.n_problems for s in scores.values()) / n_all,
        "pass_at_k": {
            str(k): sum(s.pass_at_k[k] * s.n_problems for s in scores.values()) / n_all for k in ks
        },
    }
    per_source = {
        name: {
            "n_problems": s.n_problems,
            "n_samples": s.n_samples,
            "avg_at_k": s.avg_at_k,
            "pass_at_k": {str(k): v for k, v in s.pass_at_k.items()},
        }
        for name, s in scores.items()
    }
    return {"meta": meta, "overall": overall, "per_source": per_source}


def plot_report(report: dict[str, Any], path: Path) -> Path:
    """Grouped bars: avg@k and pass@k per data source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = list(report["per_source"])
    ks = list(next(iter(report["per_source"].values()))["pass_at_k"]) if sources else []
    labels = ["avg@k"] + [f"pass@{k}" for k in ks]
    width = 0.8 / max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(sources) + 2), 3.5))
    for j, label in enumerate(labels):
        vals = [
            report["per_source"][s]["avg_at_k"] if j == 0 else report["per_source"][s]["pass_at_k"][ks[j - 1]]
            for s in sources
        ]
        ax.bar([i + j * width for i in range(len(sources))], vals, width, label=label)
    ax.set_xticks([i + width * (len(labels) - 1) / 2 for i in range(len(sources))], sources)
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction of problems")
    ax.set_title(f"{report['meta'].get('model', '')} (n={report['meta'].get('n_samples', '?')} per problem)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def aggregate(
    dump: Path,
    data_files: Sequence[str | Path] | None,
    ks: Sequence[int],
    out_dir: Path,
    reward_key: str = "acc",
    success_threshold: float = 1.0,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Dump (file or folder) -> ``eval_report.json`` and ``eval_report.png`` in ``out_dir``."""
    dump = latest_dump(dump) if Path(dump).is_dir() else Path(dump)
    rows = read_dump(dump)
    index = source_index(data_files) if data_files else None
    scores = score_groups(group_samples(rows, index, reward_key, success_threshold), ks)
    n_samples = sorted({s.n_samples for s in scores.values()})
    report = build_report(scores, {"dump": str(dump), "n_samples": n_samples, "ks": list(ks)} | (meta or {}))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval_report.json").write_text(json.dumps(report, indent=2) + "\n")
    plot_report(report, out_dir / "eval_report.png")
    _print_table(report)
    return report


def _print_table(report: dict[str, Any]) -> None:
    ks = list(report["overall"]["pass_at_k"])
    print(
        f"\n  {'data source':<18} {'problems':>8} {'avg@k':>7} " + " ".join(f"{'pass@' + k:>8}" for k in ks)
    )
    for name, s in [*report["per_source"].items(), ("(all)", report["overall"])]:
        cells = " ".join(f"{s['pass_at_k'][k]:>8.3f}" for k in ks)
        print(f"  {name:<18} {s['n_problems']:>8} {s['avg_at_k']:>7.3f} {cells}")


EVAL_OVERLAY = config_dir() / "eval.yaml"


def _override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def load_eval_config(config_name: str, overrides: Sequence[str]) -> Any:
    """The training config ``config_name`` with configs/eval.yaml over it and ``overrides`` over both.

    Hydra composes the training config and the non-``eval.`` overrides; the eval overlay then fills
    in every key the command line did not set, and ``eval.*`` overrides land last.
    """
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from srpo.main import CONFIG_DIR

    eval_args = [o.lstrip("+") for o in overrides if _override_key(o).split(".")[0] == "eval"]
    train_args = [o for o in overrides if _override_key(o).split(".")[0] != "eval"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        config = compose(config_name=config_name, overrides=train_args)
    overlay = OmegaConf.load(EVAL_OVERLAY)
    for key in map(_override_key, train_args):
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(overlay, parent) if parent else overlay
        if node is not None and leaf in node:
            node.pop(leaf)
    OmegaConf.set_struct(config, False)
    config = OmegaConf.merge(config, overlay, OmegaConf.from_dotlist(eval_args))
    OmegaConf.set_struct(config, True)
    return config


def run_eval(config: Any) -> dict[str, Any]:
    """Generate with verl's validation (unless ``eval.from_dump``), then aggregate into the report."""
    from omegaconf import OmegaConf, open_dict

    from srpo.main import train

    ev = config.eval
    ks = [int(k) for k in ev.ks]
    n = int(config.actor_rollout_ref.rollout.val_kwargs.n)
    if not ev.from_dump and max(ks) > n:
        raise EvalError(f"eval.ks={ks} needs actor_rollout_ref.rollout.val_kwargs.n >= {max(ks)}, got {n}")
    with open_dict(config):
        if ev.model_path:
            config.actor_rollout_ref.model.path = str(ev.model_path)
        if ev.data_files:
            config.data.val_files = list(ev.data_files)
            config.data.train_files = list(ev.data_files)  # verl builds a train set even in val_only
    dump = Path(ev.from_dump) if ev.from_dump else Path(config.trainer.validation_data_dir)
    if not ev.from_dump:
        train(config)
    files = OmegaConf.select(config, "data.val_files")
    files = [files] if isinstance(files, str) else list(files or [])
    meta = {"model": str(OmegaConf.select(config, "actor_rollout_ref.model.path")), "data_files": files}
    return aggregate(
        dump, files or None, ks, Path(ev.out_dir), ev.reward_key, float(ev.success_threshold), meta
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m srpo.eval [--config-name NAME] [key=value ...]`` (NAME defaults to embedded)."""
    import argparse

    import srpo.main  # noqa: F401  (selects verl's CPU platform before verl is imported)
    from srpo.verl_glue.preflight import PreflightError

    parser = argparse.ArgumentParser(prog="python -m srpo.eval", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--config-name", default="embedded", help="training config in configs/ to evaluate with"
    )
    parser.add_argument("overrides", nargs="*", help="Hydra-style key=value overrides")
    args = parser.parse_args(argv)
    try:
        run_eval(load_eval_config(args.config_name, args.overrides))
    except (EvalError, PreflightError) as err:
        print(f"srpo.eval: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
