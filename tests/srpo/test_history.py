"""History Resampling keeps mixed and all-wrong prompts, drops all-correct ones, and round-trips."""

import copy

import numpy as np
import pytest

from srpo.algorithm.config import HistoryResamplingConfig
from srpo.algorithm.history import HistoryResampling, zero_variance_group_fraction

IDS = ["easy", "mixed", "wrong", "unseen"]


def _epoch(hr: HistoryResampling) -> None:
    hr.record(["easy"] * 4, [1, 1, 1, 1])
    hr.record(["mixed"] * 4, [1, 0, 0, 1])
    hr.record(["wrong"] * 4, [0, 0, 0, 0])


def test_drops_too_easy_keeps_mixed_and_all_wrong():
    hr = HistoryResampling(IDS, HistoryResamplingConfig())
    _epoch(hr)
    report = hr.end_epoch()
    assert hr.pool_rows.tolist() == [1, 2, 3]  # easy dropped; unseen prompts stay
    assert (report.too_easy, report.mixed, report.all_wrong, report.dropped) == (1, 1, 1, 1)
    assert report.pool_size == 3 and report.seen == 3
    assert report.metrics()["srpo/too_easy_frac"] == pytest.approx(1 / 3)


def test_dapo_like_drops_all_wrong_too():
    hr = HistoryResampling(IDS, HistoryResamplingConfig(keep_all_wrong=False))
    _epoch(hr)
    hr.end_epoch()
    assert hr.pool_rows.tolist() == [1, 3]


def test_threshold_decides_correctness():
    hr = HistoryResampling(
        ["a"], HistoryResamplingConfig(success_threshold=0.5, min_pool_size=1, refill="keep_easy")
    )
    hr.record(["a", "a"], [0.6, 0.9])
    assert hr.end_epoch().too_easy == 1


def test_records_reset_each_epoch_and_drop_is_permanent_by_default():
    hr = HistoryResampling(IDS, HistoryResamplingConfig())
    _epoch(hr)
    hr.end_epoch()
    report = hr.end_epoch()  # an epoch with no records changes nothing
    assert report.seen == 0 and report.dropped == 0 and hr.pool_rows.tolist() == [1, 2, 3]


def test_readmission_after_k_epochs():
    hr = HistoryResampling(IDS, HistoryResamplingConfig(readmit_after_epochs=2))
    _epoch(hr)
    hr.end_epoch()  # epoch 0: easy dropped
    assert hr.end_epoch().readmitted == 0  # epoch 1
    report = hr.end_epoch()  # epoch 2: two epochs after the drop
    assert report.readmitted == 1 and hr.pool_rows.tolist() == [0, 1, 2, 3]


def test_min_pool_size_readmits_oldest_dropped():
    cfg = HistoryResamplingConfig(min_pool_size=3)
    hr = HistoryResampling(["a", "b", "c"], cfg)
    hr.record(["a", "a"], [1, 1])
    hr.end_epoch()  # pool b, c: below 3, so a (the only dropped) comes back
    assert hr.pool_rows.tolist() == [0, 1, 2]
    hr2 = HistoryResampling(["a", "b", "c", "d"], HistoryResamplingConfig(min_pool_size=2))
    hr2.record(["a"], [1])
    hr2.end_epoch()  # a dropped at epoch 0
    hr2.record(["b", "c", "d"], [1, 1, 1])
    report = hr2.end_epoch()  # b, c, d dropped at epoch 1 -> pool empty -> oldest (a) then lowest row (b)
    assert hr2.pool_rows.tolist() == [0, 1] and report.readmitted == 2


def test_keep_easy_refill_spares_drops():
    hr = HistoryResampling(["a", "b", "c"], HistoryResamplingConfig(min_pool_size=2, refill="keep_easy"))
    hr.record(["a", "b", "c"], [1, 1, 1])
    report = hr.end_epoch()
    assert report.pool_size == 2 and report.dropped == 1


def test_unknown_prompt_id_is_named():
    hr = HistoryResampling(IDS, HistoryResamplingConfig())
    with pytest.raises(KeyError, match="nope"):
        hr.record(["nope"], [1.0])


def test_duplicate_ids_rejected():
    with pytest.raises(ValueError, match="'x'"):
        HistoryResampling(["x", "y", "x"], HistoryResamplingConfig())


def test_state_round_trips_exactly():
    rng = np.random.default_rng(0)
    ids = [f"p{i}" for i in range(50)]
    hr = HistoryResampling(
        ids, HistoryResamplingConfig(readmit_after_epochs=3), domains=["math"] * 30 + ["code"] * 20
    )
    for _ in range(3):
        pick = rng.choice(50, size=80)
        hr.record([ids[i] for i in pick], rng.integers(0, 2, size=80))
        hr.end_epoch()
    hr.record(["p1", "p2"], [1, 0])  # a half-recorded epoch
    state = copy.deepcopy(hr.state_dict())
    clone = HistoryResampling(
        ids, HistoryResamplingConfig(readmit_after_epochs=3), domains=["math"] * 30 + ["code"] * 20
    )
    clone.load_state_dict(state)
    assert clone.state_dict() == hr.state_dict()
    for h in (hr, clone):
        h.record(["p3"] * 3, [1, 1, 0])
        h.end_epoch()
    assert clone.state_dict() == hr.state_dict()
    assert clone.metrics() == hr.metrics()


def test_state_for_another_dataset_is_refused():
    hr = HistoryResampling(["a", "b"], HistoryResamplingConfig())
    other = HistoryResampling(["a", "c"], HistoryResamplingConfig())
    with pytest.raises(ValueError, match="different training set"):
        other.load_state_dict(hr.state_dict())


def test_informative_fraction_per_domain():
    hr = HistoryResampling(["m1", "m2", "c1"], HistoryResamplingConfig(), domains=["math", "math", "code"])
    hr.record(["m1", "m1", "m2", "m2", "c1", "c1"], [1, 0, 1, 1, 0, 0])
    hr.end_epoch()
    assert hr.informative_frac == {"math": 0.5, "code": 0.0}


def test_zero_variance_group_fraction():
    assert zero_variance_group_fraction(["a", "a", "b", "b", "c"], [1, 1, 0, 1, 0.3]) == pytest.approx(2 / 3)
    assert zero_variance_group_fraction([], []) == 0.0


def test_readmitted_prompt_gets_a_fresh_all_wrong_streak():
    cfg = HistoryResamplingConfig(max_all_wrong_epochs=2, readmit_after_epochs=1)
    hr = HistoryResampling(["a", "b"], cfg)
    for _ in range(2):
        hr.record(["a"], [0])
        report = hr.end_epoch()
    assert report.dropped == 1 and report.readmitted == 0
    assert hr.end_epoch().readmitted == 1 and hr.all_wrong_epochs[0] == 0


def test_min_pool_size_counts_only_the_stage_rows():
    cfg = HistoryResamplingConfig(min_pool_size=2)
    math = np.array([True, True, True, False, False])
    ids = ["m1", "m2", "m3", "c1", "c2"]
    for eligible, pool in ((math, [0, 1, 3, 4]), (None, [3, 4])):
        hr = HistoryResampling(ids, cfg, domains=["math"] * 3 + ["code"] * 2)
        hr.record(["m1", "m2", "m3"], [1, 1, 1])
        hr.end_epoch(eligible)
        # With the stage mask, two math prompts come back; counting the waiting code prompts, none.
        assert hr.pool_rows.tolist() == pool


def test_keep_easy_spares_only_stage_rows():
    cfg = HistoryResamplingConfig(min_pool_size=1, refill="keep_easy")
    hr = HistoryResampling(["m1", "m2", "c1"], cfg, domains=["math", "math", "code"])
    hr.record(["m1", "m2"], [1, 1])
    report = hr.end_epoch(np.array([True, True, False]))
    assert report.dropped == 1 and hr.pool_rows.tolist() == [0, 2]


def test_readmit_oldest_within_a_mask():
    hr = HistoryResampling(["a", "b", "c"], HistoryResamplingConfig())
    hr.record(["b"], [1])
    hr.end_epoch()
    hr.record(["a", "c"], [1, 1])
    hr.end_epoch()
    assert hr.pool_rows.tolist() == [1]  # min_pool_size=1 brought back "b", the oldest dropped
    assert hr.readmit_oldest(1, within=np.array([True, False, True])) == 1  # "a" (row order tie-break)
    assert hr.pool_rows.tolist() == [0, 1]
    assert hr.readmit_oldest(5) == 1 and hr.pool_rows.tolist() == [0, 1, 2]


def test_state_without_all_wrong_streaks_still_loads():
    hr = HistoryResampling(["a", "b"], HistoryResamplingConfig(max_all_wrong_epochs=2))
    hr.record(["a"], [0])
    hr.end_epoch()
    state = hr.state_dict()
    assert state["all_wrong_epochs"] == [1, 0]
    del state["all_wrong_epochs"]  # a checkpoint from before the option
    clone = HistoryResampling(["a", "b"], HistoryResamplingConfig(max_all_wrong_epochs=2))
    clone.load_state_dict(state)
    assert clone.all_wrong_epochs.tolist() == [0, 0]


@pytest.mark.parametrize(("option", "same"), [("max_all_wrong_epochs", 0), ("too_easy_epochs", 1)])
def test_streak_options_drop_prompts_only_after_consecutive_epochs(option: str, same: int) -> None:
    """All wrong (score 0) or all correct (score 1) in 2 epochs in a row drops a prompt; a mixed epoch
    restarts the streak and an epoch without the prompt leaves it as it is."""
    hr = HistoryResampling(["a", "b", "idle"], HistoryResamplingConfig(**{option: 2}))
    hr.record(["a", "b", "idle"], [same, same, same])
    assert hr.end_epoch().dropped == 0  # one such epoch each: kept
    hr.record(["a", "b", "b"], [same, same, 1 - same])  # "b" is mixed: its streak restarts
    assert hr.end_epoch().dropped == 1 and hr.pool_rows.tolist() == [1, 2]  # "a": 2nd epoch in a row
    hr.end_epoch()  # "idle" not drawn this epoch: its streak neither grows nor restarts
    hr.record(["b", "idle"], [same, same])
    report = hr.end_epoch()
    assert report.dropped == 1 and hr.pool_rows.tolist() == [1]  # "idle": 2nd epoch in a row


def test_too_easy_default_is_the_papers_drop_at_once() -> None:
    paper = HistoryResampling(["a"], HistoryResamplingConfig())
    paper.record(["a"], [1])
    assert paper.end_epoch().dropped == 1


def test_too_easy_streaks_survive_a_checkpoint_and_old_states_load():
    hr = HistoryResampling(["a", "b"], HistoryResamplingConfig(too_easy_epochs=3))
    hr.record(["a"], [1])
    hr.end_epoch()
    state = hr.state_dict()
    assert state["too_easy_epochs"] == [1, 0]
    clone = HistoryResampling(["a", "b"], HistoryResamplingConfig(too_easy_epochs=3))
    clone.load_state_dict(state)
    assert clone.too_easy_epochs.tolist() == [1, 0]
    del state["too_easy_epochs"]  # a checkpoint from before the option
    clone.load_state_dict(state)
    assert clone.too_easy_epochs.tolist() == [0, 0]
