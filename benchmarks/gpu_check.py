"""GPU checks of the parts of SRPO that run on one GPU without Ray or vLLM.

Three checks, each recorded in one JSON file (``--out DIR``/gpu_check.json) and printed:

* ``advantage``: srpo's group-normalised advantage (``srpo/algorithm/advantage.py``) on CUDA tensors at
  8192 responses x 1024 tokens (256 prompts x 32 rollouts), checked against a plain per-group loop
  and timed against the same code on CPU. When verl cannot be imported (the GPU image has no Ray,
  which verl imports at package level), the estimator's functions are compiled from
  ``srpo/algorithm/advantage.py`` itself without its verl registration decorator: the code under test is the
  file's, not a copy.
* ``fsdp``: one actor update with FSDP2 (``torch.distributed.fsdp.fully_shard``) under
  ``torchrun --nproc_per_node=1`` on a Qwen2-architecture model made from a config (Qwen2.5-0.5B
  shape, random weights, nothing downloaded), with SRPO's loss settings: PPO clipped surrogate,
  token-mean aggregation over a mini-batch split into micro-batches, no KL, no entropy term, AdamW
  (0.9, 0.95) at lr 1e-6. Reports step time, tokens/s and peak memory.
* ``rollout``: ``transformers`` ``generate`` sampling on GPU with the project's tiny Qwen2 model
  (``srpo/embedded``), k samples per prompt, graded by the embedded probe; reports tokens/s.

Run everything (the fsdp part re-launches itself under torchrun)::

    python benchmarks/gpu_check.py all --out /tmp/gpu_check            # on a GPU machine
    python benchmarks/gpu_check.py all --out /tmp/gpu_check --small    # CPU smoke run (gloo)
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere: srpo/ is importable
    sys.path.insert(0, str(REPO))
RESULT_FILE = "gpu_check.json"


# ----------------------------------------------------------------------------- helpers
def _device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: --device cuda asked for, but torch sees no CUDA device")
    return torch.device(requested)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_s(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _device_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(name=props.name, memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        pass
    return info


# ----------------------------------------------------------------------------- (a) advantage
def load_advantage_module() -> tuple[dict[str, Any], str]:
    """srpo.advantage's functions: imported when verl is importable, else compiled from the file."""
    try:
        import srpo.algorithm.advantage as adv

        return vars(adv), "import srpo.algorithm.advantage (verl importable)"
    except ImportError as err:
        why = f"{type(err).__name__}: {err}"
    source = (REPO / "srpo" / "advantage.py").read_text()
    tree = ast.parse(source)
    keep: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("verl"):
            continue  # the registration decorator's import: the only use of verl in the file
        if isinstance(node, ast.FunctionDef):
            node.decorator_list = []
        keep.append(node)
    namespace: dict[str, Any] = {"__name__": "srpo_advantage_from_source"}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "srpo/algorithm/advantage.py", "exec"), namespace)
    return namespace, f"compiled from srpo/algorithm/advantage.py without the verl decorator ({why})"


def reference_advantage(
    rewards: torch.Tensor, mask: torch.Tensor, index: np.ndarray, eps: float = 1e-6
) -> torch.Tensor:
    """Plain per-group loop (verl's grpo conventions: singleton groups get mean 0, std 1)."""
    scores = rewards.sum(dim=-1)
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(index):
        groups.setdefault(str(key), []).append(i)
    out = torch.empty_like(scores)
    for rows in groups.values():
        s = scores[rows]
        mean, std = (torch.tensor(0.0), torch.tensor(1.0)) if len(rows) == 1 else (s.mean(), s.std())
        out[rows] = (s - mean) / (std + eps)
    return out.unsqueeze(-1) * mask


def check_advantage(device: torch.device, responses: int, tokens: int, group: int, repeats: int) -> dict:
    fns, how = load_advantage_module()
    estimator = fns["compute_srpo_outcome_advantage"]
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(tokens // 8, tokens + 1, (responses,), generator=gen)
    mask = (torch.arange(tokens)[None, :] < lengths[:, None]).float()
    acc = (torch.rand(responses, generator=gen) < 0.4).float()
    rewards = torch.zeros(responses, tokens)
    rewards[torch.arange(responses), lengths - 1] = acc  # outcome reward on the last response token
    index = np.array([f"p{i // group}" for i in range(responses)], dtype=object)
    index[-3:] = ["single-a", "single-b", "single-c"]  # singleton groups exercise the mean-0/std-1 rule

    want = reference_advantage(rewards, mask, index)
    got_cpu, _ = estimator(rewards, mask, index)
    rewards_d, mask_d = rewards.to(device), mask.to(device)
    got_dev, _ = estimator(rewards_d, mask_d, index)
    _sync(device)
    err_cpu = (got_cpu - want).abs().max().item()
    err_dev = (got_dev.cpu() - want).abs().max().item()
    t_dev = _median_s(lambda: estimator(rewards_d, mask_d, index), device, repeats)
    t_cpu = _median_s(lambda: estimator(rewards, mask, index), torch.device("cpu"), repeats)
    t0 = time.perf_counter()
    reference_advantage(rewards, mask, index)
    t_ref = time.perf_counter() - t0
    # the group statistics alone, on device tensors (no host round trip of the scores)
    scores_d = rewards_d.sum(-1)
    norm = fns["group_normalised_scores"]
    t_norm = _median_s(lambda: norm(scores_d, index), device, repeats)
    ok = err_cpu < 1e-5 and err_dev < 1e-5 and got_dev.device.type == device.type
    return {
        "ok": ok,
        "how_loaded": how,
        "shape": [responses, tokens],
        "group_size": group,
        "max_abs_err_vs_loop_cpu": err_cpu,
        "max_abs_err_vs_loop_device": err_dev,
        "estimator_s_device_median": t_dev,
        "estimator_s_cpu_median": t_cpu,
        "group_normalised_scores_s_device_median": t_norm,
        "reference_loop_s_cpu": t_ref,
        "repeats": repeats,
    }


# ----------------------------------------------------------------------------- (b) FSDP2 actor update
SHAPES = {  # published shapes of Qwen2.5 models; the weights are random
    "qwen2.5-0.5b": dict(
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=True,
    ),
    "qwen2.5-1.5b": dict(
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=True,
    ),
}
SMALL = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=1024,
    tie_word_embeddings=True,
)


def token_logprobs(model: torch.nn.Module, input_ids: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
    """log p(token_t | tokens_<t) for t >= 1; shape (batch, seq - 1), in fp32."""
    logits = model(input_ids=input_ids, attention_mask=attn, use_cache=False).logits[:, :-1].float()
    return torch.log_softmax(logits, dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)


def srpo_policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    n_tokens: float,
    clip: float = 0.2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO clipped surrogate, token-mean over the mini-batch's ``n_tokens`` (SRPO: no KL, no entropy)."""
    ratio = torch.exp(logp - old_logp)
    surrogate = torch.maximum(-adv * ratio, -adv * torch.clamp(ratio, 1 - clip, 1 + clip))
    clipped = ((ratio - 1).abs() > clip).float()
    return (surrogate * mask).sum() / n_tokens, (clipped * mask).sum() / n_tokens


def fsdp_worker(args: argparse.Namespace) -> None:
    """One rank of the FSDP2 check; run under torchrun."""
    import torch.distributed as dist
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
    from transformers import Qwen2Config, Qwen2ForCausalLM

    use_cuda = torch.cuda.is_available() and not args.small
    dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(0)
    shape = SMALL if args.small else SHAPES[args.shape]
    config = Qwen2Config(**shape, max_position_embeddings=32768, rope_theta=1e6, attn_implementation="sdpa")
    with torch.device(device):
        model = Qwen2ForCausalLM(config)  # fp32 master weights, as verl's FSDP keeps them
    n_params = sum(p.numel() for p in model.parameters())
    model.gradient_checkpointing_enable()
    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    for layer in model.model.layers:
        fully_shard(layer, mp_policy=mp)
    fully_shard(model, mp_policy=mp)
    optim = torch.optim.AdamW(model.parameters(), lr=1e-6, betas=(0.9, 0.95), weight_decay=0.01)

    # A mini-batch of G prompts x k rollouts: prompt then response tokens, right-padded responses.
    prompts, k, prompt_len, resp_len = args.prompts, args.k, args.prompt_len, args.resp_len
    batch, seq = prompts * k, prompt_len + resp_len
    gen = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, config.vocab_size, (batch, seq), generator=gen).to(device)
    resp_lengths = torch.randint(resp_len // 4, resp_len + 1, (batch,), generator=gen)
    attn = (torch.arange(seq)[None, :] < (prompt_len + resp_lengths)[:, None]).long().to(device)
    resp_mask = attn[:, 1:].clone().float()
    resp_mask[:, : prompt_len - 1] = 0  # loss only on response tokens
    acc = (torch.rand(batch, generator=gen) < 0.5).float()
    g = acc.view(prompts, k)
    adv = ((g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + 1e-6)).view(batch, 1).to(device)
    n_tokens = resp_mask.sum()
    micro = args.micro

    def update() -> dict[str, float]:
        with torch.no_grad():  # old log-probs (verl recomputes them with the same weights)
            old = torch.cat(
                [
                    token_logprobs(model, input_ids[i : i + micro], attn[i : i + micro])
                    for i in range(0, batch, micro)
                ]
            )
        optim.zero_grad(set_to_none=True)
        total, clipfrac = 0.0, 0.0
        for i in range(0, batch, micro):
            sl = slice(i, i + micro)
            logp = token_logprobs(model, input_ids[sl], attn[sl])
            loss, cf = srpo_policy_loss(logp, old[sl], adv[sl], resp_mask[sl], n_tokens)
            loss.backward()
            total += loss.item()
            clipfrac += cf.item()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        return {
            "loss": total,
            "clipfrac": clipfrac,
            "grad_norm": float(getattr(grad_norm, "full_tensor", lambda: grad_norm)()),
        }

    first = next(iter(model.parameters()))
    before = first.full_tensor().detach().clone()
    warm = update()
    if use_cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    steps = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        stats = update()
        if use_cuda:
            torch.cuda.synchronize()
        stats["seconds"] = time.perf_counter() - t0
        steps.append(stats)
    after = first.full_tensor().detach()
    secs = [s["seconds"] for s in steps]
    tokens = int(attn.sum().item())
    result = {
        "ok": all(np.isfinite(s["loss"]) and np.isfinite(s["grad_norm"]) for s in [warm, *steps])
        and bool((after - before).abs().max().item() > 0),
        "model": "Qwen2 (random init) " + ("small" if args.small else f"{args.shape} shape"),
        "parameters": n_params,
        "world_size": dist.get_world_size(),
        "backend": dist.get_backend(),
        "mixed_precision": "bf16 params / fp32 reduce, fp32 master weights, gradient checkpointing",
        "mini_batch": {"prompts": prompts, "rollouts_per_prompt": k, "micro_batch": micro, "seq_len": seq},
        "tokens_per_update": tokens,
        "response_tokens_per_update": int(n_tokens.item()),
        "step_s_median": statistics.median(secs),
        "step_s_all": secs,
        "tokens_per_s": tokens / statistics.median(secs),
        "first_update": warm,
        "last_update": steps[-1],
        "weights_changed": bool((after - before).abs().max().item() > 0),
    }
    if use_cuda:
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        result["peak_reserved_gib"] = round(torch.cuda.max_memory_reserved() / 2**30, 2)
    if rank == 0:
        Path(args.result).write_text(json.dumps(result, indent=2))
    dist.destroy_process_group()


def check_fsdp(args: argparse.Namespace, out: Path) -> dict:
    """Launch ``fsdp_worker`` under torchrun with one process and read its result."""
    result_path = out / "fsdp_result.json"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1",
        __file__, "fsdp-worker", "--result", str(result_path),
        "--prompts", str(args.prompts), "--k", str(args.k), "--micro", str(args.micro),
        "--shape", args.shape, "--prompt-len", str(args.prompt_len), "--resp-len", str(args.resp_len), "--steps", str(args.steps),
    ]  # fmt: skip
    if args.small:
        cmd.append("--small")
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.fsdp_timeout, cwd=REPO)
    wall = time.perf_counter() - t0
    if done.returncode != 0 or not result_path.is_file():
        return {
            "ok": False,
            "command": " ".join(cmd),
            "rc": done.returncode,
            "stderr_tail": done.stderr[-3000:],
        }
    result = json.loads(result_path.read_text())
    result.update(command="torchrun --standalone --nproc_per_node=1 benchmarks/gpu_check.py fsdp-worker ...")
    result["wall_s_including_start"] = wall
    return result


# ----------------------------------------------------------------------------- (c) rollout
def tiny_model_dir(given: str | None, out: Path) -> tuple[Path, str]:
    if given:
        return Path(given), "given"
    from srpo.embedded.build import BuildSettings, build_model

    target = out / "tiny_model"
    manifest = build_model(BuildSettings(skip_warmup=True), target, progress=False)
    return target, f"built by srpo.embedded.build (skip_warmup, {manifest['build_seconds']} s)"


@torch.no_grad()
def check_rollout(device: torch.device, args: argparse.Namespace, out: Path) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from srpo.embedded.dataset import generate
    from srpo.embedded.probe import grade_math

    model_dir, how = tiny_model_dir(args.tiny_model, out)
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.bfloat16).to(device).eval()
    problems = generate("arith", "test", args.rollout_prompts, (1, 2, 3), 0)
    texts = [
        tok.apply_chat_template(
            [{"role": "user", "content": p.question}], add_generation_prompt=True, tokenize=False
        )
        for p in problems
        for _ in range(args.rollout_k)
    ]
    enc = tok(texts, return_tensors="pt", padding=True).to(device)
    torch.manual_seed(0)
    kw = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=args.rollout_tokens)
    model.generate(**{k: v[:8] for k, v in enc.items()}, **kw)  # warm-up (kernels, allocator)
    _sync(device)
    t0 = time.perf_counter()
    outs = model.generate(**enc, **kw)
    _sync(device)
    secs = time.perf_counter() - t0
    new = outs[:, enc["input_ids"].shape[1] :]
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    # tokens produced up to and including each sample's end-of-turn (generate pads after it)
    is_end = (new == eos) | (new == tok.pad_token_id)
    produced = torch.where(
        is_end.any(1), is_end.float().argmax(1) + 1, torch.full_like(new[:, 0], new.shape[1])
    )
    decoded = tok.batch_decode(new, skip_special_tokens=True)
    correct = [grade_math(r, problems[i // args.rollout_k].ground_truth) for i, r in enumerate(decoded)]
    return {
        "ok": len(decoded) == len(texts) and int(produced.sum()) > 0,
        "model": f"srpo/embedded tiny Qwen2 ({sum(p.numel() for p in model.parameters())} params, bf16), {how}",
        "prompts": len(problems),
        "samples_per_prompt": args.rollout_k,
        "max_new_tokens": args.rollout_tokens,
        "generated_tokens": int(produced.sum()),
        "padded_tokens": int(new.numel()),
        "seconds": secs,
        "generated_tokens_per_s": int(produced.sum()) / secs,
        "sequences_per_s": len(texts) / secs,
        "accuracy": sum(correct) / len(correct),
        "example": decoded[0][:200],
    }


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["all", "advantage", "fsdp", "rollout", "fsdp-worker"])
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check_out")))
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    p.add_argument("--small", action="store_true", help="tiny shapes for a CPU smoke run")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--shape", choices=sorted(SHAPES), default="qwen2.5-0.5b", help="fsdp: model shape")
    p.add_argument("--prompts", type=int, default=4, help="fsdp: prompts per mini-batch")
    p.add_argument("--k", type=int, default=8, help="fsdp: rollouts per prompt")
    p.add_argument("--micro", type=int, default=4, help="fsdp: sequences per micro-batch")
    p.add_argument("--prompt-len", type=int, default=256)
    p.add_argument("--resp-len", type=int, default=1792)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--fsdp-timeout", type=float, default=300)
    p.add_argument("--tiny-model", default=None, help="rollout: a built tiny model dir (else built here)")
    p.add_argument("--rollout-prompts", type=int, default=64)
    p.add_argument("--rollout-k", type=int, default=8)
    p.add_argument("--rollout-tokens", type=int, default=128)
    p.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.what == "fsdp-worker":
        fsdp_worker(args)
        return 0

    device = _device("cpu" if args.small and args.device == "auto" else args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"env": _device_info(device)}
    if args.small:
        results["env"]["note"] = "--small: CPU smoke shapes, figures are not benchmarks"
    responses, tokens = (512, 128) if args.small else (8192, 1024)
    checks: dict[str, Callable[[], dict]] = {
        "advantage": lambda: check_advantage(device, responses, tokens, 32, args.repeats),
        "fsdp": lambda: check_fsdp(args, args.out),
        "rollout": lambda: check_rollout(device, args, args.out),
    }
    for name, fn in checks.items():
        if args.what not in ("all", name):
            continue
        t0 = time.perf_counter()
        try:
            results[name] = fn()
        except Exception as err:  # record and go on: one failed check must not hide the others
            results[name] = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        results[name]["check_wall_s"] = round(time.perf_counter() - t0, 2)
        print(f"== {name}: {json.dumps(results[name], indent=2)}", flush=True)
        (args.out / RESULT_FILE).write_text(json.dumps(results, indent=2))
    failed = [n for n in checks if n in results and not results[n].get("ok")]
    print(
        f"gpu_check: {'FAILED ' + ', '.join(failed) if failed else 'all checks passed'} -> {args.out / RESULT_FILE}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
