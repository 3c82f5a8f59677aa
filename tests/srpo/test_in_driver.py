"""srpo.verl_glue.in_driver: verl's task runner class used through the actor API, run in this process."""

from __future__ import annotations

import os
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
