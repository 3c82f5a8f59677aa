"""verl's vLLM rollout with weight sync that works on vLLM's CPU build.

On CPU, vLLM repacks every linear layer's weight into a oneDNN handle after loading and replaces the
parameter with an empty one (``dispatch_cpu_unquantized_gemm(layer, remove_weight=True)``). verl's
weight sync (``vLLMColocateWorkerExtension.update_weights_from_ipc``) calls ``model.load_weights`` on
those layers and fails with "'Parameter' object has no attribute 'weight_loader'". vLLM's own answer
for in-place reloads is layerwise reloading: ``initialize_layerwise_reload`` puts the original
parameters back (on the meta device) and wraps their loaders so that each layer is rebuilt and
repacked once all its weights have arrived; ``finalize_layerwise_reload`` finishes the rest. The
classes below wrap verl's sync in exactly that pair and change nothing else:

- ``CPUColocateWorkerExtension``: verl's worker extension, sync wrapped in a layerwise reload (and
  received tensors copied out of verl's reused shared-memory bucket, since the reload holds them).
- ``CPUvLLMHttpServer``: verl's server, naming that extension for vLLM's workers.
- ``CPUvLLMReplica``: verl's replica, launching that server.
- ``CPUServerAdapter``: verl's rollout adapter (the FSDP worker's sending side of the sync).

The last two also give the sync's socket a path of this Ray cluster's own. verl names it
``/tmp/rl-colocate-zmq-<Ray job id>-replica-<r>-rank-<l>.sock``, but every Ray cluster numbers its
first job 01000000, so two runs on one host (each ``python -m srpo.main`` starts its own cluster)
bound the same path: one run's weights reached the other's engine, or a sync waited forever
(seen: a run hung in ``BucketedWeightSender._init_buffer``, and a concurrent run's rollouts stopped
matching its actor, Pearson 0.41-0.71, at the steps that overlapped). Both sides add the node id of
the Ray cluster (random at each start) after the job id.

Measured: after a sync the CPU engine's prompt log-probs match the HF model with the same weights
to 5e-7 (``tests/verl_cpu/test_vllm_reload.py``).
"""

from __future__ import annotations

import os

import ray
from verl.workers.rollout.vllm_rollout.utils import vLLMColocateWorkerExtension
from verl.workers.rollout.vllm_rollout.vllm_async_server import vLLMHttpServer, vLLMReplica
from verl.workers.rollout.vllm_rollout.vllm_rollout import ServerAdapter
from vllm.model_executor.model_loader.reload import finalize_layerwise_reload, initialize_layerwise_reload

EXTENSION_CLS = f"{__name__}.CPUColocateWorkerExtension"
# the environment variable verl's receiving side reads its socket path's job id from
JOB_ID_ENV = "VERL_RAY_JOB_ID"


def cluster_job_id(job_id: str, node_id: str) -> str:
    """The job id as both sides put it in the socket path: unique to this Ray cluster."""
    return f"{job_id}-{node_id[:12]}"


def cluster_handle(handle: str, job_id: str, node_id: str) -> str:
    """verl's sending path with the job id made this cluster's, as the receiving side builds it."""
    if f"-zmq-{job_id}-" not in handle:  # verl changed its path: fail instead of colliding silently
        raise ValueError(f"verl's weight-sync socket {handle!r} does not name the Ray job {job_id}")
    return handle.replace(f"-zmq-{job_id}-", f"-zmq-{cluster_job_id(job_id, node_id)}-", 1)


class CPUColocateWorkerExtension(vLLMColocateWorkerExtension):
    """verl's colocated worker extension; full-weight syncs run as vLLM layerwise reloads."""

    def update_weights_from_ipc(
        self, peft_config: dict | None = None, base_sync_done: bool = False, use_shm: bool = False
    ):
        if peft_config:  # LoRA adapter syncs do not touch the packed base weights
            return super().update_weights_from_ipc(peft_config, base_sync_done, use_shm)
        models = list(self._iter_all_models_with_config())
        for model, _ in models:
            initialize_layerwise_reload(model)
        try:
            return super().update_weights_from_ipc(peft_config, base_sync_done, use_shm)
        finally:
            for model, model_config in models:
                finalize_layerwise_reload(model, model_config)

    def _update_weights(self, weights: list, peft_config: dict | None, base_sync_done: bool) -> None:
        # Layerwise reloading keeps each tensor until its whole layer has arrived (q/k/v, or a layer
        # finished only at finalize). verl's tensors are views into one shared-memory bucket that is
        # refilled for the next bucket and closed at the end, so keep private copies instead.
        if not peft_config:
            weights = [(name, tensor.clone()) for name, tensor in weights]
        super()._update_weights(weights, peft_config, base_sync_done)


class CPUvLLMHttpServer(vLLMHttpServer):
    """verl's vLLM HTTP server, with the CPU worker extension and a socket path of this cluster's own."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)  # sets the job id; vLLM's engine starts later and inherits it
        context = ray.get_runtime_context()
        os.environ[JOB_ID_ENV] = cluster_job_id(context.get_job_id(), context.get_node_id())

    def _get_worker_extension_cls(self) -> str:
        return EXTENSION_CLS


class CPUvLLMReplica(vLLMReplica):
    """verl's vLLM replica, launching ``CPUvLLMHttpServer``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.server_class = ray.remote(CPUvLLMHttpServer)


class CPUServerAdapter(ServerAdapter):
    """verl's rollout adapter, sending weights to a socket path of this cluster's own."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        context = ray.get_runtime_context()
        self.zmq_handle = cluster_handle(self.zmq_handle, context.get_job_id(), context.get_node_id())
