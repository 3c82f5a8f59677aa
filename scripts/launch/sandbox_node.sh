#!/usr/bin/env bash
# Prepare the code sandbox on THIS node: one Docker daemon, the sandbox image (built once per node,
# under a lock, so concurrent callers on a node build it once), stale containers from an earlier
# run removed, and an end-to-end check. Run it on every GPU node before `ray start` (the Ray and
# SLURM launchers do). The warm container pools themselves are started by the reward workers.
#
#   sandbox_node.sh [--dry-run] [--image NAME:TAG] [--skip-check]
#   env: SRPO_SANDBOX_IMAGE, DOCKER_HOST (a rootless daemon's socket, when dockerd cannot run as root)
set -euo pipefail
# shellcheck source=scripts/launch/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

IMAGE="${SRPO_SANDBOX_IMAGE:-srpo-sandbox:py3}"
CHECK=1
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) export SRPO_DRY_RUN=1 ;;
        --image) [ $# -ge 2 ] || die "--image needs a value"; IMAGE="$2"; shift ;;
        --skip-check) CHECK=0 ;;
        -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
    shift
done

cd "$SRPO_ROOT"
echo "sandbox_node: $(hostname) image=$IMAGE"
if [ "${SRPO_DRY_RUN:-0}" = 1 ] || ! docker info >/dev/null 2>&1; then
    run bash scripts/start_dockerd.sh
fi
LOCK="${TMPDIR:-/tmp}/srpo-sandbox-image.lock"
run flock "$LOCK" bash scripts/build_sandbox_image.sh --image "$IMAGE"
run "$SRPO_PYTHON" -m sandbox --image "$IMAGE" reap
if [ "$CHECK" = 1 ]; then
    run "$SRPO_PYTHON" -m sandbox --image "$IMAGE" check
fi
