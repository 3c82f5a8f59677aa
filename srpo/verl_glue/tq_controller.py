"""TransferQueue's controller in the driver process, not in a Ray actor of its own.

``tq.init`` always starts ``TransferQueueController`` as a Ray actor: a process that imports torch, Ray
and TransferQueue (~0.31-0.34 GB on the embedded default, benchmarks/results/runtime.md) to serve
metadata from two daemon threads behind a ZMQ socket. Other processes find it by name and use only
its ``get_config`` Ray method; the rest goes over ZMQ. With ``transfer_queue.controller.in_driver=true``
srpo does ``tq.init``'s first start itself, in the driver, before verl's task runner calls ``tq.init``:
the default config merged with the run's, the controller class built here (its ZMQ threads, as the
in-process storage unit's), the storage backend started through TransferQueue's
``StorageBootstrapProvider``, and the final config stored in a light named actor
(``srpo.verl_glue.tq_config_actor``). Every ``tq.init`` after that, here and in the workers, attaches
to it as to a running controller.

What ``tq.init`` does that this cannot: the Prometheus exporter (a Ray method of the controller
actor); ``metrics.enabled=true`` is refused. The TransferQueue internals this repeats are checked
against the installed TransferQueue (``srpo.verl_glue.compat.tq_drift``).
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

import ray
import transfer_queue.sampler as tq_samplers
from omegaconf import DictConfig, OmegaConf
from ray import cloudpickle
from transfer_queue.controller import TransferQueueController
from transfer_queue.storage.bootstrap import StorageBootstrapProvider

from srpo.verl_glue import compat
from srpo.verl_glue.tq_config_actor import ConfigHolder

logger = logging.getLogger(__name__)

#: Where ``tq.init`` looks for a running controller (transfer_queue/interface.py, checked by compat).
ACTOR_NAME = "TransferQueueController"
ACTOR_NAMESPACE = "transfer_queue"

# The controller, its storage and the config actor, kept for the life of the process (as ``tq.init``
# keeps its own); the controller's and storage unit's threads stop when the process exits.
_RUNNING: dict[str, Any] = {}


def wanted(tq_config: DictConfig) -> bool:
    """Whether the run asks for the controller in the driver (``transfer_queue.controller.in_driver``)."""
    return bool(OmegaConf.select(tq_config, "controller.in_driver", default=False))


def final_config(tq_config: DictConfig) -> DictConfig:
    """TransferQueue's default config with the run's on top, as ``tq.init`` merges them."""
    merged = OmegaConf.create({}, flags={"allow_objects": True})
    merged = OmegaConf.merge(merged, OmegaConf.load(resources.files("transfer_queue") / "config.yaml"))
    merged = OmegaConf.merge(merged, tq_config)
    if merged.get("metrics", {}).get("enabled", False):
        raise ValueError(
            "transfer_queue.metrics.enabled=true needs TransferQueue's controller actor (its Prometheus "
            "exporter is a Ray method): set transfer_queue.controller.in_driver=false"
        )
    return merged


def sampler_of(conf: DictConfig) -> Any:
    """The controller's sampler: an instance, a class, or a name from ``transfer_queue.sampler``."""
    sampler = conf.controller.sampler
    if isinstance(sampler, str):
        if sampler not in tq_samplers.__all__:
            raise ValueError(f"Could not find sampler {sampler} in transfer_queue.sampler")
        return getattr(tq_samplers, sampler)
    return sampler


def start_in_driver(tq_config: DictConfig) -> DictConfig:
    """``tq.init``'s first start with the controller in this process; returns the stored config."""
    if _RUNNING:
        raise RuntimeError("TransferQueue's controller already runs in this process")
    problems = compat.tq_drift()
    if problems:
        raise RuntimeError(
            "transfer_queue.controller.in_driver=true repeats TransferQueue internals that moved in the "
            "installed TransferQueue (srpo/verl_glue/compat.py):\n  - " + "\n  - ".join(problems)
        )
    conf = final_config(tq_config)
    controller_class = TransferQueueController.__ray_metadata__.modified_class  # the class behind @ray.remote
    controller = controller_class(sampler=sampler_of(conf), polling_mode=conf.controller.polling_mode)
    conf.controller.zmq_info = controller.get_zmq_server_info()
    backend = conf.backend.storage_backend
    provider = StorageBootstrapProvider.get_provider(backend)
    if provider is None:
        raise ValueError(f"TransferQueue storage backend {backend} is not registered")
    storage = provider(conf)
    holder = ConfigHolder.options(name=ACTOR_NAME, namespace=ACTOR_NAMESPACE).remote()
    ray.get(holder.store_config.remote(cloudpickle.dumps(conf)))
    _RUNNING.update(controller=controller, storage=storage, holder=holder)
    logger.info("TransferQueue controller %s runs in the driver", controller.controller_id)
    return conf


def start_if_wanted(tq_config: DictConfig) -> None:
    """Start the controller here when the run asks for it (before verl's ``tq.init``)."""
    if wanted(tq_config):
        start_in_driver(OmegaConf.create(OmegaConf.to_container(tq_config, resolve=True)))


def with_controller_in_driver(runner_class: Any) -> Any:
    """verl's ``@ray.remote`` task runner class, starting the controller here before its ``run``."""

    class TaskRunner(runner_class.__ray_metadata__.modified_class):
        def run(self, config: DictConfig) -> Any:
            start_if_wanted(config.transfer_queue)
            return super().run(config)

    return ray.remote(TaskRunner)
