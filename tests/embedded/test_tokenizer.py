"""The tokenizer meets verl's needs and reloads through AutoTokenizer unchanged."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from srpo.embedded.tokenizer import SPECIAL_TOKENS, check_tokenizer, train_tokenizer

SAMPLE = "Compute (12 + 7) * 3.\n```python\ndef f(xs):\n    return sum(xs) * 4 + 1\n```<|im_end|>"


def test_newline_is_one_token_and_specials_are_atomic(tiny_tokenizer):
    assert len(tiny_tokenizer.encode("\n", add_special_tokens=False)) == 1
    for special in SPECIAL_TOKENS:
        assert len(tiny_tokenizer.encode(special, add_special_tokens=False)) == 1
    assert tiny_tokenizer.eos_token == "<|im_end|>"
    assert tiny_tokenizer.pad_token == "<|endoftext|>"


def test_digits_are_single_tokens(tiny_tokenizer):
    tokens = tiny_tokenizer.convert_ids_to_tokens(
        tiny_tokenizer.encode("x = 90817", add_special_tokens=False)
    )
    assert tokens[-5:] == ["9", "0", "8", "1", "7"]


def test_chat_template_renders_qwen_chatml(tiny_tokenizer):
    messages = [{"role": "user", "content": "Compute 2 + 3."}]
    text = tiny_tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>user\nCompute 2 + 3.<|im_end|>\n<|im_start|>assistant\n"
    full = [*messages, {"role": "assistant", "content": "\\boxed{5}"}]
    text = tiny_tokenizer.apply_chat_template(full, tokenize=False)
    assert text.endswith("<|im_start|>assistant\n\\boxed{5}<|im_end|>\n")


def test_reloaded_tokenizer_splits_like_the_trained_one(tiny_model_dir, tiny_tokenizer):
    raw = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
    assert tiny_tokenizer.encode(SAMPLE, add_special_tokens=False) == raw.encode(SAMPLE).ids
    assert tiny_tokenizer.decode(tiny_tokenizer.encode(SAMPLE, add_special_tokens=False)) == SAMPLE


def test_unicode_round_trips(tiny_tokenizer):
    text = "résumé 数学 ✓"
    assert tiny_tokenizer.decode(tiny_tokenizer.encode(text, add_special_tokens=False)) == text


def test_too_small_vocab_is_refused():
    with pytest.raises(ValueError, match="vocab_size"):
        train_tokenizer(["a b c"], 100)


def test_check_rejects_a_tokenizer_without_a_single_newline_token(tiny_tokenizer):
    check_tokenizer(tiny_tokenizer)  # the real one passes

    class Splitting:
        def encode(self, text, add_special_tokens=False):
            return [1, 2] if text == "\n" else [1]

    with pytest.raises(ValueError, match="exactly one token"):
        check_tokenizer(Splitting())
