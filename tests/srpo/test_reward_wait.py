"""The reward tail of a step from verl's per-rollout generate / score times."""

from __future__ import annotations

import pytest

from srpo.verl_glue.reward_wait import reward_tail_metrics


def test_tail_counts_only_scoring_after_the_last_response():
    # the last response is out at 10 s; a code reward started at 4 s ends at 12 s, one at 9 s ends
    # at 10.5 s; the math reward of the last response ends at 10.1 s
    m = reward_tail_metrics([4.0, 9.0, 10.0, 3.0], [8.0, 1.5, 0.1, 0.2], ["code", "code", "math", "math"])
    assert m["srpo/reward_wait/tail_s"] == pytest.approx(2.0)
    assert m["srpo/reward_wait/tail_s/code"] == pytest.approx(2.0)
    assert m["srpo/reward_wait/tail_s/math"] == pytest.approx(0.1)
    assert m["srpo/reward_wait/score_mean_s/code"] == pytest.approx(4.75)


def test_rewards_hidden_under_generation_cost_nothing():
    m = reward_tail_metrics([2.0, 10.0], [5.0, 0.0], ["code", "math"])
    assert m["srpo/reward_wait/tail_s/code"] == 0.0
    assert m["srpo/reward_wait/tail_s"] == 0.0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="one generate, score and domain per rollout"):
        reward_tail_metrics([1.0], [1.0, 2.0], ["math"])
