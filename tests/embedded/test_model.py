"""The model builder: loads and generates, is deterministic for a seed, caches by settings."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from srpo.embedded.build import MANIFEST, BuildSettings, build_model, cached_build
from srpo.embedded.model import ModelSize
from srpo.embedded.probe import sample

from .conftest import TINY


def test_model_dir_has_what_verl_and_vllm_load(tiny_model_dir):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "generation_config.json", MANIFEST):
        assert (tiny_model_dir / name).is_file(), name
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "qwen2" and config["architectures"] == ["Qwen2ForCausalLM"]
    assert config["hidden_size"] // config["num_attention_heads"] >= 32
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    assert config["vocab_size"] == len(tokenizer)
    generation = GenerationConfig.from_pretrained(str(tiny_model_dir))
    assert generation.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_model_loads_and_generates(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Compute 1 + 1."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]
    assert torch.isfinite(model(**ids).logits).all()


def test_warm_up_lowers_the_loss(tiny_model_dir):
    manifest = json.loads((tiny_model_dir / MANIFEST).read_text())
    assert manifest["warmup_final_loss"] is not None
    # Random init over a ~400-token vocabulary starts near ln(400) ~ 6; 30 steps must go well below.
    assert manifest["warmup_final_loss"] < 4.0


def test_same_seed_gives_identical_weights_and_tokenizer(tmp_path, tiny_model_dir):
    build_model(TINY, tmp_path / "again", progress=False)
    first, second = (
        load_file(tiny_model_dir / "model.safetensors"),
        load_file(tmp_path / "again" / "model.safetensors"),
    )
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert (tiny_model_dir / "tokenizer.json").read_text() == (
        tmp_path / "again" / "tokenizer.json"
    ).read_text()


def test_other_seed_gives_other_weights(tmp_path):
    settings = dataclasses.replace(TINY, skip_warmup=True)
    build_model(settings, tmp_path / "a", progress=False)
    build_model(dataclasses.replace(settings, seed=1), tmp_path / "b", progress=False)
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert not all(torch.equal(a[k], b[k]) for k in a)


def test_cache_reuses_a_build_and_keys_on_settings(tiny_cache, tiny_model_dir):
    stamp = (tiny_model_dir / "model.safetensors").stat().st_mtime_ns
    assert cached_build(TINY, cache_dir=tiny_cache, progress=False) == tiny_model_dir
    assert (tiny_model_dir / "model.safetensors").stat().st_mtime_ns == stamp
    assert dataclasses.replace(TINY, seed=1).key() != TINY.key()
    assert dataclasses.replace(TINY, warmup=dataclasses.replace(TINY.warmup, steps=31)).key() != TINY.key()
    skipped = dataclasses.replace(TINY, skip_warmup=True)
    # Warm-up settings do not matter once the warm-up is skipped.
    assert (
        dataclasses.replace(skipped, warmup=dataclasses.replace(TINY.warmup, steps=31)).key() == skipped.key()
    )
    assert not list(tiny_cache.glob(".tiny-qwen2-*")), "no staging folder may be left behind"


def test_sampling_gives_k_responses_per_prompt(tiny_model_dir):
    from srpo.embedded.dataset import generate

    problems = generate("arith", "test", 2, (1,), seed=0)
    responses = sample(tiny_model_dir, problems, k=3, temperature=1.0, max_new_tokens=6, seed=0)
    assert [len(group) for group in responses] == [3, 3]
    assert all(isinstance(r, str) for group in responses for r in group)


def test_head_dim_below_32_is_refused():
    with pytest.raises(ValueError, match="head_dim 16"):
        ModelSize(hidden_size=64, num_heads=4, num_kv_heads=2)


def test_default_settings_key_is_stable():
    assert BuildSettings().key() == BuildSettings().key()
