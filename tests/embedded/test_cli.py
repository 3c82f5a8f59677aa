"""The two scripts as a user runs them: the fast --skip-warmup bring-up path and the probe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from srpo.embedded.build import MANIFEST
from srpo.embedded.probe import probe

ROOT = Path(__file__).resolve().parents[2]


def test_skip_warmup_build_writes_a_loadable_model_to_out(tmp_path):
    out = tmp_path / "model"
    cmd = [sys.executable, str(ROOT / "scripts" / "build_base_model.py"), "--out", str(out), "--skip-warmup"]
    done = subprocess.run(
        [*cmd, "--cache-dir", str(tmp_path / "cache"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    assert done.stdout.strip() == str(out)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["warmup_final_loss"] is None and manifest["settings"]["skip_warmup"] is True
    assert 1_000_000 < manifest["parameters"] < 10_000_000
    AutoModelForCausalLM.from_pretrained(str(out))
    assert len(AutoTokenizer.from_pretrained(str(out)).encode("\n", add_special_tokens=False)) == 1


def test_probe_reports_fractions_per_domain_and_level(tiny_model_dir):
    for family, domain in (("arith", "math"), ("codegen", "code")):
        result = probe(tiny_model_dir, family, n_prompts=3, k=2, max_new_tokens=8)
        assert (result.domain, result.prompts, result.samples_per_prompt) == (domain, 3, 2)
        assert 0.0 <= result.accuracy <= 1.0 and 0.0 <= result.mixed_groups <= 1.0
        assert set(result.by_level) <= {1, 2, 3} and result.by_level
