"""verl's agent loop worker in the trainer's process, not in a Ray actor of its own.

verl's TransferQueue agent loop manager starts ``rollout.agent.num_workers`` ``AgentLoopWorkerTQ`` Ray
actors; each sends the prompts of its share to the vLLM servers, post-processes the responses, has
them scored and writes them to TransferQueue, all as asyncio tasks. On the embedded default that is
one worker, a Python process of its own (~0.6 GB: torch, Ray, verl, the tokenizer) doing work that
is almost all waiting. ``InProcessAgentLoopManager``, selected with
``actor_rollout_ref.rollout.agent.agent_loop_manager_class`` (verl's own key for a custom manager), is
verl's manager with its workers built by ``InDriver(AgentLoopWorkerTQ, event_loop=True)``: the same
worker class, each on an event loop of its own in a thread of the process that runs the trainer (the
driver under ``python -m srpo.main``). The manager, the worker and what they compute are verl's.
"""

from __future__ import annotations

from typing import Any

from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopManagerTQ, AgentLoopWorkerTQ

from srpo.verl_glue.in_driver import InDriver

MANAGER_KEY = "actor_rollout_ref.rollout.agent.agent_loop_manager_class"


class InProcessAgentLoopManager(AgentLoopManagerTQ):
    """verl's TransferQueue agent loop manager whose workers run in this process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agent_loop_workers_class = InDriver(AgentLoopWorkerTQ, event_loop=True)
