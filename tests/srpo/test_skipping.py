"""GRESO-style pre-rollout skipping: the skip law, adaptation, streaks, and the sampler's invariants."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from srpo.algorithm.config import (
    CurriculumConfig,
    HistoryResamplingConfig,
    SkippingConfig,
    SRPOConfig,
    SRPOConfigError,
    load_srpo_config,
)
from srpo.algorithm.sampler import SRPOSampler
from srpo.algorithm.skipping import PreRolloutSkipper

N_MATH, N_CODE = 12, 8
IDS = [f"m{i}" for i in range(N_MATH)] + [f"c{i}" for i in range(N_CODE)]
DOMAINS = ["math"] * N_MATH + ["code"] * N_CODE


def _outcome(row: int, k: int) -> float:
    """Even rows always solved (easy), rows divisible by 3 never (hard), the rest mixed."""
    return 1.0 if row % 2 == 0 else (0.0 if row % 3 == 0 else float(k % 2))


def _simulate(sampler: SRPOSampler, steps: int, batch: int, start: int = 1, outcome=_outcome) -> list:
    drawn = []
    for step in range(start, start + steps):
        sampler.set_step(step)
        rows = sampler.draw(batch)
        drawn.append(rows)
        sampler.record(
            [IDS[r] for r in rows for _ in range(4)], [outcome(r, k) for r in rows for k in range(4)]
        )
    return drawn


def _cfg(
    seed: int = 11, history: bool = True, skipping: SkippingConfig | None = None, **curriculum
) -> SRPOConfig:
    return SRPOConfig(
        seed=seed,
        history=HistoryResamplingConfig(enable=history),
        curriculum=CurriculumConfig(**curriculum),
        skipping=skipping or SkippingConfig(),
    ).validate()


def _streak(skipper: PreRolloutSkipper, row: int, k: int, easy: bool) -> None:
    for _ in range(k):
        skipper.record([row] * 4, [easy] * 4)


# ---------------------------------------------------------------- the skipper on its own


def test_skip_rate_follows_one_minus_p_to_the_k():
    """Empirical skip rate per (streak k, easy/hard) within 5 standard errors of 1 - p^k."""
    skipper = PreRolloutSkipper(8, SkippingConfig(enable=True, explore_prob=0.6, adapt_step=0.0))
    for k in range(1, 5):
        _streak(skipper, k - 1, k, easy=False)  # rows 0..3: all wrong k times
        _streak(skipper, 3 + k, k, easy=True)  # rows 4..7: all correct k times
    skipper.explore_easy, skipper.explore_hard = 0.8, 0.6  # distinct p: the easy/hard choice matters
    rng = np.random.default_rng(0)
    trials = 40_000
    for row in range(8):
        k = int(skipper.streak[row])
        p = 0.8 if row >= 4 else 0.6
        expected = 1.0 - p**k
        rate = 1.0 - np.mean([skipper.keeps(row, rng) for _ in range(trials)])
        tol = 5 * math.sqrt(expected * (1 - expected) / trials)  # <= 0.0125
        assert abs(rate - expected) < tol, (row, k, rate, expected)
        assert skipper.skip_probability([row])[0] == pytest.approx(expected)


def test_rows_without_zero_variance_history_cost_no_randomness():
    skipper = PreRolloutSkipper(3, SkippingConfig(enable=True, explore_prob=0.5))
    skipper.record([0, 0, 1, 1], [True, False, True, False])  # two mixed groups
    rng = np.random.default_rng(3)
    before = copy.deepcopy(rng.bit_generator.state)
    assert all(skipper.keeps(r, rng) for r in (0, 1, 2) for _ in range(50))
    assert rng.bit_generator.state == before


def test_mixed_group_resets_the_streak_and_the_last_kind_is_kept():
    skipper = PreRolloutSkipper(2, SkippingConfig(enable=True, adapt_step=0.0))
    _streak(skipper, 0, 2, easy=False)
    assert skipper.streak[0] == 2 and not skipper.last_easy[0]
    _streak(skipper, 0, 1, easy=True)  # all correct after all wrong: still zero variance, now easy
    assert skipper.streak[0] == 3 and skipper.last_easy[0]
    skipper.record([0, 0, 0], [True, False, True])
    assert skipper.streak[0] == 0
    assert skipper.skip_probability([0, 1]).tolist() == [0.0, 0.0]


def test_a_row_drawn_twice_in_a_batch_is_one_group_with_all_its_rollouts():
    skipper = PreRolloutSkipper(2, SkippingConfig(enable=True, explore_prob=0.5, adapt_step=0.1))
    # row 0 drawn twice: one draw all correct, the other all wrong -> one mixed group, not two zero-variance
    skipper.record([0, 0, 1, 0, 0, 1], [True, True, False, False, False, False])
    assert skipper.streak.tolist() == [0, 1]
    # groups: row 0 mixed, row 1 all wrong -> easy share 0 (< 0.1), hard share 1/2 (> 0.2)
    assert skipper.explore_easy == pytest.approx(0.6) and skipper.explore_hard == pytest.approx(0.4)


def test_adaptation_moves_p_the_right_way_and_respects_bounds():
    cfg = SkippingConfig(
        enable=True,
        explore_prob=0.5,
        min_explore_prob=0.2,
        target_easy_frac=0.3,
        target_hard_frac=0.3,
        adapt_step=0.1,
    )
    skipper = PreRolloutSkipper(4, cfg)
    all_easy = ([0, 0, 1, 1], [True] * 4)  # easy share 1 > target: explore less; hard share 0: explore more
    skipper.record(*all_easy)
    assert skipper.explore_easy == pytest.approx(0.4) and skipper.explore_hard == pytest.approx(0.6)
    for _ in range(20):
        skipper.record(*all_easy)
    assert skipper.explore_easy == pytest.approx(0.2) and skipper.explore_hard == 1.0
    for _ in range(20):  # now all hard: the two probabilities swap roles
        skipper.record([2, 3], [False, False])
    assert skipper.explore_easy == 1.0 and skipper.explore_hard == pytest.approx(0.2)


def test_skipper_state_round_trips_and_rejects_another_training_set():
    skipper = PreRolloutSkipper(3, SkippingConfig(enable=True))
    _streak(skipper, 1, 2, easy=True)
    skipper.count_skipped(5)
    other = PreRolloutSkipper(3, SkippingConfig(enable=True))
    other.load_state_dict(copy.deepcopy(skipper.state_dict()))
    assert other.state_dict() == skipper.state_dict()
    assert other.metrics()["srpo/skip/skipped_total"] == 5.0
    with pytest.raises(ValueError, match="3 rows"):
        PreRolloutSkipper(4, SkippingConfig(enable=True)).load_state_dict(skipper.state_dict())


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("node", "key"),
    [
        ({"explore_prob": 1.5}, "srpo.skipping.explore_prob"),
        ({"explore_prob": 0.01, "min_explore_prob": 0.05}, "srpo.skipping.explore_prob"),
        ({"min_explore_prob": -0.1}, "srpo.skipping.min_explore_prob"),
        ({"target_easy_frac": 2.0}, "srpo.skipping.target_easy_frac"),
        ({"target_hard_frac": -0.5}, "srpo.skipping.target_hard_frac"),
        ({"adapt_step": float("nan")}, "srpo.skipping.adapt_step"),
        ({"enabled": True}, "srpo.skipping.enabled"),  # typo in a key
        ({"explore_prob": "often"}, "srpo.skipping.explore_prob"),  # wrong type
    ],
)
def test_bad_skipping_values_name_the_key(node, key):
    with pytest.raises(SRPOConfigError) as err:
        load_srpo_config(OmegaConf.create({"skipping": node}))
    assert key in str(err.value)


def test_skipping_is_off_by_default_and_in_the_base_config():
    assert load_srpo_config(None).skipping.enable is False
    base = OmegaConf.load(Path(__file__).resolve().parents[2] / "configs" / "srpo_base.yaml")
    cfg = load_srpo_config(base.srpo)
    assert cfg.skipping == SkippingConfig()


# ---------------------------------------------------------------- the sampler

# Drawn by the sampler as it was before skipping existed (commit 553c5e3), seed 11, _simulate above.
GOLDEN_ADAPTIVE = [
    [2, 10, 8], [1, 6, 9], [4, 5, 11], [3, 7, 0], [11, 7, 3], [3, 11, 14], [5, 17, 1], [19, 13, 12],
    [9, 16, 18], [13, 15, 1], [3, 7, 19], [11, 9, 5], [5, 9, 17], [11, 7, 1], [13, 19, 15], [17, 9, 19],
]  # fmt: skip
GOLDEN_ADAPTIVE_RNG = 247671002708063106658145808850119351857
GOLDEN_WEIGHTS_NO_HISTORY = [
    [2, 10, 8, 1, 6], [9, 4, 5, 11, 3], [10, 9, 4, 7, 2], [1, 11, 8, 3, 5], [1, 4, 10, 5, 6],
    [17, 11, 14, 18, 7], [19, 10, 12, 0, 2], [16, 15, 6, 5, 12], [14, 9, 4, 13, 8], [2, 17, 12, 0, 4],
    [3, 18, 9, 19, 15], [16, 1, 7, 14, 14], [11, 10, 13, 16, 5], [14, 5, 9, 12, 8], [16, 4, 0, 1, 7],
    [18, 15, 15, 10, 17],
]  # fmt: skip
GOLDEN_WEIGHTS_NO_HISTORY_RNG = 188641154635134430021798034809299759100
NEVER_SKIPS = SkippingConfig(enable=True, explore_prob=1.0, adapt_step=0.0)  # 1 - 1^k = 0


@pytest.mark.parametrize("skipping", [None, NEVER_SKIPS], ids=["disabled", "enabled-never-skips"])
def test_draws_and_rng_match_the_sampler_before_skipping(skipping):
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(switch_step=6, mixture="adaptive", skipping=skipping))
    assert _simulate(sampler, steps=16, batch=3) == GOLDEN_ADAPTIVE
    assert sampler.state_dict()["rng"]["state"]["state"] == GOLDEN_ADAPTIVE_RNG
    sampler = SRPOSampler(
        IDS, DOMAINS, _cfg(history=False, switch_step=6, mixture="weights", skipping=skipping)
    )
    assert _simulate(sampler, steps=16, batch=5) == GOLDEN_WEIGHTS_NO_HISTORY
    assert sampler.state_dict()["rng"]["state"]["state"] == GOLDEN_WEIGHTS_NO_HISTORY_RNG


def test_disabled_skipping_adds_no_state_and_no_metrics():
    sampler = SRPOSampler(IDS, DOMAINS, _cfg())
    _simulate(sampler, steps=2, batch=3)
    assert sampler.skipper is None and "skipper" not in sampler.state_dict()
    assert not any(k.startswith("srpo/skip/") for k in sampler.metrics())


def _watch(
    sampler: SRPOSampler, steps: int, batch: int, outcome=_outcome
) -> list[tuple[int, list[int], list[int]]]:
    """Per step: the epoch, the batch, and the epoch's order (to check batches against their epoch)."""
    seen = []
    for step in range(1, steps + 1):
        sampler.set_step(step)
        rows = sampler.draw(batch)
        seen.append((sampler.epoch, rows, [int(r) for r in sampler._order]))
        sampler.record(
            [IDS[r] for r in rows for _ in range(4)], [outcome(r, k) for r in rows for k in range(4)]
        )
    return seen


def _is_subsequence(part: list[int], whole: list[int]) -> bool:
    it = iter(whole)
    return all(any(x == y for y in it) for x in part)


def test_skipped_rows_are_consumed_and_batches_never_straddle_epochs():
    skip_all = SkippingConfig(enable=True, explore_prob=0.0, min_explore_prob=0.0, adapt_step=0.0)
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(history=False, switch_at="never", skipping=skip_all))
    seen = _watch(sampler, steps=12, batch=3)
    epochs: dict[int, list[int]] = {}
    orders: dict[int, list[int]] = {}
    for epoch, rows, order in seen:
        epochs.setdefault(epoch, []).extend(rows)
        orders[epoch] = order
    assert sorted(epochs[0]) == list(range(N_MATH))  # epoch 0: no history yet, nothing skipped
    # After epoch 0 only the mixed rows 1, 5, 7, 11 are kept (even rows were all correct, 3 and 9 all
    # wrong; p = 0 always skips them): each later epoch gives one batch of 3 and its 4th kept row waits.
    mixed = {1, 5, 7, 11}
    assert sorted(epochs) == list(range(9))
    restarted = 0
    for epoch in range(1, 9):
        kept_in_order = [r for r in orders[epoch] if r in mixed]
        # a batch straddling two epochs would take this epoch's 4th kept row and two of the next epoch
        assert epochs[epoch] == kept_in_order[:3]
        # the epoch ran out inside a draw (enough rows were left to try a whole batch), not before it
        restarted += orders[epoch].index(kept_in_order[2]) + 1 + 3 <= N_MATH
    assert restarted > 0
    assert sampler.metrics()["srpo/skip/skipped_total"] > 0


def test_history_resampling_sees_only_rolled_out_rows():
    skip_all = SkippingConfig(enable=True, explore_prob=0.0, min_explore_prob=0.0, adapt_step=0.0)
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(switch_at="never", skipping=skip_all))
    _simulate(sampler, steps=3, batch=4)  # epoch 0: all 12 math rows
    _simulate(sampler, steps=1, batch=2, start=4)  # closes epoch 0: the 6 even rows leave the pool
    assert sampler.reports[0].seen == 12 and sampler.history.pool_rows.tolist()[:6] == [1, 3, 5, 7, 9, 11]
    _simulate(sampler, steps=2, batch=2, start=5)  # epoch 1 ends: rows 3 and 9 (all wrong) were skipped
    assert len(sampler.reports) == 2
    report = sampler.reports[1]
    assert report.all_wrong == 0 and report.seen == 4  # rows 1, 5, 7, 11 rolled out
    assert report.dropped == 0 and report.pool_size == 6 + N_CODE  # skipped rows stay in the pool


def test_progress_when_a_whole_epoch_would_be_skipped():
    skip_all = SkippingConfig(enable=True, explore_prob=0.0, min_explore_prob=0.0, adapt_step=0.0)
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(history=False, switch_at="never", skipping=skip_all))
    _simulate(sampler, steps=3, batch=4, outcome=lambda row, k: 1.0)  # epoch 0, every group all correct
    assert sampler.skipper.streak[:N_MATH].tolist() == [1] * N_MATH
    for step in range(4, 8):
        sampler.set_step(step)
        rows = sampler.draw(4)  # every row would be skipped: the batch is filled from skipped rows
        assert len(rows) == 4 and len(set(rows)) == 4
        assert rows == [int(r) for r in sampler._order[:4]]  # the first rows of a fresh epoch
        assert sampler.metrics()["srpo/skip/skipped_step"] == N_MATH - 4
        sampler.record([IDS[r] for r in rows for _ in range(4)], [1.0] * 16)
    assert sampler.epoch == 4  # epoch 0 (steps 1-3), then one fresh epoch per batch (steps 4-7)


def test_record_feeds_the_skipper_when_history_resampling_is_off():
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(history=False, skipping=SkippingConfig(enable=True)))
    sampler.record(["m0", "m0", "m1", "m1", "m2"], [1.0, 1.0, 0.0, 0.0, 1.0])
    assert sampler.history.n_rollouts.sum() == 0  # History Resampling records nothing when off ...
    assert sampler.skipper.streak[:4].tolist() == [1, 1, 1, 0]  # ... the skipper still learns
    assert sampler.skipper.last_easy[:3].tolist() == [True, False, True]
    metrics = sampler.metrics()
    assert {"srpo/skip/skipped_step", "srpo/skip/skipped_total"} <= set(metrics)
    assert metrics["srpo/skip/explore_prob_easy"] == pytest.approx(0.49)  # 2/3 easy groups > 0.1


def test_skipped_step_counts_per_step_and_total_accumulates():
    skip_all = SkippingConfig(enable=True, explore_prob=0.0, min_explore_prob=0.0, adapt_step=0.0)
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(history=False, switch_at="never", skipping=skip_all))
    _simulate(sampler, steps=3, batch=4)  # epoch 0, rows 0, 2, 4, ... all correct
    sampler.set_step(4)
    sampler.draw(2)
    first = sampler.metrics()["srpo/skip/skipped_step"]
    sampler.draw(2)  # a second draw in the same step (e.g. a DAPO refill) adds to the step's count
    both = sampler.metrics()["srpo/skip/skipped_step"]
    assert 0 <= first <= both and both > 0
    assert sampler.metrics()["srpo/skip/skipped_total"] == both
    sampler.set_step(5)
    assert sampler.metrics()["srpo/skip/skipped_step"] == 0.0
    assert sampler.metrics()["srpo/skip/skipped_total"] == both


def test_resume_with_skipping_continues_identically():
    skipping = SkippingConfig(enable=True, explore_prob=0.5, min_explore_prob=0.1, adapt_step=0.05)
    cfg = _cfg(switch_step=6, mixture="adaptive", skipping=skipping)
    full = SRPOSampler(IDS, DOMAINS, cfg)
    expected = _simulate(full, steps=24, batch=3)
    assert full.skipper.skipped_total > 0  # skipping really acted in this run

    first = SRPOSampler(IDS, DOMAINS, cfg)
    got = _simulate(first, steps=11, batch=3)
    state = json.loads(json.dumps(first.state_dict()))  # as plain as a checkpoint
    resumed = SRPOSampler(IDS, DOMAINS, cfg)
    resumed.load_state_dict(state)
    got += _simulate(resumed, steps=13, batch=3, start=12)
    assert got == expected
    assert resumed.state_dict() == full.state_dict()
    # without the skipper's state the resumed run would draw differently
    lossy = SRPOSampler(IDS, DOMAINS, cfg)
    lossy.load_state_dict({k: v for k, v in state.items() if k != "skipper"})
    assert _simulate(lossy, steps=13, batch=3, start=12) != expected[11:]


def test_skipped_prompts_are_not_written_to_draws_jsonl(tmp_path: Path):
    from srpo.verl_glue.trainer import SRPOPromptLoader

    skip_all = SkippingConfig(enable=True, explore_prob=0.0, min_explore_prob=0.0, adapt_step=0.0)
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(history=False, switch_at="never", skipping=skip_all))
    dataset = [{"prompt_id": pid} for pid in IDS]
    loader = SRPOPromptLoader(dataset, sampler, batch_size=4, draws_path=str(tmp_path / "draws.jsonl"))
    batches = iter(loader)
    for step in range(1, 7):
        sampler.set_step(step)
        rows = [IDS.index(p) for p in next(batches)["prompt_id"]]
        sampler.record(
            [IDS[r] for r in rows for _ in range(4)], [_outcome(r, k) for r in rows for k in range(4)]
        )
    logged = [json.loads(line) for line in (tmp_path / "draws.jsonl").read_text().splitlines()]
    assert [len(r["prompt_ids"]) for r in logged] == [4] * 6  # exactly the rolled-out prompts
    assert sampler.skipper.skipped_total > 0
    assert all(p in {"m1", "m5", "m7", "m11"} for r in logged[3:] for p in r["prompt_ids"])
