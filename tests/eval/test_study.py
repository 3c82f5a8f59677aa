"""benchmarks.study: commands and the side-by-side aggregation, on synthetic run folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import study

N, BATCH = 4, 2


def _fake_run(root: Path, method: str, seed: int, accs: list[float], evicted: list[int], zero: float) -> Path:
    """A run folder as srpo.main + the study leave it: study_run.json, metrics-*.jsonl, draws.jsonl."""
    folder = root / f"{method}-s{seed}"
    folder.mkdir(parents=True)
    record = {"method": method, "seed": seed, "command": "x", "returncode": 0, "wall_s": 100.0 + seed}
    (folder / "study_run.json").write_text(json.dumps(record | {"rollout_n": N, "train_batch_size": BATCH}))
    lines = [
        {
            "step": 0,
            "data": {"val-core/srpo/arith/acc/mean@1": accs[0], "val-core/srpo/codegen/acc/mean@1": 0.0},
        }
    ]
    draws = []
    for step in range(1, len(accs)):
        data = {"response_length/mean": 10.0, "srpo/zero_adv_group_frac": zero}
        if evicted[step - 1]:
            data["training/filter_groups/evicted_samples"] = evicted[step - 1]
        data |= {"val-core/srpo/arith/acc/mean@1": accs[step], "val-core/srpo/codegen/acc/mean@1": accs[step]}
        lines.append({"step": step, "data": data})
        # the loader draws one batch per step plus one per refill (DAPO)
        for _ in range(1 + evicted[step - 1] // BATCH):
            draws.append(
                {"step": step, "epoch": 0, "stage": 1, "prompt_ids": [f"p{i}" for i in range(BATCH)]}
            )
    (folder / "metrics-0.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (folder / "draws.jsonl").write_text("\n".join(json.dumps(x) for x in draws) + "\n")
    return folder


def test_read_run_counts_rollouts_tokens_and_target(tmp_path: Path) -> None:
    folder = _fake_run(tmp_path, "dapo", 0, accs=[0.0, 0.2, 0.6, 0.8], evicted=[2, 0, 4], zero=0.0)
    run = study.read_run(folder)
    assert run.rollouts == {1: 2 * BATCH * N, 2: BATCH * N, 3: 3 * BATCH * N}
    assert run.tokens[1] == pytest.approx(10.0 * 2 * BATCH * N)
    assert run.zero_adv == {1: pytest.approx(0.5), 2: 0.0, 3: pytest.approx(4 / 6)}
    # mean over sources: step 2 -> 0.6 (arith and codegen both 0.6)
    assert run.first_step_reaching(0.5) == 2
    assert run.cumulative(run.rollouts, 2) == 3 * BATCH * N
    assert run.first_step_reaching(0.9) is None


def test_aggregate_side_by_side(tmp_path: Path) -> None:
    for seed in (0, 1, 2):
        _fake_run(tmp_path, "srpo", seed, accs=[0.0, 0.6, 0.7], evicted=[0, 0], zero=0.25)
        _fake_run(tmp_path, "grpo", seed, accs=[0.0, 0.2, 0.4 + 0.1 * seed], evicted=[0, 0], zero=0.5)
    (tmp_path / "data").mkdir()  # shared assets folder: not a run
    table = study.aggregate(tmp_path, target=0.5)
    lines = table.splitlines()
    assert lines[0].startswith("| method | seeds | reached 0.5 | rollouts to target")
    srpo_row = next(line for line in lines if line.startswith("| srpo |"))
    grpo_row = next(line for line in lines if line.startswith("| grpo |"))
    assert "| 3/3 | 8 ± 0 |" in srpo_row  # every seed reaches 0.5 after step 1: BATCH * N rollouts
    assert "| 2/3 | 16 ± 0 |" in grpo_row  # seeds 1 and 2 reach it at step 2
    assert "0.25" in srpo_row and "101 ± 1" in srpo_row
    saved = json.loads((tmp_path / "study.json").read_text())
    assert [m["method"] for m in saved["methods"]] == ["srpo", "grpo"]
    assert saved["methods"][1]["final_acc"]["srpo/arith"] == pytest.approx([0.4, 0.5, 0.6])
    assert (tmp_path / "study.md").is_file()
    assert (tmp_path / "study_accuracy_vs_rollouts.png").stat().st_size > 1000
    assert (tmp_path / "study_zero_adv.png").stat().st_size > 1000


def test_broken_run_is_reported_not_hidden(tmp_path: Path) -> None:
    _fake_run(tmp_path, "srpo", 0, accs=[0.0, 0.6], evicted=[0], zero=0.0)
    broken = tmp_path / "grpo-s0"
    broken.mkdir()
    (broken / "study_run.json").write_text(
        json.dumps({"method": "grpo", "seed": 0, "rollout_n": N, "train_batch_size": 2})
    )
    study.aggregate(tmp_path, target=0.5)
    assert (
        "Skipped: " in (tmp_path / "study.md").read_text()
        and "grpo-s0" in (tmp_path / "study.md").read_text()
    )


def test_run_whose_rollouts_left_the_actors_weights_is_named(tmp_path: Path) -> None:
    _fake_run(tmp_path, "grpo", 0, accs=[0.0, 0.6, 0.7], evicted=[0, 0], zero=0.0)
    crossed = _fake_run(tmp_path, "srpo", 0, accs=[0.0, 0.6, 0.7], evicted=[0, 0], zero=0.0)
    metrics = crossed / "metrics-0.jsonl"
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    for line, corr in zip(lines[1:], (1.0, 0.41), strict=True):
        line["data"][study.SYNC_CORR_KEY] = corr
    metrics.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    study.aggregate(tmp_path, target=0.5, late_frac=0.9)
    for report in ("study.md", "study_late.md"):
        text = (tmp_path / report).read_text()
        assert "WARNING: rollouts not from the actor's weights" in text and "srpo-s0 (steps 2)" in text
        assert "grpo-s0 (" not in text


def test_dry_run_prints_same_budget_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study.main(
        [
            "--dry-run",
            "--seeds",
            "0",
            "1",
            "--methods",
            "srpo",
            "dapo",
            "--steps",
            "30",
            "--out",
            str(tmp_path),
        ]
    )
    cmds = [line for line in capsys.readouterr().out.splitlines() if "srpo.main" in line]
    assert len(cmds) == 4
    assert all("trainer.total_training_steps=30" in c and "actor_rollout_ref.rollout.n=8" in c for c in cmds)
    assert any("+baselines=dapo" in c and "srpo.seed=1" in c for c in cmds)
    assert not any(tmp_path.iterdir())  # nothing ran


def test_unknown_method_is_refused() -> None:
    with pytest.raises(SystemExit):
        study.parse_args(["--methods", "ppo"])


def test_every_study_method_is_a_baseline_overlay() -> None:
    overlays = {p.stem for p in (study.REPO / "configs" / "baselines").glob("*.yaml")}
    assert set(study.METHODS) <= overlays
    assert study.METHODS[-1] == "grpo_skip"


def test_target_on_one_source_holds_for_every_method(tmp_path: Path) -> None:
    """The target may name one data source; every method's row is judged on that source alone."""
    for method in ("srpo", "grpo"):
        folder = _fake_run(tmp_path, method, 0, accs=[0.0, 0.6, 0.7], evicted=[0, 0], zero=0.25)
    metrics = folder / "metrics-0.jsonl"  # grpo: code never learns
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    for line in lines:
        line["data"]["val-core/srpo/codegen/acc/mean@1"] = 0.0
    metrics.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    run = study.read_run(folder)
    assert run.first_step_reaching(0.5, "srpo/arith") == 1
    assert run.first_step_reaching(0.5, "srpo/codegen") is None
    assert run.first_step_reaching(0.5, "srpo/other") is None
    study.aggregate(tmp_path, target=0.65, source="srpo/arith")
    saved = json.loads((tmp_path / "study-srpo_arith.json").read_text())
    assert saved["source"] == "srpo/arith"
    assert [m["reached"] for m in saved["methods"]] == ["1/1", "1/1"]


def test_late_targets_per_source_and_spread(tmp_path: Path) -> None:
    # srpo reaches 0.9 x best at step 2 with both seeds; grpo only at step 3; codegen best is 0.8
    for seed in (0, 1):
        _fake_run(tmp_path, "srpo", seed, accs=[0.0, 0.5, 0.8, 0.8], evicted=[0, 0, 0], zero=0.2)
        _fake_run(tmp_path, "grpo", seed, accs=[0.0, 0.3, 0.5, 0.8], evicted=[0, 0, 0], zero=0.5 + seed / 10)
    runs = [study.read_run(f) for f in sorted(tmp_path.glob("*-s*"))]
    targets = study.late_targets(runs, 0.9)
    assert targets["all"] == pytest.approx(0.72) and targets["srpo/codegen"] == pytest.approx(0.72)
    # arith's step-0 value is 0.0 in every run and its final 0.8 too
    rows = study.late_rows(runs, targets)
    assert rows["srpo"]["all"]["rollouts"] == [2 * BATCH * N] * 2
    assert rows["grpo"]["all"]["rollouts"] == [3 * BATCH * N] * 2
    assert rows["grpo"]["all"]["reached"] == "2/2"
    data = study.late_data(runs, 0.9)
    text = study.late_tables(data)
    assert "| srpo | 0.67x | n/a" not in text  # two seeds each: the spread check runs
    assert "| srpo | 0.67x | yes |" in text  # identical seeds: sd 0, any gap is beyond it
    # per target: every key of srpo at 2/3 of grpo's rollouts, beyond the (zero) spread
    assert "| srpo | 0.67x* (2/2 vs 2/2) | 0.67x* (2/2 vs 2/2) | 0.67x* (2/2 vs 2/2) |" in text
    assert data["targets"]["all"] == pytest.approx(0.72)
    assert study.beyond_spread([1.0, 3.0], [2.0, 2.5]) == "no"
    assert study.beyond_spread([1.0], [2.0]) == "n/a (<2 seeds)"
    study.aggregate(tmp_path, 0.5, late_frac=0.9)
    assert (tmp_path / "study_late.md").is_file() and (tmp_path / "study_accuracy_per_source.png").is_file()
    heldout = (tmp_path / "study_heldout.md").read_text()
    assert "srpo, seed 1 (0 epoch ends)" in heldout
    assert "| 2 | 16 | 0.80 | 0.80 |" in heldout  # step 2: 2 steps x BATCH x N rollouts, both sources 0.8


def test_merge_late_adds_seeds_to_a_study_whose_runs_are_gone(tmp_path: Path) -> None:
    first, later = tmp_path / "first", tmp_path / "later"
    _fake_run(first, "srpo", 0, accs=[0.0, 0.5, 0.8], evicted=[0, 0], zero=0.2)
    _fake_run(first, "grpo", 0, accs=[0.0, 0.3, 0.8], evicted=[0, 0], zero=0.5)
    study.aggregate(first, 0.5, late_frac=0.9)
    earlier_path = tmp_path / "earlier_late.json"
    (first / "study_late.json").rename(earlier_path)
    for seed in (1, 2):  # seed 2 of grpo never reaches the earlier target (0.72)
        _fake_run(later, "grpo", seed, accs=[0.0, 0.3, 0.8 - 0.2 * (seed - 1)], evicted=[0, 0], zero=0.4)
    text = study.aggregate(later, 0.5, late_frac=0.9, merge_late_from=earlier_path)
    merged = json.loads((later / "study_late.json").read_text())
    assert merged["targets"]["all"] == pytest.approx(0.72)  # the earlier study's bar, not 0.9 x 0.8 anew
    assert merged["late"]["grpo"]["all"]["reached"] == "2/3"
    assert merged["late"]["grpo"]["all"]["rollouts"] == [2 * BATCH * N] * 2
    assert merged["late"]["srpo"]["all"]["reached"] == "1/1"  # only in the earlier study
    assert merged["finals"]["grpo"]["all"] == pytest.approx([0.8, 0.8, 0.6])
    assert sorted(merged["epochs"]) == ["grpo-s0", "grpo-s1", "grpo-s2", "srpo-s0"]
    assert "Merged with earlier_late.json" in text
    assert "| grpo | 0,1,2 |" in text
    with pytest.raises(SystemExit, match="in both studies"):
        study.aggregate(later, 0.5, late_frac=0.9, merge_late_from=later / "study_late.json")
    with pytest.raises(SystemExit, match="late_frac"):
        study.aggregate(later, 0.5, late_frac=0.8, merge_late_from=earlier_path)


def test_ratio_cell_names_misses_and_reached_counts() -> None:
    def row(rollouts: list[float], reached: str) -> dict:
        return {"r4": {"rollouts": rollouts, "reached": reached}}

    rows = {"grpo": row([100.0, 120.0], "2/3"), "srpo": row([40.0], "1/3"), "dapo": row([], "0/3")}
    assert study.ratio_cell(rows, "srpo", "r4", "grpo") == "0.36x (1/3 vs 2/3)"  # one seed: no spread check
    assert study.ratio_cell(rows, "dapo", "r4", "grpo") == "never (0/3)"
    rows["grpo"] = row([], "0/3")
    assert study.ratio_cell(rows, "srpo", "r4", "grpo").startswith("- (1/3 vs 0/3;")


def test_task_overlay_goes_before_the_method(tmp_path: Path) -> None:
    cmd = study.run_command("srpo", 1, tmp_path, 4, 8, None, [], task="ladder")
    assert cmd.index("+tasks=ladder") < cmd.index("+baselines=srpo")
    args = study.parse_args(["--task", "ladder", "--dry-run", "--out", str(tmp_path)])
    assert (args.rollout_n, args.batch) == (4, 8)  # the ladder's own sizes
    with pytest.raises(SystemExit):
        study.parse_args(["--task", "stairs"])


def test_rollouts_per_source_from_draws_and_train_data(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # p0 is rung 1, p1 rung 4 (the fake runs draw p0 and p1 at every step, all in epoch 0)
    (tmp_path / "data").mkdir()
    rows = [
        {"data_source": f"srpo/ladder/r{rung}", "extra_info": {"prompt_id": f"p{i}"}}
        for i, rung in enumerate((1, 4))
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "data" / "ladder_train.parquet")
    source_of = study.train_sources(tmp_path / "data")
    assert source_of == {"p0": "srpo/ladder/r1", "p1": "srpo/ladder/r4"}
    folder = _fake_run(tmp_path, "srpo", 0, accs=[0.0, 0.5, 0.8], evicted=[0, 0], zero=0.0)
    run = study.read_run(folder, source_of)
    assert run.drawn_by_source == {"srpo/ladder/r1": 2, "srpo/ladder/r4": 2}
    assert run.epoch_sources == {0: {"srpo/ladder/r1": 1, "srpo/ladder/r4": 1}}
    assert study.read_run(folder).drawn_by_source == {}  # no map: no per-source counts
    text = study.drawn_by_source_markdown([run], ["srpo"])
    assert "| method | srpo/ladder/r1 | srpo/ladder/r4 |" in text and "| srpo | 0.5 | 0.5 |" in text
