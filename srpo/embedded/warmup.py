"""The short supervised warm-up that gives the random model a weak prior on both task families.

RL needs groups with mixed outcomes from its first step; a random model never answers correctly and
a fully trained one always does, so the warm-up is deliberately short: it teaches the response format
and part of the skill. Loss is on the response tokens only, and only "train" questions are used.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tqdm import tqdm
from transformers import PreTrainedTokenizerFast, Qwen2ForCausalLM

from srpo.embedded.problem import Problem
from srpo.embedded.tokenizer import IM_END

IGNORE = -100


@dataclass(frozen=True)
class WarmupSettings:
    steps: int = 2000
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_frac: float = 0.05  # linear learning-rate ramp, then cosine decay to 10%


def encode_example(tokenizer: PreTrainedTokenizerFast, problem: Problem) -> tuple[list[int], list[int]]:
    """Token ids of prompt + response + ``<|im_end|>``, and labels masking the prompt with -100."""
    prompt_ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": problem.question}], add_generation_prompt=True, tokenize=True
    )
    if not isinstance(prompt_ids, list):  # transformers returns a BatchEncoding for tokenize=True
        prompt_ids = list(prompt_ids["input_ids"])
    response_ids = tokenizer.encode(problem.solution + IM_END, add_special_tokens=False)
    return prompt_ids + response_ids, [IGNORE] * len(prompt_ids) + response_ids


def _batch(examples: Sequence[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}


def _lr_factor(step: int, settings: WarmupSettings) -> float:
    ramp = max(1, int(settings.warmup_frac * settings.steps))
    if step < ramp:
        return (step + 1) / ramp
    progress = (step - ramp) / max(1, settings.steps - ramp)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def warm_up(
    model: Qwen2ForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    problems: Sequence[Problem],
    settings: WarmupSettings,
    seed: int,
    on_step: Callable[[int, float], None] | None = None,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` in place on (question, solution) pairs; return the loss of every step."""
    if not problems:
        raise ValueError("the warm-up needs at least one problem")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    encoded = [encode_example(tokenizer, p) for p in problems]
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, betas=(0.9, 0.95), weight_decay=settings.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, settings))
    model.train()
    losses: list[float] = []
    bar = tqdm(range(settings.steps), desc="warm-up", unit="step", disable=not progress)
    for step in bar:
        batch = _batch(
            [encoded[rng.randrange(len(encoded))] for _ in range(settings.batch_size)], tokenizer.pad_token_id
        )
        loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.detach().item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
        if on_step is not None:
            on_step(step, losses[-1])
    model.eval()
    return losses
