"""The named actor other processes find as TransferQueue's controller: it only holds the config.

``tq.init()`` in a Ray worker looks up the actor ``TransferQueueController`` (namespace
``transfer_queue``) and asks it for the config (``get_config``); everything after that goes over ZMQ
to the addresses in that config. When the controller itself runs in the driver
(``srpo.verl_glue.tq_controller``), this actor stands in for it at that name. It imports nothing but
Ray: the config arrives pickled and leaves pickled, so the actor's process never loads
TransferQueue, torch or OmegaConf (~65 MB instead of the controller actor's ~0.3 GB).
"""

from __future__ import annotations

import pickle

import ray


class _Pickled:
    """A pickled object that Ray hands back as the object itself (unpickled in the caller)."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def __reduce__(self):
        return pickle.loads, (self.blob,)


@ray.remote(num_cpus=0)
class ConfigHolder:
    """``get_config``/``store_config`` of TransferQueue's controller, the config kept as bytes."""

    def __init__(self) -> None:
        self._blob: bytes | None = None

    def store_config(self, blob: bytes) -> None:
        if not isinstance(blob, bytes):
            raise TypeError(
                "ConfigHolder.store_config takes the pickled config (srpo.verl_glue.tq_controller)"
            )
        self._blob = blob

    def get_config(self) -> _Pickled | None:
        """The config as TransferQueue stored it, or None before it is stored (``tq.init`` then waits)."""
        return None if self._blob is None else _Pickled(self._blob)
