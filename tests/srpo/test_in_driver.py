"""srpo.verl_glue.in_driver: verl's task runner class used through the actor API, run in this process."""

from __future__ import annotations

import asyncio
import os
import threading
from types import SimpleNamespace

import pytest
import ray

from srpo.verl_glue import in_driver
from srpo.verl_glue.in_driver import InDriver


@ray.remote
class _Runner:
    """Stands in for verl's TaskRunnerV1: built with no arguments, then ``run(config)``."""

    def __init__(self) -> None:
        self.pid = os.getpid()

    def run(self, config: dict) -> tuple[int, str, str | None]:
        return self.pid, config["name"], os.environ.get("SRPO_TEST_JOB_ENV")


@pytest.fixture
def no_cluster(monkeypatch):
    """ray.put and the job's runtime env without starting Ray (run_ppo has started it in real use)."""
    runtime = SimpleNamespace(runtime_env={"env_vars": {"SRPO_TEST_JOB_ENV": "from-ray"}})
    monkeypatch.setattr(in_driver.ray, "put", lambda value: ("ref", value))
    monkeypatch.setattr(in_driver.ray, "get_runtime_context", lambda: runtime)
    monkeypatch.delenv("SRPO_TEST_JOB_ENV", raising=False)


def test_run_happens_here_with_the_job_environment(no_cluster) -> None:
    runner = InDriver(_Runner).options(num_cpus=1).remote()  # run_ppo's calls, as verl makes them
    ref = runner.run.remote({"name": "srpo"})
    assert ref == ("ref", (os.getpid(), "srpo", "from-ray"))
    assert os.environ["SRPO_TEST_JOB_ENV"] == "from-ray"


def test_errors_surface_in_the_driver(no_cluster) -> None:
    runner = InDriver(_Runner).remote()
    with pytest.raises(TypeError):
        runner.run.remote(None)  # the task runner's own exception, not a RayTaskError


def test_only_ray_actor_classes() -> None:
    with pytest.raises(TypeError, match="@ray.remote class"):
        InDriver(dict)


def test_verls_task_runner_is_a_ray_actor_class() -> None:
    """The class srpo.main hands over: Ray's actor metadata must still name the decorated class."""
    from verl.trainer.main_ppo import TaskRunnerV1

    assert InDriver(TaskRunnerV1).cls.__name__ == "TaskRunnerV1" and hasattr(
        InDriver(TaskRunnerV1).cls, "run"
    )


@ray.remote
class _AsyncWorker:
    """Stands in for verl's agent loop worker: async methods that leave tasks running on its loop."""

    def __init__(self, items: list[int]) -> None:
        self.items = items
        self.items.append(0)  # a copy, as Ray would hand it: the caller's list is untouched
        self.done: list[int] = []
        self.loop_thread = threading.current_thread().name

    async def start(self, n: int) -> str:
        async def finish() -> None:
            await asyncio.sleep(0.05)
            self.done.append(n)

        self.task = asyncio.create_task(finish())  # fire and forget, like generate_sequences
        return threading.current_thread().name

    async def finished(self) -> list[int]:
        await self.task
        return self.done


def test_async_actor_runs_on_its_own_event_loop(no_cluster) -> None:
    items = [1]
    worker = InDriver(_AsyncWorker, event_loop=True).options(name="w").remote(items)
    assert items == [1]
    _, thread = worker.start.remote(7)
    assert thread == worker._instance.loop_thread == "_AsyncWorker-loop" != threading.current_thread().name
    assert worker.finished.remote() == ("ref", [7])  # the task went on after start() returned


def test_verls_agent_loop_manager_builds_its_workers_here() -> None:
    from omegaconf import OmegaConf
    from verl.utils.import_utils import load_class_from_fqn

    from srpo.main import CONFIG_DIR

    fqn = OmegaConf.load(
        f"{CONFIG_DIR}/embedded.yaml"
    ).actor_rollout_ref.rollout.agent.agent_loop_manager_class
    manager_cls = load_class_from_fqn(fqn, "AgentLoopManager")  # how verl's task runner loads it
    config = OmegaConf.create({"actor_rollout_ref": {"rollout": {}, "model": {}}})
    workers = manager_cls(config=config, llm_client=None).agent_loop_workers_class
    assert (
        isinstance(workers, InDriver) and workers.event_loop and workers.cls.__name__ == "AgentLoopWorkerTQ"
    )
