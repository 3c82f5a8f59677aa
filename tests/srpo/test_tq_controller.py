"""TransferQueue's controller in the driver behind a config-only named actor, with real Ray and ZMQ."""

from __future__ import annotations

import subprocess
import sys

import pytest
import ray
import torch
import transfer_queue as tq
from omegaconf import OmegaConf
from tensordict import TensorDict
from transfer_queue.sampler import GRPOGroupNSampler, SequentialSampler

from srpo.verl_glue import compat, tq_controller, tq_storage


def _conf(**extra):
    conf = {
        "backend": {
            "storage_backend": tq_storage.BACKEND,
            tq_storage.BACKEND: {"total_storage_size": 64, "num_data_storage_units": 1},
        },
        "controller": {"in_driver": True},
    }
    return OmegaConf.merge(OmegaConf.create(conf), OmegaConf.create(extra))


def test_the_run_config_goes_over_transfer_queues_defaults():
    conf = tq_controller.final_config(_conf())
    assert conf.controller.sampler == "SequentialSampler" and conf.controller.polling_mode is False
    assert conf.backend.storage_backend == tq_storage.BACKEND
    assert conf.backend.SimpleStorage.num_data_storage_units == 2  # TransferQueue's default, untouched
    assert tq_controller.wanted(_conf()) and not tq_controller.wanted(OmegaConf.create({"controller": {}}))


def test_metrics_are_refused_with_the_controller_in_the_driver():
    with pytest.raises(
        ValueError, match=r"metrics\.enabled=true needs .*: set transfer_queue\.controller\.in_driver=false"
    ):
        tq_controller.final_config(_conf(metrics={"enabled": True}))


def test_samplers_are_named_from_transfer_queue_sampler():
    assert tq_controller.sampler_of(tq_controller.final_config(_conf())) is SequentialSampler
    named = tq_controller.final_config(_conf(controller={"sampler": "GRPOGroupNSampler"}))
    assert tq_controller.sampler_of(named) is GRPOGroupNSampler
    with pytest.raises(ValueError, match="Could not find sampler NoSuchSampler"):
        tq_controller.sampler_of(tq_controller.final_config(_conf(controller={"sampler": "NoSuchSampler"})))


def test_the_config_actor_module_loads_neither_transfer_queue_nor_torch():
    code = (
        "import sys, srpo.verl_glue.tq_config_actor; "
        "print(sorted(m for m in ('transfer_queue', 'torch', 'omegaconf', 'verl') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_installed_transfer_queue_has_what_the_controller_start_repeats():
    assert compat.tq_drift() == []


def test_drift_names_a_moved_line_and_a_new_controller_method(monkeypatch):
    source = compat.inspect.getsource(compat.tq_interface)
    moved = source.replace(
        "provider_fn = StorageBootstrapProvider.get_provider(backend_name)", "provider_fn = x"
    )
    moved += "\nray.get(_TQ_CONTROLLER.reset_partitions.remote())\n"
    monkeypatch.setattr(compat.inspect, "getsource", lambda module: moved)
    problems = compat.tq_drift()
    assert any("StorageBootstrapProvider.get_provider" in p for p in problems)
    assert "transfer_queue.interface calls the controller's Ray method reset_partitions" in problems
    monkeypatch.undo()
    monkeypatch.setattr(compat, "tq_drift", lambda: ["something moved"])
    with pytest.raises(RuntimeError, match="something moved"):
        tq_controller.start_in_driver(_conf())


@ray.remote
def _read_in_a_worker(keys: list[str]) -> list[list[int]]:
    import verl  # noqa: F401  (srpo's verl plug-in registers the storage backend, as in verl's workers)

    tq.init()  # attaches through the named config actor, as verl's workers do
    return _rows(tq.kv_batch_get(keys=keys, partition_id="train", select_fields=["x"]))


def _rows(data: TensorDict) -> list[list[int]]:
    return [row.tolist() for row in data["x"].unbind()]


@ray.remote
class _Runner:
    """Stands in for verl's task runner: ``run`` calls ``tq.init`` with the run's section, as verl does."""

    def run(self, config):
        tq.init(config.transfer_queue)
        return "run"


def test_rollouts_round_trip_through_the_controller_in_this_process(monkeypatch):
    monkeypatch.setattr(tq_controller, "_RUNNING", {})
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        runner_class = tq_controller.with_controller_in_driver(_Runner)
        runner = runner_class.__ray_metadata__.modified_class()  # as InDriver builds it
        assert runner.run(OmegaConf.create({"transfer_queue": _conf()})) == "run"
        assert set(tq_controller._RUNNING) == {"controller", "storage", "holder"}
        named = {a["name"] for a in ray.util.list_named_actors(True)}
        assert "TransferQueueController" in named and "TransferQueueStorageUnit#0" not in named
        tq.kv_batch_put(
            keys=["a", "b"],
            partition_id="train",
            fields=TensorDict({"x": torch.tensor([[1, 2], [3, 4]])}, batch_size=2),
        )
        assert _rows(tq.kv_batch_get(keys=["b", "a"], partition_id="train", select_fields=["x"])) == [
            [3, 4],
            [1, 2],
        ]
        assert ray.get(_read_in_a_worker.remote(["a"])) == [[1, 2]]
        controller = tq_controller._RUNNING["controller"]
        assert "train" in controller.partitions  # the metadata lives in this process
        with pytest.raises(RuntimeError, match="already runs in this process"):
            tq_controller.start_in_driver(_conf())
    finally:
        tq.close()
        ray.shutdown()
