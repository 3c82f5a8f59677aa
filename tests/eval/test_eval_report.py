"""srpo.eval's aggregation on a synthetic dump written the way verl's _write_generations writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from srpo.eval import EvalError, aggregate, group_samples, latest_dump

N = 4


def _write_data(path: Path, source: str, problems: list[tuple[str, str]]) -> Path:
    rows = [
        {
            "data_source": source,
            "prompt": [{"role": "user", "content": q}],
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": gt},
            "extra_info": {"prompt_id": f"{source}-{i}", "domain": "math", "split": "test", "index": i},
        }
        for i, (q, gt) in enumerate(problems)
    ]
    pd.DataFrame(rows).to_parquet(path)
    return path


def _dump_line(uid: str, sample: int, question: str, gt: str, acc: float) -> str:
    entry = {
        "input": f"system\nYou are helpful.\nuser\n{question}\nassistant\n",
        "output": "answer",
        "gts": gt,
        "score": acc,
        "step": 0,
        "reward": acc,
        "acc": acc,
        "format": 1.0,
        "uid": f"{uid}_{sample}_0",
    }
    return json.dumps(entry)


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[list[Path], Path]:
    arith = _write_data(
        tmp_path / "arith.parquet", "srpo/arith", [("What is 1+1?", "2"), ("What is 2+3?", "5")]
    )
    # A second source sharing a ground truth ("2") with arith: the prompt text must settle it.
    other = _write_data(tmp_path / "other.parquet", "gsm8k", [("How many eyes?", "2")])
    correct = {"p1": 3, "p2": 0, "p3": 4}
    questions = {"p1": ("What is 1+1?", "2"), "p2": ("What is 2+3?", "5"), "p3": ("How many eyes?", "2")}
    lines = [
        _dump_line(f"uid-{p}", s, *questions[p], 1.0 if s < correct[p] else 0.0)
        for p in questions
        for s in range(N)
    ]
    dump_dir = tmp_path / "generations"
    dump_dir.mkdir()
    (dump_dir / "0.jsonl").write_text("\n".join(lines[::-1]) + "\n")  # order must not matter
    (dump_dir / "notes.jsonl").write_text("ignored\n")
    return [arith, other], dump_dir


def test_report_per_source(dataset: tuple[list[Path], Path], tmp_path: Path) -> None:
    files, dump_dir = dataset
    report = aggregate(dump_dir, files, ks=[1, 2, 4], out_dir=tmp_path / "out", meta={"model": "m"})
    arith = report["per_source"]["srpo/arith"]
    assert arith["n_problems"] == 2 and arith["n_samples"] == N
    assert arith["avg_at_k"] == pytest.approx((3 / 4 + 0) / 2)
    assert arith["pass_at_k"]["1"] == pytest.approx(3 / 8)
    assert arith["pass_at_k"]["2"] == pytest.approx((1.0 + 0.0) / 2)  # 3 of 4 correct: any pair has one
    assert report["per_source"]["gsm8k"]["pass_at_k"]["4"] == 1.0
    assert report["overall"]["n_problems"] == 3
    assert report["overall"]["avg_at_k"] == pytest.approx((0.75 + 0 + 1) / 3)
    saved = json.loads((tmp_path / "out" / "eval_report.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert (tmp_path / "out" / "eval_report.png").stat().st_size > 1000


def test_latest_dump_picks_highest_step(tmp_path: Path) -> None:
    for step in (2, 10, 3):
        (tmp_path / f"{step}.jsonl").write_text("")
    assert latest_dump(tmp_path).name == "10.jsonl"
    with pytest.raises(EvalError, match="no <step>.jsonl"):
        latest_dump(tmp_path / "missing")


def test_threshold_and_missing_key() -> None:
    rows = [{"uid": "a_0_0", "acc": 0.5, "gts": "1"}, {"uid": "a_1_0", "acc": 1.0, "gts": "1"}]
    assert group_samples(rows, None, success_threshold=0.5) == [("all", [True, True])]
    assert group_samples(rows, None) == [("all", [False, True])]
    with pytest.raises(EvalError, match="lacks 'score_x'"):
        group_samples(rows, None, reward_key="score_x")


def test_unknown_ground_truth_is_an_error(dataset: tuple[list[Path], Path], tmp_path: Path) -> None:
    files, _ = dataset
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_dump_line("u", 0, "What is 9+9?", "18", 1.0) + "\n")
    with pytest.raises(EvalError, match="matches no row"):
        aggregate(bad, files, ks=[1], out_dir=tmp_path / "o")


def test_cli_aggregates_an_existing_dump(dataset: tuple[list[Path], Path], tmp_path: Path) -> None:
    from srpo.eval import main

    files, dump_dir = dataset
    out = tmp_path / "cli"
    main(
        [
            f"output_dir={out}",
            f"eval.from_dump={dump_dir}",
            f"eval.data_files=[{files[0]},{files[1]}]",
            "eval.ks=[1,4]",
            "actor_rollout_ref.rollout.val_kwargs.n=4",
        ]
    )
    report = json.loads((out / "eval_report.json").read_text())
    assert report["meta"]["data_files"] == [str(f) for f in files]
    assert report["per_source"]["srpo/arith"]["pass_at_k"]["4"] == pytest.approx(0.5)
