"""A small byte-level BPE tokenizer with Qwen's chat markup, trained on the generated corpus.

Byte-level so that any text (including model output) round-trips; digits are split one per token so
numbers are spelled digit by digit, which a tiny model learns arithmetic on far more easily; and
"\\n" is a single token, as verl's agent loop requires of Qwen-style templates.

The normaliser and pre-tokeniser are Qwen2's own: ``AutoTokenizer`` loads a ``qwen2`` model's
tokenizer as transformers' ``Qwen2Tokenizer``, which installs them regardless of tokenizer.json, so
training with anything else would make the loaded tokenizer split text differently from training.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)

# Qwen2's pre-tokenisation pattern (one digit per piece; newlines kept apart from other text).
QWEN2_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

# Qwen's ChatML layout without its default system message (prompts must stay short).
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train the tokenizer on ``texts`` and wrap it for transformers (eos ``<|im_end|>``)."""
    if vocab_size < 300:
        raise ValueError(f"vocab_size must be at least 300 (256 bytes + specials + merges), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        unk_token=None,
        bos_token=None,
        additional_special_tokens=[IM_START],
        model_max_length=512,
        clean_up_tokenization_spaces=False,
    )
    wrapped.chat_template = CHAT_TEMPLATE
    check_tokenizer(wrapped)
    return wrapped


def check_tokenizer(tokenizer: PreTrainedTokenizerFast) -> None:
    """Refuse a tokenizer that would break verl: "\\n" must be one token, specials must be atomic."""
    newline = tokenizer.encode("\n", add_special_tokens=False)
    if len(newline) != 1:
        raise ValueError(f'"\\n" must encode to exactly one token, got {newline}')
    for special in SPECIAL_TOKENS:
        ids = tokenizer.encode(special, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"special token {special!r} must encode to one token, got {ids}")
