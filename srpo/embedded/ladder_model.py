"""The ladder's base model: the embedded model plus a short continued warm-up with some long chains.

The embedded base model never saw a chain longer than three steps and never writes a fourth line
(``python -m srpo.embedded.probe --task ladder`` on it: rungs 4-6 at 0.000, even in the asked style),
so RL, which learns only from rollouts that succeed, could not move those rungs at all. A real base
model meets long problems rarely rather than never; this reproduces that in miniature: the default
warm-up corpus (rungs 1-3 in both answer styles) plus a share of 4- to 6-step chains that falls with
the length, for a few hundred steps from the embedded model's weights. Its boxed samples solve rung 4
about a third of the time, rung 5 about a tenth and rung 6 almost never (the probe's table in
benchmarks/results/study_ladder/probe.md): rung 4 leaves RL room to teach skill, the longer rungs are
harder steps of the ladder. With 200/150/100 long chains instead, rung 4 stayed at ~0.03 and a
60-step SRPO run taught no skill there. Cached like ``srpo.embedded.build`` by a hash of every setting.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from srpo.embedded.build import MANIFEST, BuildSettings, build_into, cached_build, corpus, default_cache_dir
from srpo.embedded.ladder import generate_rung
from srpo.embedded.styles import mix_styles
from srpo.embedded.warmup import WarmupSettings, warm_up

LADDER_BUILD_VERSION = 1


@dataclass(frozen=True)
class LadderModelSettings:
    base: BuildSettings = field(default_factory=BuildSettings)
    # Training-split long chains mixed into the base corpus (2,000 arithmetic + 300 code problems).
    long_chains: dict[int, int] = field(default_factory=lambda: {4: 1200, 5: 400, 6: 200})
    warmup: WarmupSettings = field(
        default_factory=lambda: WarmupSettings(steps=300, batch_size=32, lr=1e-3, warmup_frac=0.05)
    )
    corpus_seed: int = 1000  # a stream apart from the RL splits' (seed 0), so few questions are shared

    def key(self) -> str:
        data = asdict(self)
        data["long_chains"] = {str(k): v for k, v in sorted(self.long_chains.items())}
        payload = json.dumps(
            {"version": LADDER_BUILD_VERSION, "base_key": self.base.key(), **data}, sort_keys=True
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def build_ladder_model(settings: LadderModelSettings, out_dir: Path, progress: bool = True) -> dict:
    """Continue the embedded model's warm-up with long chains mixed in; save to ``out_dir``."""
    torch.set_num_threads(settings.base.threads)
    base_dir = cached_build(settings.base, progress=progress)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    problems = corpus(settings.base)
    for rung, count in sorted(settings.long_chains.items()):
        problems += generate_rung(rung, "train", count, settings.corpus_seed)
    mixed = mix_styles(
        problems, settings.base.boxed_share, settings.base.asked_name_share, settings.base.seed
    )
    losses = warm_up(model, tokenizer, mixed, settings.warmup, settings.base.seed, progress=progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    manifest = {
        "key": settings.key(),
        "base_key": settings.base.key(),
        "long_chains": {str(k): v for k, v in sorted(settings.long_chains.items())},
        "warmup": asdict(settings.warmup),
        "warmup_final_loss": losses[-1],
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def cached_ladder_model(settings: LadderModelSettings | None = None, cache_dir: Path | None = None) -> Path:
    """The cached ladder base model, built first when missing (about 2 minutes on one core)."""
    settings = settings or LadderModelSettings()
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / f"tiny-qwen2-ladder-{settings.key()}"
    if (target / MANIFEST).is_file():
        return target
    return build_into(target, lambda staging: build_ladder_model(settings, staging))


if __name__ == "__main__":
    print(cached_ladder_model())
