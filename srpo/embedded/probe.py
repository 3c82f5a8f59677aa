"""A quick accuracy probe of a model on the held-out split, with transformers ``generate``.

Only a probe: math is graded by exact value of the last ``\\boxed{}``, code by calling ``f`` on the
hidden cases in a subprocess with a timeout. The training rewards are the SymPy verifier and the
Docker sandbox (``reward_fns``, ``sandbox``); this exists to check the base model without them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from srpo.embedded.dataset import generate
from srpo.embedded.problem import Problem
from srpo.embedded.styles import in_asked_style

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_FENCE = re.compile(r"```(?:python)?\n(.*?)```", re.DOTALL)

# Runs inside the child: read {"source", "fn_name", "cases"} on stdin, print how many cases pass.
_HARNESS = """
import json, sys
job = json.load(sys.stdin)
ns = {}
try:
    exec(job["source"], ns)
    fn = ns[job["fn_name"]]
except BaseException:
    print(0); sys.exit(0)
passed = 0
for case in job["cases"]:
    try:
        got = json.loads(json.dumps(fn(*case["args"], **case["kwargs"])))
        passed += got == case["expected"]
    except BaseException:
        pass
print(passed)
"""


def grade_math(response: str, ground_truth: str) -> bool:
    """True when the last ``\\boxed{}`` holds the same number as ``ground_truth``."""
    found = _BOXED.findall(response)
    if not found:
        return False
    try:
        return Fraction(found[-1].replace(" ", "")) == Fraction(ground_truth)
    except (ValueError, ZeroDivisionError):
        return False


def extract_code(response: str) -> str:
    """The last fenced code block, or the whole response when it has none."""
    blocks = _FENCE.findall(response)
    return blocks[-1] if blocks else response


def grade_code(response: str, ground_truth: str, timeout_s: float = 5.0) -> bool:
    """True when ``f`` defined by the response passes every hidden case (run in a child process)."""
    spec = json.loads(ground_truth)
    if spec.get("format") != "call":
        raise ValueError(f"the probe grades only 'call' test specs, got {spec.get('format')!r}")
    job = {"source": extract_code(response), "fn_name": spec["fn_name"], "cases": spec["cases"]}
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _HARNESS],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return False
    return done.stdout.strip() == str(len(spec["cases"]))


def grade(problem: Problem, response: str) -> bool:
    if problem.domain == "math":
        return grade_math(response, problem.ground_truth)
    return grade_code(response, problem.ground_truth)


@dataclass(frozen=True)
class ProbeResult:
    domain: str
    prompts: int
    samples_per_prompt: int
    accuracy: float  # mean over all samples
    mixed_groups: float  # share of prompts whose samples were neither all right nor all wrong
    by_level: dict[int, float]  # accuracy per difficulty level
    asked_style_by_level: dict[int, float]  # accuracy per level of the samples in the asked style
    asked_style: float  # share of samples in the style the question asks for (srpo.embedded.styles)
    asked_style_accuracy: float  # accuracy of those samples


@torch.no_grad()
def sample(
    model_dir: str | Path,
    problems: Sequence[Problem],
    k: int,
    temperature: float,
    max_new_tokens: int,
    seed: int,
    batch_size: int = 64,
) -> list[list[str]]:
    """``k`` responses per problem (greedy when ``temperature`` is 0)."""
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    torch.manual_seed(seed)
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p.question}], add_generation_prompt=True, tokenize=False
        )
        for p in problems
        for _ in range(k)
    ]
    texts: list[str] = []
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True)
        sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
        out = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            **(sampling if temperature > 0 else {"do_sample": False}),
        )
        new = out[:, batch["input_ids"].shape[1] :]
        texts.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    return [texts[i * k : (i + 1) * k] for i in range(len(problems))]


def probe(
    model_dir: str | Path,
    family: str,
    n_prompts: int,
    k: int = 4,
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    seed: int = 0,
    levels: Sequence[int] = (1, 2, 3),
) -> ProbeResult:
    """Accuracy of the model at ``model_dir`` on ``n_prompts`` held-out problems of one family."""
    problems = generate(family, "test", n_prompts, levels, seed)
    return probe_problems(model_dir, problems, k, temperature, max_new_tokens, seed)


def probe_problems(
    model_dir: str | Path,
    problems: Sequence[Problem],
    k: int = 4,
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    seed: int = 0,
) -> ProbeResult:
    """Accuracy of the model at ``model_dir`` on given problems, per level (the ladder: per rung)."""
    responses = sample(model_dir, problems, k, temperature, max_new_tokens, seed)
    outcomes = [[grade(p, r) for r in group] for p, group in zip(problems, responses, strict=True)]
    flat = [o for group in outcomes for o in group]
    mixed = sum(0 < sum(group) < len(group) for group in outcomes)
    by_level: dict[int, list[bool]] = {}
    for problem, group in zip(problems, outcomes, strict=True):
        by_level.setdefault(problem.level, []).extend(group)
    asked = [
        ok
        for problem, group, texts in zip(problems, outcomes, responses, strict=True)
        for ok, text in zip(group, texts, strict=True)
        if in_asked_style(problem, text)
    ]
    asked_by_level: dict[int, list[bool]] = {}
    for problem, group, texts in zip(problems, outcomes, responses, strict=True):
        for ok, text in zip(group, texts, strict=True):
            if in_asked_style(problem, text):
                asked_by_level.setdefault(problem.level, []).append(ok)
    return ProbeResult(
        domain=problems[0].domain,
        prompts=len(problems),
        samples_per_prompt=k,
        accuracy=sum(flat) / len(flat),
        mixed_groups=mixed / len(problems),
        by_level={level: sum(v) / len(v) for level, v in sorted(by_level.items())},
        asked_style=len(asked) / len(flat),
        asked_style_accuracy=sum(asked) / len(asked) if asked else 0.0,
        asked_style_by_level={lv: sum(v) / len(v) for lv, v in sorted(asked_by_level.items())},
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m srpo.embedded.probe --model DIR``: print a markdown table of held-out accuracy."""
    import argparse
    import time

    p = argparse.ArgumentParser(description="Quick held-out accuracy probe of a model directory.")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--n", type=int, default=64, help="held-out prompts per family")
    p.add_argument("--k", type=int, default=4, help="samples per prompt")
    p.add_argument("--temperature", type=float, default=1.0, help="0 means greedy (then k is 1)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--task",
        choices=("default", "ladder"),
        default="default",
        help="default: arith + codegen; ladder: the chains of srpo.embedded.ladder, --n per rung",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    k = args.k if args.temperature > 0 else 1
    if args.task == "ladder":
        return _probe_ladder(args, k)
    print(
        "| domain | prompts | samples/prompt | temperature | accuracy | by level 1/2/3 | mixed groups "
        "| asked style | its accuracy | seconds |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for family in ("arith", "codegen"):
        started = time.perf_counter()
        r = probe(args.model, family, args.n, k, args.temperature, args.max_new_tokens, args.seed)
        print(
            f"| {r.domain} | {r.prompts} | {r.samples_per_prompt} | {args.temperature:g} | {r.accuracy:.3f} "
            f"| {' / '.join(f'{a:.2f}' for a in r.by_level.values())} "
            f"| {r.mixed_groups:.2f} | {r.asked_style:.2f} | {r.asked_style_accuracy:.2f} "
            f"| {time.perf_counter() - started:.0f} |",
            flush=True,
        )
    return 0


def _probe_ladder(args: Any, k: int) -> int:
    """Per-rung accuracy on the ladder's held-out split, and that of the samples in the asked style:
    the accuracy an answer-style fix alone would reach on each rung."""
    import time

    from srpo.embedded.ladder import MAX_RUNG, generate_ladder

    started = time.perf_counter()
    problems = generate_ladder(range(1, MAX_RUNG + 1), "test", args.n, args.seed)
    r = probe_problems(args.model, problems, k, args.temperature, args.max_new_tokens, args.seed)
    print(f"ladder: {r.prompts} held-out prompts x {k} samples, temperature {args.temperature:g}")
    print("| rung | accuracy | accuracy of asked-style (boxed) samples |")
    print("| --- | --- | --- |")
    for rung, acc in r.by_level.items():
        styled = r.asked_style_by_level.get(rung)
        print(f"| {rung} | {acc:.3f} | {'-' if styled is None else f'{styled:.3f}'} |")
    print(
        f"| all | {r.accuracy:.3f} | {r.asked_style_accuracy:.3f} (asked style {r.asked_style:.2f}, "
        f"mixed groups {r.mixed_groups:.2f}, {time.perf_counter() - started:.0f} s) |",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
