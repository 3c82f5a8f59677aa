"""Rewards scored in the agent loop worker (``reward.num_workers=0``), through verl's own agent loop code."""

from __future__ import annotations

import asyncio
import pickle

import pytest
from omegaconf import OmegaConf
from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics, AgentLoopOutput, AgentLoopWorker
from verl.experimental.reward_loop import reward_loop as verl_reward_loop

from srpo.verl_glue.local_reward import InProcessRewardWorker, scores_in_agent_loop
from srpo.verl_glue.trainer import SRPOTrainer


class RecordingRewardWorker:
    """Stands for verl's RewardLoopWorker: records how it was built and what it scored."""

    built: list[tuple] = []

    def __init__(self, config, reward_router_address=None) -> None:
        RecordingRewardWorker.built.append((config, reward_router_address))
        self.seen: list = []

    async def compute_score(self, data) -> dict:
        self.seen.append(data)
        response = data.batch["responses"][0].tolist()
        return {"reward_score": float(sum(response)), "reward_extra_info": {"acc": 1.0, "n": len(response)}}


@pytest.fixture
def recording(monkeypatch):
    RecordingRewardWorker.built = []
    monkeypatch.setattr(verl_reward_loop, "RewardLoopWorker", RecordingRewardWorker)
    return RecordingRewardWorker


def _agent_loop_worker(handles: list) -> AgentLoopWorker:
    """verl's AgentLoopWorker with only what its ``_compute_score`` reads (no tokenizer: text-only model)."""
    worker = object.__new__(AgentLoopWorker)
    worker.reward_loop_worker_handles = handles
    worker.processor = None
    worker.mm_processor_kwargs = None
    return worker


def _output(prompt: list[int], response: list[int]) -> AgentLoopOutput:
    return AgentLoopOutput(
        prompt_ids=prompt,
        response_ids=response,
        response_mask=[1] * len(response),
        num_turns=2,
        metrics=AgentLoopMetrics(),
    )


def test_verl_agent_loop_scores_through_the_in_process_worker(recording):
    config = OmegaConf.create({"reward": {"num_workers": 0}})
    handle = pickle.loads(pickle.dumps(InProcessRewardWorker(config)))  # as Ray ships it to the agent loop
    worker = _agent_loop_worker([handle])

    async def score_two():
        first, second = [_output([1, 2], [3, 4, 5])], [_output([1], [7])]
        await verl_agent_loop_compute_score(worker, first, {"data_source": "srpo/arith"})
        await verl_agent_loop_compute_score(worker, second, {"data_source": "srpo/arith"})
        return first[-1], second[-1]

    first, second = asyncio.run(score_two())
    assert (first.reward_score, second.reward_score) == (12.0, 7.0)
    assert first.extra_fields["reward_extra_info"] == {"acc": 1.0, "n": 3}
    assert first.metrics.compute_score >= 0.0
    assert recording.built == [(config, None)]  # one verl worker, built in this process, no reward router


def verl_agent_loop_compute_score(worker: AgentLoopWorker, outputs: list, kwargs: dict):
    return AgentLoopWorker._compute_score(worker, outputs, kwargs)


def test_the_worker_is_never_pickled(recording):
    handle = InProcessRewardWorker(OmegaConf.create({}))
    asyncio.run(handle._compute_score(_fake_data()))
    copy = pickle.loads(pickle.dumps(handle))
    assert handle._worker is not None and copy._worker is None


def _fake_data():
    import torch
    from tensordict import TensorDict
    from verl.protocol import DataProto

    return DataProto(batch=TensorDict({"responses": torch.tensor([[2, 3]])}, batch_size=1))


def test_reward_handles_follow_num_workers():
    trainer = object.__new__(SRPOTrainer)

    class Manager:
        reward_loop_worker_handles = ["verl-actor-handle"]

    trainer.reward_loop_manager = Manager()
    trainer.config = OmegaConf.create({"reward": {"num_workers": 0}})
    assert scores_in_agent_loop(trainer.config)
    (handle,) = trainer.get_reward_handles()
    assert isinstance(handle, InProcessRewardWorker)
    trainer.config = OmegaConf.create({"reward": {"num_workers": 2}})
    assert trainer.get_reward_handles() == ["verl-actor-handle"]
