"""The dynamic sampler: determinism, exact resume, History Resampling at epoch ends, stage switch."""

import copy

import numpy as np
import pytest

from srpo.algorithm.config import CurriculumConfig, HistoryResamplingConfig, SRPOConfig
from srpo.algorithm.sampler import SRPOSampler

N_MATH, N_CODE = 12, 8
IDS = [f"m{i}" for i in range(N_MATH)] + [f"c{i}" for i in range(N_CODE)]
DOMAINS = ["math"] * N_MATH + ["code"] * N_CODE


def _cfg(**curriculum) -> SRPOConfig:
    return SRPOConfig(seed=7, curriculum=CurriculumConfig(**curriculum)).validate()


def _simulate(sampler: SRPOSampler, steps: int, batch: int, start: int = 1) -> list[list[int]]:
    """Draw a batch per step and feed back a deterministic outcome per rollout (4 per prompt)."""
    drawn = []
    for step in range(start, start + steps):
        sampler.set_step(step)
        rows = sampler.draw(batch)
        drawn.append(rows)
        ids = [IDS[r] for r in rows for _ in range(4)]
        # even rows are always solved (too easy), rows divisible by 3 never, the rest mixed
        rewards = [
            1.0 if r % 2 == 0 else (0.0 if r % 3 == 0 else float(k % 2)) for r in rows for k in range(4)
        ]
        sampler.record(ids, rewards)
    return drawn


def test_same_seed_same_draws_and_different_seed_differs():
    a = _simulate(SRPOSampler(IDS, DOMAINS, _cfg(switch_step=5)), steps=10, batch=4)
    b = _simulate(SRPOSampler(IDS, DOMAINS, _cfg(switch_step=5)), steps=10, batch=4)
    assert a == b
    other = SRPOConfig(seed=8, curriculum=CurriculumConfig(switch_step=5)).validate()
    assert _simulate(SRPOSampler(IDS, DOMAINS, other), steps=10, batch=4) != a


def test_stage1_draws_only_math_then_stage2_adds_code_at_switch_step():
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(switch_step=4))
    drawn = _simulate(sampler, steps=8, batch=3)
    for rows in drawn[:3]:  # steps 1..3
        assert all(DOMAINS[r] == "math" for r in rows)
    assert sampler.curriculum.stage == 2 and sampler.curriculum.switched_at_step == 4
    later = [r for rows in drawn[3:] for r in rows]
    assert any(DOMAINS[r] == "code" for r in later)


def test_each_epoch_is_a_permutation_of_the_pool_and_too_easy_prompts_leave():
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(switch_at="never"))
    first_epoch = _simulate(sampler, steps=3, batch=4)  # 12 math prompts = one epoch
    assert sorted(r for rows in first_epoch for r in rows) == list(range(N_MATH))
    second = _simulate(sampler, steps=1, batch=1, start=4)  # triggers the epoch end
    report = sampler.reports[0]
    assert report.too_easy == 6 and report.dropped == 6  # the even rows
    assert report.pool_size == len(IDS) - 6
    assert second[0][0] % 2 == 1  # only odd (mixed / all-wrong) math rows remain
    rest = _simulate(sampler, steps=5, batch=1, start=5)
    assert sorted([second[0][0]] + [r for rows in rest for r in rows]) == [1, 3, 5, 7, 9, 11]


def test_resume_from_state_continues_identically():
    cfg = _cfg(switch_step=6, mixture="adaptive")
    full = SRPOSampler(IDS, DOMAINS, cfg)
    expected = _simulate(full, steps=20, batch=3)

    first = SRPOSampler(IDS, DOMAINS, cfg)
    got = _simulate(first, steps=9, batch=3)
    state = copy.deepcopy(first.state_dict())
    resumed = SRPOSampler(IDS, DOMAINS, cfg)  # a fresh process after a crash
    resumed.load_state_dict(state)
    got += _simulate(resumed, steps=11, batch=3, start=10)
    assert got == expected
    assert resumed.state_dict() == full.state_dict()


def test_weighted_mixture_follows_weights():
    cfg = _cfg(switch_step=1, mixture="weights", domain_weights={"math": 0.75, "code": 0.25})
    cfg.history = HistoryResamplingConfig(enable=False)
    sampler = SRPOSampler(IDS, DOMAINS, cfg)
    sampler.set_step(1)
    rows = sampler.draw(len(IDS))  # exactly one epoch
    share_math = np.mean([DOMAINS[r] == "math" for r in rows])
    assert share_math == pytest.approx(0.75)


def test_adaptive_mixture_favours_the_more_informative_domain():
    cfg = _cfg(switch_step=1, mixture="adaptive", adaptive_floor=0.1)
    sampler = SRPOSampler(IDS, DOMAINS, cfg)
    sampler.set_step(1)
    rows = sampler.draw(len(IDS))  # epoch 0: no history yet, shares follow pool sizes
    ids = [IDS[r] for r in rows for _ in range(2)]
    rewards = [
        float(k) if DOMAINS[r] == "code" else 0.0 for r in rows for k in range(2)
    ]  # code mixed, math wrong
    sampler.record(ids, rewards)
    rows = sampler.draw(1)
    assert sampler.history.informative_frac == {"math": 0.0, "code": 1.0}
    shares = sampler.curriculum.mixture_shares({"math": 12, "code": 8}, sampler.history.informative_frac)
    assert shares["code"] == pytest.approx(1 / 1.1) and shares["math"] == pytest.approx(0.1 / 1.1)


def test_epoch_switch_and_plateau_switch():
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(switch_at="epoch", switch_epoch=1))
    _simulate(sampler, steps=5, batch=3)  # 12 math rows = epoch 0 (steps 1-4); step 5 opens epoch 1
    assert sampler.curriculum.stage == 2
    plateau = SRPOSampler(
        IDS, DOMAINS, _cfg(switch_at="plateau", plateau_patience=2, plateau_ema=0.0, switch_step=0)
    )
    for acc in (0.1, 0.3, 0.3, 0.3):
        plateau.curriculum.observe(acc)
    plateau.set_step(5)
    plateau.draw(1)
    assert plateau.curriculum.stage == 2


def test_rows_with_unknown_domain_or_missing_stage1_domain_are_rejected():
    with pytest.raises(ValueError, match="unknown domain"):
        SRPOSampler(["a"], ["poetry"], _cfg())
    with pytest.raises(ValueError, match="no 'math' rows"):
        SRPOSampler(["a"], ["code"], _cfg())


def test_batches_never_straddle_epochs():
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(switch_at="never"))
    first = _simulate(sampler, steps=2, batch=5)  # 10 of the 12 math rows
    assert len(set(first[0] + first[1])) == 10 and not sampler.reports
    _simulate(sampler, steps=1, batch=5, start=3)  # 2 rows left < 5: the epoch ends first
    assert sampler.reports[0].seen == 10  # every outcome of the epoch was recorded before filtering


def test_pool_smaller_than_a_batch_is_repeated():
    sampler = SRPOSampler(IDS, DOMAINS, _cfg(switch_at="never"))
    rows = sampler.draw(30)  # 12 math rows, reshuffled copies fill the batch
    assert len(rows) == 30 and set(rows) == set(range(N_MATH))


def _one_stage_sampler(seed: int, **history: bool) -> SRPOSampler:
    """A math-only sampler over IDS with the given History Resampling options."""
    cfg = SRPOConfig(
        seed=seed, history=HistoryResamplingConfig(**history), curriculum=CurriculumConfig(switch_at="never")
    ).validate()
    return SRPOSampler(IDS, DOMAINS, cfg)


@pytest.mark.parametrize("pad", [False, True])
def test_pad_last_batch_judges_every_prompt_of_the_epoch(pad: bool):
    """12 math rows, batch 5: two full batches leave 2 rows; padding rolls them out this epoch."""
    sampler = _one_stage_sampler(seed=3, pad_last_batch=pad)
    drawn = []
    for step in range(1, 5):
        sampler.set_step(step)
        rows = sampler.draw(5)
        sampler.record([IDS[r] for r in rows for _ in range(2)], [float(k) for _ in rows for k in (0, 1)])
        drawn.append(rows)
        if sampler.reports:
            break
    report = sampler.reports[0]
    if pad:  # three batches, every row once and three drawn twice; the epoch ends on the next draw
        assert len(drawn) == 4 and set(sum(drawn[:3], [])) == set(range(N_MATH))
        assert report.seen == N_MATH
    else:  # two batches: 2 rows never judged in epoch 1
        assert len(drawn) == 3 and len(set(sum(drawn[:2], []))) == 10
        assert report.seen == 10


def _drain(fill_batch: bool) -> list[int]:
    """12 math rows, batch 4: rows 0-9 always solved, 10 and 11 mixed; the batch after epoch 1."""
    sampler = _one_stage_sampler(seed=7, fill_batch=fill_batch)
    for step in range(1, 4):
        sampler.set_step(step)
        rows = sampler.draw(4)
        sampler.record(
            [IDS[r] for r in rows for _ in range(2)], [float(r < 10 or k) for r in rows for k in (0, 1)]
        )
    sampler.set_step(4)
    return sampler.draw(4)


def test_fill_batch_readmits_oldest_dropped_instead_of_repeating_the_pool():
    assert sorted(_drain(fill_batch=False)) == [10, 10, 11, 11]  # two prompts left, each twice
    assert sorted(_drain(fill_batch=True)) == [0, 1, 10, 11]  # the earliest dropped (ties: row) return


def test_stage1_pool_counts_only_stage1_rows_for_min_pool_size():
    cfg = SRPOConfig(
        seed=7,
        history=HistoryResamplingConfig(min_pool_size=6),
        curriculum=CurriculumConfig(switch_step=100),
    ).validate()
    sampler = SRPOSampler(IDS, DOMAINS, cfg)
    for step in range(1, 5):  # 12 math rows, batch 3: one epoch, every prompt solved
        sampler.set_step(step)
        rows = sampler.draw(3)
        sampler.record([IDS[r] for r in rows], [1.0] * len(rows))
    sampler.set_step(5)
    sampler.draw(3)  # closes the epoch: 12 dropped, 6 math re-admitted (the 8 code rows wait for stage 2)
    assert int((sampler.history.active & sampler.in_stage).sum()) == 6
