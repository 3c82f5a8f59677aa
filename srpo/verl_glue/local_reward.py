"""Rule-based rewards scored in the agent loop worker, with no reward worker process (``reward.num_workers=0``).

verl's reward loop starts ``reward.num_workers`` Ray actors (``RewardLoopWorker``) and hands their
handles to each agent loop worker, which scores every finished rollout with
``await random.choice(handles).compute_score.remote(data)``. A reward worker is a Python process of
its own that imports torch, Ray and verl: ~0.38 GB on the embedded default (benchmarks/results/runtime.md)
to run a reward function that is cheap (SymPy, or a Docker call that waits). With
``reward.num_workers=0`` verl starts none, and ``SRPOTrainer.get_reward_handles`` gives the agent loop
one ``InProcessRewardWorker`` instead: it answers the same ``compute_score.remote(data)`` call with a
coroutine that runs verl's own ``RewardLoopWorker.compute_score`` in the agent loop worker's process
and event loop (verl's reward managers run the reward function in an executor or as a coroutine, so
the loop keeps serving generations meanwhile). What is scored, and how, is unchanged.

A reward model needs verl's reward workers (they reach its router): ``preflight`` rejects
``reward.num_workers=0`` together with ``reward.reward_model.enable``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

NUM_WORKERS_KEY = "reward.num_workers"


def scores_in_agent_loop(config: Any) -> bool:
    """Whether the run scores rewards in the agent loop worker (``reward.num_workers`` is 0)."""
    return int(config.reward.num_workers) == 0


class _RemoteMethod:
    """``handle.method.remote(...)`` that returns the method's coroutine, for the caller to await."""

    def __init__(self, method: Callable[..., Coroutine[Any, Any, Any]]) -> None:
        self.remote = method


class InProcessRewardWorker:
    """Stands where verl's agent loop expects a reward worker's actor handle; scores in the caller's process.

    It travels to the agent loop worker pickled with the job's config only; verl's ``RewardLoopWorker``
    (tokenizer, reward manager, reward function) is built there, at the first rollout it scores.
    """

    def __init__(self, config: Any) -> None:
        self._config = config
        self._worker: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"_config": self._config, "_worker": None}

    @property
    def compute_score(self) -> _RemoteMethod:
        return _RemoteMethod(self._compute_score)

    async def _compute_score(self, data: Any) -> dict:
        if self._worker is None:
            from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

            self._worker = RewardLoopWorker(self._config, reward_router_address=None)
        return await self._worker.compute_score(data)
