"""Plots and the summary come out of a metrics log, resumed runs included."""

import json

from srpo.tools.report import epoch_composition, load_metrics, plot_run, run_summary


def _write(path, steps):
    with open(path, "w") as f:
        for step in steps:
            epoch = (step - 1) // 3
            data = {
                "critic/score/mean": 0.1 * step,
                "srpo/acc/math": 0.05 * step,
                "srpo/stage": 1.0 if step < 5 else 2.0,
                "srpo/pool_size": 10.0 - epoch,
                "srpo/epoch": float(epoch),
                "srpo/zero_adv_group_frac": 0.5,
                "response_length/mean": 20.0 + step,
                "note": "strings are ignored",
            }
            if step >= 5:
                data["srpo/acc/code"] = 0.2
            if epoch >= 1:
                data |= {"srpo/too_easy_frac": 0.2, "srpo/all_wrong_frac": 0.3, "srpo/mixed_frac": 0.5}
            f.write(json.dumps({"step": step, "data": data}) + "\n")


def test_plots_and_summary(tmp_path):
    _write(tmp_path / "metrics-1.jsonl", range(1, 5))
    _write(tmp_path / "metrics-2.jsonl", range(4, 9))  # resumed at step 4: overlapping step is fine
    metrics = load_metrics(tmp_path.glob("metrics*.jsonl"))
    assert sorted(metrics) == list(range(1, 9))
    paths = plot_run(metrics, tmp_path / "plots")
    assert [p.name for p in paths] == ["reward.png", "pool.png", "signal.png"]
    assert all(p.stat().st_size > 5000 for p in paths)
    summary = run_summary(metrics)
    assert summary["steps"] == 8 and summary["stage_switch_step"] == 5
    assert summary["last"]["srpo/acc/code"] == 0.2 and "srpo/acc/code" not in summary["first"]
    assert [r["epoch"] for r in epoch_composition(metrics)] == [0, 1]


def test_training_from_scratch_sets_earlier_metrics_aside(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from srpo.embedded.setup import prepare_run

    monkeypatch.delenv("VERL_FILE_LOGGER_PATH", raising=False)
    old = tmp_path / "metrics-20260101-000000.jsonl"
    old.write_text(json.dumps({"step": 40, "data": {"val-core/srpo/arith/acc/mean@1": 0.9}}) + "\n")
    config = OmegaConf.create({"output_dir": str(tmp_path), "trainer": {"resume_mode": "auto"}})
    prepare_run(config)
    assert old.is_file()  # resuming keeps the run's earlier files: they are the same run
    config.trainer.resume_mode = "disable"
    prepare_run(config)
    assert not old.exists() and (tmp_path / "earlier-runs" / old.name).is_file()
    assert load_metrics(tmp_path.glob("metrics-*.jsonl")) == {}
