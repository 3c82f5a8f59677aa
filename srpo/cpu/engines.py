"""verl's own FSDP engines registered for device ``cpu``.

verl registers ``FSDPEngineWithLMHead`` and ``FSDPEngineWithValueHead`` for devices cuda and npu
only; its ``EngineRegistry`` looks engines up by the platform's device name, so a CPU run needs the
same classes under device ``cpu``. FSDP2 (``fully_shard``) runs on CPU with gloo unchanged.
"""

from __future__ import annotations

import logging

from verl.workers.engine.base import EngineRegistry

logger = logging.getLogger(__name__)

BACKENDS = ["fsdp", "fsdp2"]


def register_cpu_engines() -> list[str]:
    """Register verl's FSDP language- and value-model engines for device ``cpu``.

    Returns the model types registered by this call; a model type verl (or an earlier call)
    already registered for cpu is left as it is.
    """
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead, FSDPEngineWithValueHead

    registered = []
    for model_type, engine_cls in (
        ("language_model", FSDPEngineWithLMHead),
        ("value_model", FSDPEngineWithValueHead),
    ):
        try:
            EngineRegistry.register(model_type=model_type, backend=BACKENDS, device=["cpu"])(engine_cls)
        except AssertionError:  # verl refuses a second registration under the same key
            logger.info("EngineRegistry already has a cpu engine for %s; keeping it", model_type)
            continue
        registered.append(model_type)
    return registered
