"""TransferQueue's storage in the process that starts TransferQueue, not in a Ray actor of its own.

verl's v1 trainer keeps every rollout in TransferQueue: a controller actor (metadata) and
``num_data_storage_units`` ``SimpleStorageUnit`` actors (the data), each a Python process that imports
torch, Ray and tensordict: ~0.33 GB per storage unit on the embedded default
(benchmarks/results/runtime.md). A storage unit serves its data from two daemon threads behind a ZMQ
socket; Ray only starts it (TransferQueue's own docstring says so). The backend registered here,
``transfer_queue.backend.storage_backend=InProcessSimpleStorage``, is the same storage unit and the
same client-side manager (``AsyncSimpleStorageManager``) as TransferQueue's ``SimpleStorage``, with its
one unit built in the process that calls ``tq.init`` (verl's task runner: the driver under
``python -m srpo.main``) instead of in a new actor. Clients reach it over ZMQ exactly as before.

It is registered through TransferQueue's two registries (``StorageBootstrapProvider``,
``StorageManagerFactory``), in every process that imports TransferQueue (srpo's verl plug-in); the
backend's config section is ``transfer_queue.backend.InProcessSimpleStorage`` and takes
``SimpleStorage``'s keys, with exactly one storage unit.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from transfer_queue.storage.bootstrap import StorageBootstrapProvider
from transfer_queue.storage.managers.base import StorageManagerFactory
from transfer_queue.storage.managers.simple_storage_manager import AsyncSimpleStorageManager
from transfer_queue.storage.simple_storage import SimpleStorageUnit

BACKEND = "InProcessSimpleStorage"
UNIT_NAME = "TransferQueueStorageUnit#0"


def start_in_process_storage(conf: Any) -> dict[str, Any]:
    """TransferQueue's bootstrap hook: one storage unit here; its ZMQ address goes into ``conf``."""
    section = conf.backend[BACKEND]
    unit_config = dict(section)
    units = int(unit_config.get("num_data_storage_units", 1))
    if units != 1:
        raise ValueError(
            f"transfer_queue.backend.{BACKEND}.num_data_storage_units={units}: the in-process backend "
            "holds exactly one storage unit (use storage_backend=SimpleStorage for several)"
        )
    unit_config["_run_id"] = uuid4().hex
    storage_unit_class = SimpleStorageUnit.__ray_metadata__.modified_class  # the class behind @ray.remote
    unit = storage_unit_class(config=unit_config)
    section.zmq_info = {UNIT_NAME: unit.get_zmq_server_info()}
    # TransferQueue keeps what this returns for the life of the process; the unit's threads stop
    # when it is collected (its own finalizer), i.e. at exit. (``tq.close()`` shuts down only the
    # backends it knows and logs "close for _TQ_STORAGE with key InProcessSimpleStorage is not
    # supported for now": harmless here, in console.log only.)
    return {UNIT_NAME: unit}


def register() -> None:
    """Make ``InProcessSimpleStorage`` a TransferQueue backend in this process (idempotent)."""
    StorageManagerFactory.register(BACKEND)(AsyncSimpleStorageManager)
    StorageBootstrapProvider.register_provider(BACKEND)(start_in_process_storage)


register()
