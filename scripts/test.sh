#!/usr/bin/env bash
# Everything the test suite needs, then the suite (this is what CI runs):
#   1. install srpo with its test tools and vLLM's CPU build into .venv (scripts/install.sh),
#   2. start a Docker daemon (scripts/start_dockerd.sh) and build the sandbox images offline
#      (scripts/build_sandbox_image.sh, and with --cpp the C++ one): sandbox and code-reward tests
#      use the real thing,
#   3. install shellcheck (tests/presets/test_launch.py lints the launch scripts with it),
#   4. check that a wheel install runs (scripts/check_wheel.sh, about a minute),
#   5. run pytest (extra arguments are passed on, e.g. `bash scripts/test.sh -m "not slow"`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh --test --vllm
bash scripts/start_dockerd.sh
bash scripts/build_sandbox_image.sh
bash scripts/build_sandbox_image.sh --cpp
if ! command -v shellcheck >/dev/null; then
    echo "test: installing shellcheck with apt-get"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
fi
bash scripts/check_wheel.sh
# Docker tests must fail, not skip, when the daemon or image is broken.
export SRPO_REQUIRE_DOCKER=1
exec "${SRPO_VENV:-.venv}/bin/python" -m pytest "$@"
