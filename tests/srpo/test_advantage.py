"""The srpo estimator must reproduce verl's own GRPO advantage exactly."""

import numpy as np
import pytest
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, get_adv_estimator_fn

from srpo.algorithm.advantage import compute_srpo_outcome_advantage


def _random_batch(seed: int, n_groups: int, max_group: int, length: int, binary: bool):
    g = torch.Generator().manual_seed(seed)
    sizes = torch.randint(1, max_group + 1, (n_groups,), generator=g).tolist()
    index = np.array([f"uid-{k}" for k, s in enumerate(sizes) for _ in range(s)], dtype=object)
    perm = torch.randperm(len(index), generator=g).numpy()
    index = index[perm]  # groups interleaved, as after verl's batch balancing
    bs = len(index)
    resp_len = torch.randint(1, length + 1, (bs,), generator=g)
    mask = (torch.arange(length)[None, :] < resp_len[:, None]).float()
    scores = (torch.rand(bs, generator=g) > 0.5).float() if binary else torch.randn(bs, generator=g)
    rewards = torch.zeros(bs, length)
    rewards[torch.arange(bs), resp_len - 1] = scores  # outcome reward on the last token
    return rewards, mask, index


@pytest.mark.parametrize("norm_by_std", [True, False])
@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_verl_grpo(seed, binary, norm_by_std):
    rewards, mask, index = _random_batch(seed, n_groups=40, max_group=8, length=17, binary=binary)
    ours, ours_ret = compute_srpo_outcome_advantage(rewards, mask, index, norm_adv_by_std_in_grpo=norm_by_std)
    ref, ref_ret = compute_grpo_outcome_advantage(rewards, mask, index, norm_adv_by_std_in_grpo=norm_by_std)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours_ret, ref_ret, rtol=1e-5, atol=1e-6)


def test_singletons_and_equal_reward_groups():
    # group a: one sample; group b: all equal (zero advantage); group c: mixed
    index = np.array(["a", "b", "b", "b", "c", "c"], dtype=object)
    scores = torch.tensor([0.7, 1.0, 1.0, 1.0, 0.0, 1.0])
    mask = torch.ones(6, 3)
    rewards = torch.zeros(6, 3)
    rewards[:, -1] = scores
    ours, _ = compute_srpo_outcome_advantage(rewards, mask, index)
    ref, _ = compute_grpo_outcome_advantage(rewards, mask, index)
    torch.testing.assert_close(ours, ref)
    assert torch.all(ours[1:4] == 0)  # equal rewards: no signal
    assert ours[0, 0] == pytest.approx(0.7 / (1 + 1e-6))  # singleton: mean 0, std 1 (verl convention)
    assert ours[4, 0] < 0 < ours[5, 0]


def test_registered_and_reads_norm_flag_from_config():
    class Algo:
        norm_adv_by_std_in_grpo = False

    fn = get_adv_estimator_fn("srpo")
    assert fn is compute_srpo_outcome_advantage
    rewards, mask, index = _random_batch(5, n_groups=10, max_group=4, length=5, binary=False)
    via_config, _ = fn(token_level_rewards=rewards, response_mask=mask, index=index, config=Algo())
    ref, _ = compute_grpo_outcome_advantage(rewards, mask, index, norm_adv_by_std_in_grpo=False)
    torch.testing.assert_close(via_config, ref, rtol=1e-5, atol=1e-6)


def test_masked_tokens_are_zero():
    rewards, mask, index = _random_batch(3, n_groups=6, max_group=5, length=9, binary=True)
    adv, _ = compute_srpo_outcome_advantage(rewards, mask, index)
    assert torch.all(adv[mask == 0] == 0)
