"""Does vLLM's CPU engine grow step after step, and does capping oneDNN's primitive cache stop it?

    python -m benchmarks.bench_engine_growth --steps 12 --pairs 2 --out benchmarks/results/engine_growth.md

Each side is a fresh process (``--child``) holding vLLM's engine and model, as the default run's
engine core does (``VLLM_ENABLE_V1_MULTIPROCESSING=0`` here, ``UniProcExecutor`` there), on the
embedded base model. A step does what the engine does in a training step: a weight sync of slightly
changed weights as a layerwise reload (``srpo.cpu.vllm_rollout``: every linear layer repacked into a
new oneDNN handle), then 16 prompts x 8 sampled responses (batch shapes change as responses end).
After every step the process reports its own RSS and PSS. The two sides differ only in
``ONEDNN_PRIMITIVE_CACHE_CAPACITY``: unset (oneDNN's default, 1024 primitives) or
``srpo.cpu.overrides``'s value; they alternate pair by pair, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from benchmarks.harness import REPO, add_out_argument, command_line, emit, load, machine, table

VAR = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"
MB = 1e6
PROMPTS_PER_STEP = 16
ROLLOUTS = 8


def child(steps: int) -> None:
    """One engine: ``steps`` weight syncs and rollouts, one JSON line of memory figures after each."""
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
    import gc

    import torch
    from safetensors.torch import load_file
    from vllm import LLM, SamplingParams
    from vllm.model_executor.model_loader.reload import (
        finalize_layerwise_reload,
        initialize_layerwise_reload,
    )

    from srpo.cpu.memory import read_rollup
    from srpo.embedded.build import BuildSettings, cached_build
    from srpo.embedded.dataset import generate

    model_dir = cached_build(BuildSettings(), progress=False)
    weights = load_file(str(model_dir / "model.safetensors"))
    llm = LLM(
        model=str(model_dir),
        dtype="float32",
        enforce_eager=True,
        max_model_len=160,
        max_num_seqs=64,
        kv_cache_memory_bytes=64 * 2**20,
        seed=0,
    )
    model_config = llm.llm_engine.vllm_config.model_config
    tokenizer = llm.get_tokenizer()
    questions = [p.question for p in generate("arith", "train", PROMPTS_PER_STEP * steps, (1, 2, 3), seed=0)]
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True
        )
        for q in questions
    ]
    sampling = SamplingParams(n=ROLLOUTS, temperature=1.0, max_tokens=64, seed=0)

    def sync(model: torch.nn.Module, step: int) -> None:
        generator = torch.Generator().manual_seed(step)
        items = [(k, v + 1e-3 * torch.randn(v.shape, generator=generator)) for k, v in weights.items()]
        initialize_layerwise_reload(model)
        model.load_weights(items[: len(items) // 2])  # two buckets, like verl's bucketed sync
        model.load_weights(items[len(items) // 2 :])
        finalize_layerwise_reload(model, model_config)

    for step in range(steps):
        llm.apply_model(lambda model, step=step: sync(model, step))
        batch = prompts[step * PROMPTS_PER_STEP : (step + 1) * PROMPTS_PER_STEP]
        tokens = sum(
            len(c.token_ids) for out in llm.generate(batch, sampling, use_tqdm=False) for c in out.outputs
        )
        gc.collect()
        pss, rss = read_rollup(os.getpid()) or (0, 0)
        print(json.dumps({"step": step, "pss": pss, "rss": rss, "tokens": tokens}), flush=True)


def run_side(steps: int, capacity: str | None) -> list[dict]:
    """One child process; ``capacity`` None leaves the variable unset."""
    from srpo.cpu.overrides import cpu_env

    # the environment the default run's engine gets (malloc arenas, thread binding), but this variable
    env = {k: v for k, v in cpu_env({k: v for k, v in os.environ.items() if k != VAR}).items() if k != VAR}
    if capacity is not None:
        env[VAR] = capacity
    env["PYTHONPATH"] = str(REPO)
    cmd = [sys.executable, "-m", "benchmarks.bench_engine_growth", "--child", "--steps", str(steps)]
    out = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or len(rows) != steps:
        raise RuntimeError(f"child ({VAR}={capacity}) failed, rc {out.returncode}:\n{out.stderr[-3000:]}")
    return rows


def growth_mb(rows: list[dict], key: str, skip: int) -> float:
    """MB per step from step ``skip`` to the last (the first steps fill caches that then stay)."""
    return (rows[-1][key] - rows[skip][key]) / (len(rows) - 1 - skip) / MB


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--pairs", type=int, default=2)
    p.add_argument("--skip", type=int, default=2, help="steps left out of the per-step growth")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    add_out_argument(p)
    args = p.parse_args(argv)
    if args.child:
        child(args.steps)
        return 0
    from srpo.cpu.overrides import cpu_env

    capped = cpu_env({})[VAR]
    sides = {"unset (1024)": None, f"{VAR}={capped}": capped}
    got: dict[str, list[list[dict]]] = {name: [] for name in sides}
    loads = [load()]
    for pair in range(args.pairs):
        order = list(sides) if pair % 2 == 0 else list(reversed(sides))
        for name in order:
            got[name].append(run_side(args.steps, sides[name]))
            loads.append(load())
    rows = []
    for name, runs in got.items():
        for key in ("pss", "rss"):
            per_step = [growth_mb(r, key, args.skip) for r in runs]
            first = statistics.median(r[args.skip][key] / MB for r in runs)
            last = statistics.median(r[-1][key] / MB for r in runs)
            rows.append(
                (name, key.upper(), f"{first:.0f}", f"{last:.0f}", " / ".join(f"{g:.1f}" for g in per_step))
            )
    header = (
        "side",
        "figure",
        f"after step {args.skip + 1} (MB)",
        f"after step {args.steps} (MB)",
        "MB per step",
    )
    lines = [
        f"# vLLM CPU engine growth per step, {VAR} unset vs capped",
        "",
        f"`{command_line('benchmarks.bench_engine_growth')}`",
        "",
        machine(f"load {min(loads):.1f}-{max(loads):.1f}"),
        "",
        f"Per step: a layerwise weight sync, then {PROMPTS_PER_STEP} prompts x {ROLLOUTS} sampled responses. "
        f"Medians over {args.pairs} runs a side; MB per step from step {args.skip + 1} to {args.steps}, one "
        "figure per run.",
        "",
        *table(header, rows, align="llrrr"),
    ]
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
