"""TransferQueue's storage unit in the initializing process (``InProcessSimpleStorage``), with real Ray and ZMQ."""

from __future__ import annotations

import pytest
import ray
import torch
import transfer_queue as tq
from omegaconf import OmegaConf
from tensordict import TensorDict

from srpo.verl_glue import tq_storage


def _conf(units: int = 1):
    return OmegaConf.create(
        {
            "backend": {
                "storage_backend": tq_storage.BACKEND,
                tq_storage.BACKEND: {"total_storage_size": 64, "num_data_storage_units": units},
            }
        },
        flags={"allow_objects": True},
    )


def test_more_than_one_unit_is_refused_by_name():
    with pytest.raises(ValueError, match=r"InProcessSimpleStorage\.num_data_storage_units=2"):
        tq_storage.start_in_process_storage(_conf(units=2))


@ray.remote
def _read_in_a_worker(keys: list[str]) -> list[list[int]]:
    import verl  # noqa: F401  (srpo's verl plug-in registers the backend in this process, as in verl's workers)

    tq.init()  # attaches to the running controller and this run's storage backend
    return _rows(tq.kv_batch_get(keys=keys, partition_id="train", select_fields=["x"]))


def _rows(data: TensorDict) -> list[list[int]]:
    return [row.tolist() for row in data["x"].unbind()]


def test_rollouts_round_trip_through_the_unit_in_this_process():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        tq.init(_conf())
        assert "TransferQueueStorageUnit#0" not in {a["name"] for a in ray.util.list_named_actors(True)}
        tq.kv_batch_put(
            keys=["a", "b"],
            partition_id="train",
            fields=TensorDict({"x": torch.tensor([[1, 2], [3, 4]])}, batch_size=2),
        )
        here = _rows(tq.kv_batch_get(keys=["b", "a"], partition_id="train", select_fields=["x"]))
        assert here == [[3, 4], [1, 2]]
        assert ray.get(_read_in_a_worker.remote(["a"])) == [[1, 2]]
    finally:
        tq.close()
        ray.shutdown()
