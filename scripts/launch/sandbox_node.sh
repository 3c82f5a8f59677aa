#!/usr/bin/env bash
# Prepare the code sandbox on THIS node: one Docker daemon, the sandbox image (built once per node,
# under a lock, so concurrent callers on a node build it once), stale containers from an earlier
# run removed, and an end-to-end check. Run it on every GPU node before `ray start` (the Ray and
# SLURM launchers do). The warm container pools themselves are started by the reward workers.
# With --serve the node then becomes a sandbox server node: it runs SERVERS sandbox services
# (`python -m sandbox serve`, ports PORT, PORT+1, ...) in the foreground until stopped, sharing
# the node's CPUs between their pools (SRPO_NODE_CPUS, else SLURM's grant, else nproc, minus one
# core per server for its HTTP side); trainers reach them through code.sandbox.urls.
#
#   sandbox_node.sh [--dry-run] [--image NAME:TAG] [--skip-check]
#   sandbox_node.sh --serve [--host 0.0.0.0] [--port 8080] [--servers N] [--pool-size N] [--fail-fast]
#   env: SRPO_SANDBOX_IMAGE, DOCKER_HOST (a rootless daemon's socket, when dockerd cannot run as root)
set -euo pipefail
# shellcheck source=scripts/launch/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

IMAGE="${SRPO_SANDBOX_IMAGE:-srpo-sandbox:py3}"
CHECK=1
SERVE=0
HOST=0.0.0.0
PORT=8080
SERVERS=1
POOL=""
SERVE_FLAGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) export SRPO_DRY_RUN=1 ;;
        --image) [ $# -ge 2 ] || die "--image needs a value"; IMAGE="$2"; shift ;;
        --skip-check) CHECK=0 ;;
        --serve) SERVE=1 ;;
        --host) [ $# -ge 2 ] || die "--host needs a value"; HOST="$2"; shift ;;
        --port) [ $# -ge 2 ] || die "--port needs a value"; PORT="$2"; shift ;;
        --servers) [ $# -ge 2 ] || die "--servers needs a value"; SERVERS="$2"; shift ;;
        --pool-size) [ $# -ge 2 ] || die "--pool-size needs a value"; POOL="$2"; shift ;;
        --fail-fast) SERVE_FLAGS+=(--fail-fast) ;;
        -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
    shift
done
need_int --port "$PORT"
need_int --servers "$SERVERS"

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
[ "$SERVE" = 1 ] || exit 0

if [ -z "$POOL" ]; then
    CPUS="${SRPO_NODE_CPUS:-${SLURM_CPUS_ON_NODE:-$(nproc)}}"
    need_int "the node's CPU count" "$CPUS"
    POOL=$(((CPUS - SERVERS) / SERVERS))
    [ "$POOL" -ge 1 ] || POOL=1
fi
need_int --pool-size "$POOL"
# Stop every server when this script is stopped (SLURM sends SIGTERM at the end of a job); each
# drains: it refuses new runs and finishes the queued ones.
trap 'jobs -p | xargs -r kill -TERM 2>/dev/null || true' TERM INT
for ((i = 0; i < SERVERS; i++)); do
    run_bg "$SRPO_PYTHON" -m sandbox --image "$IMAGE" serve --host "$HOST" --port "$((PORT + i))" \
        --pool-size "$POOL" "${SERVE_FLAGS[@]}"
done
echo "sandbox_node: $SERVERS server(s) x $POOL containers on ports $PORT..$((PORT + SERVERS - 1))"
# A signal interrupts the first wait; the second waits for the servers to drain.
[ "${SRPO_DRY_RUN:-0}" = 1 ] || wait || wait
