"""The tiny Qwen2-architecture policy: its size settings and how to create it from a tokenizer."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from srpo.embedded.tokenizer import IM_END


@dataclass(frozen=True)
class ModelSize:
    """Shape of the model. head_dim = hidden_size / num_heads must be >= 32 for vLLM on CPU."""

    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 6
    num_kv_heads: int = 2
    intermediate_size: int = 512
    max_position_embeddings: int = 512

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.hidden_size // self.num_heads < 32:
            raise ValueError(
                f"head_dim {self.hidden_size // self.num_heads} < 32 (vLLM's CPU attention needs >= 32); "
                "lower num_heads or raise hidden_size"
            )
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads {self.num_heads} is not divisible by num_kv_heads {self.num_kv_heads}"
            )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def make_config(size: ModelSize, tokenizer: PreTrainedTokenizerFast) -> Qwen2Config:
    """A Qwen2 config sized by ``size`` whose vocabulary and special ids match ``tokenizer``."""
    eos_id = tokenizer.convert_tokens_to_ids(IM_END)
    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden_size,
        intermediate_size=size.intermediate_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        num_key_value_heads=size.num_kv_heads,
        head_dim=size.hidden_size // size.num_heads,
        max_position_embeddings=size.max_position_embeddings,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        use_sliding_window=False,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )


def make_model(size: ModelSize, tokenizer: PreTrainedTokenizerFast, seed: int) -> Qwen2ForCausalLM:
    """A freshly initialised model; the same seed gives the same weights."""
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(make_config(size, tokenizer))
    model.generation_config = make_generation_config(tokenizer)
    return model


def make_generation_config(tokenizer: PreTrainedTokenizerFast) -> GenerationConfig:
    """Stop at ``<|im_end|>`` (end of the assistant turn). Sampling settings are left to the caller
    (verl's rollout config or the probe), so no engine picks up surprising defaults from here."""
    return GenerationConfig(
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END), pad_token_id=tokenizer.pad_token_id
    )


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())
