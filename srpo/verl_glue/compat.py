"""Every verl name the SRPO trainer relies on beyond verl's public config, in one place.

``srpo.verl_glue.trainer`` subclasses verl's synchronous v1 trainer and overrides private methods, reads the
training dataset's dataframe, tunes the replay buffer and reads rollout fields from TransferQueue.
None of that is a stable verl API. This module names each such use, reaches it for the trainer, and
checks it against the installed verl when the trainer registers: on the pinned version silently, on
another version by comparing the names and signatures, failing with a list of what moved instead of
an ``AttributeError`` deep inside a Ray actor. ``tests/srpo/test_verl_compat.py`` runs the same
check against the installed verl (the drift test).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import transfer_queue as tq
from transfer_queue import interface as tq_interface
from transfer_queue.controller import TransferQueueController
from verl.experimental.agent_loop import agent_loop as verl_agent_loop
from verl.experimental.agent_loop.agent_loop import AgentLoopOutput
from verl.experimental.reward_loop import reward_loop as verl_reward_loop
from verl.trainer.ppo.v1 import agent_loop_tq as verl_agent_loop_tq
from verl.trainer.ppo.v1 import replay_buffer as verl_replay_buffer
from verl.trainer.ppo.v1 import trainer_base as verl_trainer_base
from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.utils.dataset import rl_dataset as verl_rl_dataset
from verl.utils.dataset.rl_dataset import collate_fn

logger = logging.getLogger(__name__)

#: The verl release this module was written and tested against.
PINNED_VERL = "0.9.1"

#: Trainer methods SRPOTrainer overrides, with the parameter names verl calls them with.
OVERRIDDEN_METHODS: dict[str, tuple[str, ...]] = {
    "_init_dataloader": ("self",),
    "_compute_advantage": ("self", "batch", "metrics"),
    "_build_replay_buffer": ("self",),
    "on_step_begin": ("self",),
    "get_reward_handles": ("self",),
}

#: TransferQueue fields the trainer reads per rollout: the dataset row's ``uid`` and ``extra_info``
#: (verl stores the row's columns), the reward (``rm_scores``), the reward function's extra outputs
#: (``extra_fields["reward_extra_info"]``) and the agent loop's timings (``metrics``).
ROLLOUT_FIELDS = ("uid", "rm_scores", "extra_fields", "extra_info", "metrics")

#: Source lines of verl that the uses above depend on: (module, line stripped of indentation, why).
VERL_LINES: tuple[tuple[Any, str, str], ...] = (
    (verl_trainer_base, "self.trainer_mode = self.config.trainer.v1.trainer_mode", "trainer_mode property"),
    (
        verl_trainer_base,
        "self.train_dataloader_it = None",
        "the prompt loader is replaced after _init_dataloader",
    ),
    (verl_trainer_base, 'write_back = {"rm_scores": rm_scores}', "rm_scores field"),
    (verl_replay_buffer, "self.poll_interval = poll_interval", "replay buffer poll interval"),
    (
        verl_rl_dataset,
        "self.dataframe: datasets.Dataset = datasets.concatenate_datasets(dataframes)",
        "dataframe",
    ),
    (
        verl_agent_loop,
        "result = await selected_reward_loop_worker_handle.compute_score.remote(data)",
        "the agent loop awaits compute_score.remote (srpo.verl_glue.local_reward)",
    ),
    (
        verl_reward_loop,
        "def __init__(self, config: DictConfig, reward_router_address: str = None):",
        "RewardLoopWorker built in the agent loop worker (srpo.verl_glue.local_reward)",
    ),
    (
        verl_reward_loop,
        "async def compute_score(self, data: DataProto) -> dict:",
        "RewardLoopWorker.compute_score awaited in the agent loop worker",
    ),
    (
        verl_agent_loop_tq,
        "self.agent_loop_workers_class = AgentLoopWorkerTQ",
        "the worker class InProcessAgentLoopManager replaces after verl's __init__ (srpo.verl_glue.agent_loop)",
    ),
    (
        verl_agent_loop,
        "self.agent_loop_workers_class.options(",
        "agent loop workers are built through agent_loop_workers_class (srpo.verl_glue.agent_loop)",
    ),
)


#: What ``tq.init`` does that ``srpo.verl_glue.tq_controller`` repeats (the controller in the driver):
#: (line of transfer_queue/interface.py stripped of indentation, why).
TQ_INIT_LINES: tuple[tuple[str, str], ...] = (
    (
        '_TQ_CONTROLLER = ray.get_actor("TransferQueueController", namespace="transfer_queue")',
        "other processes find the controller by this name (tq_config_actor stands in for it)",
    ),
    ("conf = ray.get(_TQ_CONTROLLER.get_config.remote())", "attaching processes read the config from it"),
    (
        'default_conf = OmegaConf.load(resources.files("transfer_queue") / "config.yaml")',
        "the default config tq_controller merges",
    ),
    ("sampler = globals()[final_conf.controller.sampler]", "a sampler name is one of transfer_queue.sampler"),
    (
        ").remote(sampler=sampler, polling_mode=final_conf.controller.polling_mode)",
        "the controller's constructor arguments",
    ),
    ("final_conf.controller.zmq_info = controller_zmq_info", "where the controller's address goes"),
    ("provider_fn = StorageBootstrapProvider.get_provider(backend_name)", "how the storage is started"),
    ("ray.get(_TQ_CONTROLLER.store_config.remote(final_conf))", "the config is stored in the named actor"),
)

#: The controller actor's Ray methods TransferQueue's interface calls; tq_config_actor serves the first
#: two, the metrics ones are refused (metrics.enabled) with the controller in the driver.
TQ_CONTROLLER_RAY_METHODS = frozenset(
    {"get_config", "store_config", "start_metrics", "register_storage_units_for_metrics"}
)


def tq_drift() -> list[str]:
    """What moved in the installed TransferQueue among the internals tq_controller repeats."""
    source = inspect.getsource(tq_interface)
    lines = {raw.strip() for raw in source.splitlines()}
    problems = [
        f"transfer_queue.interface no longer contains {line!r} ({why})"
        for line, why in TQ_INIT_LINES
        if line not in lines
    ]
    called = set(re.findall(r"_TQ_CONTROLLER\.(\w+)\.remote", source))
    problems += [
        f"transfer_queue.interface calls the controller's Ray method {m}"
        for m in sorted(called - TQ_CONTROLLER_RAY_METHODS)
    ]
    controller = TransferQueueController.__ray_metadata__.modified_class
    for name, params in (
        ("__init__", ("self", "sampler", "polling_mode")),
        ("get_zmq_server_info", ("self",)),
    ):
        found = tuple(
            p for p in inspect.signature(getattr(controller, name)).parameters if p != "_ray_trace_ctx"
        )
        if found != params:  # Ray adds _ray_trace_ctx to an actor class's methods
            problems.append(f"TransferQueueController.{name}{found} was {name}{params}")
    return problems


def signature_drift(cls: type, expected: Mapping[str, tuple[str, ...]]) -> list[str]:
    """What differs between ``cls``'s methods and the ``expected`` parameter names."""
    problems = []
    for name, params in expected.items():
        method = getattr(cls, name, None)
        if not callable(method):
            problems.append(f"{cls.__name__}.{name} is gone")
            continue
        found = tuple(inspect.signature(method).parameters)
        if found != params:
            problems.append(f"{cls.__name__}.{name}{found} was {name}{params}")
    return problems


def api_drift() -> list[str]:
    """Every use named in this module that the installed verl no longer supports (empty = all fine)."""
    problems = signature_drift(PPOTrainerSync, OVERRIDDEN_METHODS)
    for module, line, why in VERL_LINES:
        lines = {raw.strip() for raw in inspect.getsource(module).splitlines()}
        if line not in lines:
            problems.append(f"{module.__name__} no longer contains {line!r} ({why})")
    agent_fields = set(AgentLoopOutput.model_fields)
    problems += [
        f"AgentLoopOutput has no field {f!r} (rollout field)"
        for f in ("metrics", "extra_fields")
        if f not in agent_fields
    ]
    return problems


def check_installed_verl(version: str | None = None) -> None:
    """Refuse to register on a verl whose private API moved; warn when only the version differs."""
    version = version or importlib.metadata.version("verl")
    if version == PINNED_VERL:
        return
    problems = api_drift()
    if problems:
        raise RuntimeError(
            f"srpo's trainer was written for verl {PINNED_VERL}, but verl {version} is installed and changed "
            "what the trainer relies on (srpo/verl_glue/compat.py):\n  - "
            + "\n  - ".join(problems)
            + f"\nInstall verl=={PINNED_VERL} or update srpo."
        )
    logger.warning(
        "srpo: verl %s is installed, srpo was tested with %s; its private API checks passed",
        version,
        PINNED_VERL,
    )


def dataset_extra_infos(dataset: Any) -> list[Any]:
    """The ``extra_info`` column of verl's RLHFDataset (the rows it kept after filtering)."""
    return list(dataset.dataframe["extra_info"])


def set_replay_poll_interval(buffer: Any, seconds: float) -> None:
    """How often verl's replay buffer looks for a finished batch (verl's default: 2 s)."""
    if not hasattr(buffer, "poll_interval"):
        raise RuntimeError(f"{type(buffer).__name__} has no poll_interval; see srpo/verl_glue/compat.py")
    buffer.poll_interval = seconds


def rollout_fields(batch: Any) -> dict[str, list]:
    """:data:`ROLLOUT_FIELDS` of every rollout in ``batch`` (a KVBatchMeta), as plain lists."""
    data = tq.kv_batch_get(
        keys=batch.keys, partition_id=batch.partition_id, select_fields=list(ROLLOUT_FIELDS)
    )
    return {field: [_unwrap(v) for v in _plain_list(data[field])] for field in ROLLOUT_FIELDS}


def _plain_list(value: Any) -> list:
    """TransferQueue returns fields as lists, NonTensorStacks, arrays or nested tensors."""
    return value.tolist() if isinstance(value, np.ndarray) else list(value)


def _unwrap(value: Any) -> Any:
    return getattr(value, "data", value)


__all__ = [
    "PPOTrainerSync",
    "collate_fn",
    "register_trainer",
    "check_installed_verl",
    "dataset_extra_infos",
    "rollout_fields",
    "set_replay_poll_interval",
]
