#!/usr/bin/env bash
# Train on ONE node: verl starts its own local Ray cluster. For stage-2 presets (code rewards) the
# sandbox is prepared first and sized from this node's CPU count.
#
#   single_node.sh --preset NAME [--dry-run] [--no-sandbox] [-- HYDRA_OVERRIDES...]
#   e.g. single_node.sh --preset 7b_8gpu_stage1 -- actor_rollout_ref.model.path=/models/Qwen2.5-7B \
#            data.train_files=[/data/math/train.parquet] data.val_files=[/data/aime24/test.parquet]
#   env: SRPO_SANDBOX_SHARE (share of the cores for code tests, default 0.5),
#        SRPO_REWARD_WORKERS_PER_NODE (4; replaces the preset's reward.num_workers),
#        SRPO_SANDBOX_URLS (comma-separated sandbox servers: code runs there, no sandbox on this node)
set -euo pipefail
# shellcheck source=scripts/launch/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PRESET=""
SANDBOX=1
while [ $# -gt 0 ]; do
    case "$1" in
        --preset) [ $# -ge 2 ] || die "--preset needs a value"; PRESET="$2"; shift ;;
        --dry-run) export SRPO_DRY_RUN=1 ;;
        --no-sandbox) SANDBOX=0 ;;
        --) shift; break ;;
        -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (Hydra overrides go after --)" ;;
    esac
    shift
done
check_preset "$PRESET"
cd "$SRPO_ROOT"

PLAN=()
if [ "$SANDBOX" = 1 ] && preset_needs_sandbox "$PRESET"; then
    [ -n "${SRPO_SANDBOX_URLS:-}" ] || run bash scripts/launch/sandbox_node.sh
    eval "$("$SRPO_PYTHON" scripts/launch/sandbox_plan.py --nnodes 1 --format shell \
        --share "${SRPO_SANDBOX_SHARE:-0.5}" --workers-per-node "${SRPO_REWARD_WORKERS_PER_NODE:-4}")"
    read -r -a PLAN <<<"$SANDBOX_OVERRIDES"
fi
run "$SRPO_PYTHON" -m srpo.main --config-name srpo "+presets=$PRESET" "${PLAN[@]}" "$@"
