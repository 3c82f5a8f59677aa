"""Build the tiny base model end to end, deterministically, and cache it by a hash of its settings.

Steps: draw training-split problems of both families, train the tokenizer on them rendered with the
chat template, create the Qwen2 model, warm it up (unless skipped), save an HF model directory. The
directory lands in ``<cache_dir>/tiny-qwen2-<key>`` where ``key`` hashes every setting and the build
version, so a second call with the same settings returns at once, and any change rebuilds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from srpo.embedded.dataset import generate
from srpo.embedded.model import ModelSize, count_parameters, make_model
from srpo.embedded.problem import Problem
from srpo.embedded.styles import mix_styles
from srpo.embedded.tokenizer import train_tokenizer
from srpo.embedded.warmup import WarmupSettings, warm_up

# Bump when the build's code changes what it produces, so stale cached models are not reused.
BUILD_VERSION = 3
MANIFEST = "srpo_build.json"


def default_cache_dir() -> Path:
    """``$SRPO_CACHE_DIR/models``, else ``~/.cache/srpo/models``."""
    root = os.environ.get("SRPO_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "srpo") / "models"


@dataclass(frozen=True)
class BuildSettings:
    seed: int = 0
    vocab_size: int = 512
    size: ModelSize = field(default_factory=ModelSize)
    warmup: WarmupSettings = field(default_factory=WarmupSettings)
    skip_warmup: bool = False
    # Training-split problems drawn for the tokenizer and the warm-up. The code family's question
    # space is small (~380 training questions) and is learned faster per example than arithmetic, so it
    # gets a small share.
    arith_corpus: int = 2000
    code_corpus: int = 300
    # The answer-style mix of the warm-up data (srpo.embedded.styles): the share of math solutions
    # that end in \\boxed{} as asked and of code solutions that name the function f as asked. These
    # leave the base model at partial accuracy with a habit that RL can visibly fix.
    boxed_share: float = 0.4
    asked_name_share: float = 0.4
    arith_levels: tuple[int, ...] = (1, 2, 3)
    codegen_levels: tuple[int, ...] = (1, 2, 3)
    # One thread: a model this small gains little from a second one, and when the other core is busy
    # (a Ray worker, another job) two OpenMP threads ran 5-7x slower than one on the 2-core test machine.
    threads: int = 1

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.skip_warmup:  # warm-up settings and the style mix do not change a skipped build
            for name in ("warmup", "boxed_share", "asked_name_share"):
                data.pop(name)
        return data  # threads stay in: float sums split over threads round differently

    def key(self) -> str:
        payload = json.dumps({"version": BUILD_VERSION, **self.as_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def corpus(settings: BuildSettings) -> list[Problem]:
    """Training-split problems of both families; the warm-up draws batches from them uniformly."""
    arith = generate("arith", "train", settings.arith_corpus, settings.arith_levels, settings.seed)
    code = generate("codegen", "train", settings.code_corpus, settings.codegen_levels, settings.seed)
    return arith + code


def build_model(settings: BuildSettings, out_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    """Build into ``out_dir`` (created) and return the manifest written next to the weights."""
    started = time.perf_counter()
    torch.set_num_threads(settings.threads)
    problems = corpus(settings)
    # The tokenizer learns from the reference solutions; the other styles only drop a line or rename.
    tokenizer = train_tokenizer((_render(p) for p in problems), settings.vocab_size)
    model = make_model(settings.size, tokenizer, settings.seed)
    losses: list[float] = []
    if not settings.skip_warmup:
        mixed = mix_styles(problems, settings.boxed_share, settings.asked_name_share, settings.seed)
        losses = warm_up(model, tokenizer, mixed, settings.warmup, settings.seed, progress=progress)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    manifest = {
        "key": settings.key(),
        "settings": settings.as_dict(),
        "parameters": count_parameters(model),
        "vocab_size": len(tokenizer),
        "warmup_final_loss": losses[-1] if losses else None,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _render(problem: Problem) -> str:
    """The chat-formatted text the tokenizer is trained on (same layout as the chat template)."""
    return (
        f"<|im_start|>user\n{problem.question}<|im_end|>\n"
        f"<|im_start|>assistant\n{problem.solution}<|im_end|>\n"
    )


def shipped_dir() -> Path:
    """Where the repository keeps prebuilt models (the default build is small enough to ship)."""
    return Path(__file__).parent / "shipped"


def cached_build(
    settings: BuildSettings, cache_dir: str | Path | None = None, force: bool = False, progress: bool = True
) -> Path:
    """Return the cached model directory for ``settings``, building it first when missing.

    A model shipped with the package under the same key is copied instead of rebuilt (the default
    build takes about 13 minutes on one core; ``force`` rebuilds regardless).
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / f"tiny-qwen2-{settings.key()}"
    if (target / MANIFEST).is_file() and not force:
        return target
    shipped = shipped_dir() / target.name
    if (shipped / MANIFEST).is_file() and not force:
        return build_into(target, lambda staging: shutil.copytree(shipped, staging, dirs_exist_ok=True))
    return build_into(target, lambda staging: build_model(settings, staging, progress=progress))


def build_into(target: Path, fill: Callable[[Path], object]) -> Path:
    """``fill`` a staging folder beside ``target``, then rename it into place.

    An interruption never leaves a half-built model where a later run would take it as cached.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        fill(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
