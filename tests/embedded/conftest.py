"""Shared fixtures: one tiny random-init model built once per test session (a few seconds)."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer

from srpo.embedded.build import BuildSettings, cached_build
from srpo.embedded.model import ModelSize
from srpo.embedded.warmup import WarmupSettings

TINY = BuildSettings(
    seed=0,
    vocab_size=400,
    size=ModelSize(hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=1, intermediate_size=128),
    warmup=WarmupSettings(steps=30, batch_size=8, lr=3e-3),
    arith_corpus=200,
    code_corpus=100,
    threads=1,
)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory):
    torch.set_num_threads(1)
    return tmp_path_factory.mktemp("model_cache")


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_cache):
    return cached_build(TINY, cache_dir=tiny_cache, progress=False)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(str(tiny_model_dir))
