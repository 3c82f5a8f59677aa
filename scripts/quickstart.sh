#!/usr/bin/env bash
# Install everything and run the embedded default (`python -m srpo.main`) on this machine:
#   1. srpo, verl 0.9.1, torch 2.13.0 (CPU) and vLLM's CPU build into .venv (scripts/install.sh --vllm),
#   2. a Docker daemon and the sandbox image, built offline (code rewards run there),
#   3. `python -m srpo.main` with any extra arguments as Hydra overrides, e.g.
#      `bash scripts/quickstart.sh trainer.total_training_steps=10`.
# The model and the data are built on the first run and reused after (cached under ~/.cache/srpo).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh --vllm
bash scripts/start_dockerd.sh
bash scripts/build_sandbox_image.sh
exec "${SRPO_VENV:-.venv}/bin/python" -m srpo.main "$@"
