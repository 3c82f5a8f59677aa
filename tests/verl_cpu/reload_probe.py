"""Probe run in a child process: does an in-place weight update reach vLLM's CPU engine?

``python reload_probe.py MODEL_DIR MODE [MODE ...]`` loads MODEL_DIR in vLLM (CPU, in-process engine)
once, perturbs the weights in an HF copy, and for each MODE in turn pushes them into vLLM the way
verl's weight sync does (two buckets of ``model.load_weights`` followed by
``process_weights_after_loading``) and prints the largest gap between vLLM's prompt log-probs and the
HF model's. MODE ``layerwise`` wraps the update in vLLM's layerwise reload, as
``srpo.cpu.vllm_rollout`` does; MODE ``plain`` is verl's unwrapped sequence. Prints
``<MODE> MAXDIFF <x>`` or ``<MODE> FAILED <error>`` per mode. One engine serves every mode (one vLLM
start-up, the slow part): each update loads the same weights into whatever the previous one left.
"""

from __future__ import annotations

import os
import sys

os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")


def main(model_dir: str, modes: list[str]) -> None:
    import torch
    from transformers import AutoModelForCausalLM
    from vllm import LLM, SamplingParams

    hf = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    generator = torch.Generator().manual_seed(1)
    state = {k: v + 0.05 * torch.randn(v.shape, generator=generator) for k, v in hf.state_dict().items()}
    hf.load_state_dict(state)
    llm = LLM(
        model=model_dir,
        dtype="float32",
        enforce_eager=True,
        max_model_len=128,
        max_num_seqs=4,
        kv_cache_memory_bytes=32 * 2**20,
    )
    model_config = llm.llm_engine.vllm_config.model_config

    def update(model: torch.nn.Module, mode: str) -> str:
        from vllm.model_executor.model_loader.reload import (
            finalize_layerwise_reload,
            initialize_layerwise_reload,
        )
        from vllm.model_executor.model_loader.utils import process_weights_after_loading

        items = list(state.items())
        try:
            if mode == "layerwise":
                initialize_layerwise_reload(model)
            model.load_weights(items[: len(items) // 2])
            model.load_weights(items[len(items) // 2 :])
            process_weights_after_loading(model, model_config, torch.device("cpu"))
            if mode == "layerwise":
                finalize_layerwise_reload(model, model_config)
        except Exception as exc:  # the probe reports the failure instead of dying
            return f"{type(exc).__name__}: {exc}"
        return ""

    ids = [1, 5, 9, 20, 33, 40, 7, 3]
    with torch.no_grad():
        ref = torch.log_softmax(hf(torch.tensor([ids])).logits[0].float(), -1)
    hf_lp = [ref[i, ids[i + 1]].item() for i in range(len(ids) - 1)]
    for mode in modes:
        error = llm.apply_model(lambda model, mode=mode: update(model, mode))[0]
        if error:
            print(f"{mode} FAILED {error}", flush=True)
            continue
        out = llm.generate(
            {"prompt_token_ids": ids}, SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0)
        )
        vllm_lp = [next(iter(d.values())).logprob for d in out[0].prompt_logprobs[1:]]
        print(f"{mode} MAXDIFF {max(abs(a - b) for a, b in zip(vllm_lp, hf_lp, strict=True))}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
