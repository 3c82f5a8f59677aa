#!/usr/bin/env bash
# A Ray cluster over several GPU nodes, then the training run on its head.
#
#   ray_cluster.sh head   [--dry-run] [--gpus N] [--no-sandbox] [--block]   # on the head node
#   ray_cluster.sh worker [--dry-run] --address HEAD_IP[:PORT] [--gpus N] [--no-sandbox] [--block]
#   ray_cluster.sh submit [--dry-run] --preset NAME --nnodes N [--gpus N] [--wait-s S] [-- OVERRIDES...]
#   ray_cluster.sh stop   [--dry-run]
#
# `head` and `worker` prepare the node's sandbox (scripts/launch/sandbox_node.sh) and start Ray with
# SRPO_REWARD_WORKERS in its environment. `submit` runs on the head: it waits until N nodes with
# their GPUs joined, then runs srpo.main against the cluster (RAY_ADDRESS) with trainer.nnodes,
# trainer.n_gpus_per_node and the sandbox sizing of scripts/launch/sandbox_plan.py.
# env: SRPO_RAY_PORT (6379), SRPO_SANDBOX_SHARE (0.5), SRPO_REWARD_WORKERS_PER_NODE (4),
#      SRPO_SANDBOX_URLS (comma-separated sandbox servers: code runs there, no sandbox on the GPU nodes)
set -euo pipefail
# shellcheck source=scripts/launch/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -ge 1 ] || die "usage: ray_cluster.sh head|worker|submit|stop [options] (see --help)"
ROLE="$1"
shift
case "$ROLE" in
    head | worker | submit | stop) ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) die "unknown role '$ROLE' (head, worker, submit or stop)" ;;
esac

GPUS="${SRPO_GPUS_PER_NODE:-8}"
ADDRESS=""
PRESET=""
NNODES=""
WAIT_S=600
SANDBOX=1
BLOCK=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) export SRPO_DRY_RUN=1 ;;
        --gpus) [ $# -ge 2 ] || die "--gpus needs a value"; GPUS="$2"; shift ;;
        --address) [ $# -ge 2 ] || die "--address needs a value"; ADDRESS="$2"; shift ;;
        --preset) [ $# -ge 2 ] || die "--preset needs a value"; PRESET="$2"; shift ;;
        --nnodes) [ $# -ge 2 ] || die "--nnodes needs a value"; NNODES="$2"; shift ;;
        --wait-s) [ $# -ge 2 ] || die "--wait-s needs a value"; WAIT_S="$2"; shift ;;
        --no-sandbox) SANDBOX=0 ;;
        --block) BLOCK=(--block) ;;
        --) shift; break ;;
        -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (Hydra overrides go after --)" ;;
    esac
    shift
done
need_int --gpus "$GPUS"
cd "$SRPO_ROOT"

plan() {  # plan NNODES: sandbox sizing from this node's CPU count (sets SANDBOX_OVERRIDES, exports env)
    eval "$("$SRPO_PYTHON" scripts/launch/sandbox_plan.py --nnodes "$1" --format shell \
        --share "${SRPO_SANDBOX_SHARE:-0.5}" --workers-per-node "${SRPO_REWARD_WORKERS_PER_NODE:-4}")"
}

prepare_node() {
    if [ "$SANDBOX" = 1 ] && [ -z "${SRPO_SANDBOX_URLS:-}" ]; then
        run bash scripts/launch/sandbox_node.sh
    fi
    # Ray's processes inherit this environment: the reward workers on this node size their
    # math-verifier pools from it (SRPO_REWARD_WORKERS).
    plan 1
    echo "ray_cluster: SRPO_REWARD_WORKERS=$SRPO_REWARD_WORKERS on $(hostname)"
}

case "$ROLE" in
    head)
        prepare_node
        run ray start --head --port="$SRPO_RAY_PORT" --num-gpus="$GPUS" --dashboard-host=0.0.0.0 "${BLOCK[@]}"
        ;;
    worker)
        [ -n "$ADDRESS" ] || die "worker needs --address HEAD_IP[:PORT]"
        case "$ADDRESS" in *:*) ;; *) ADDRESS="$ADDRESS:$SRPO_RAY_PORT" ;; esac
        prepare_node
        run ray start --address="$ADDRESS" --num-gpus="$GPUS" "${BLOCK[@]}"
        ;;
    stop)
        run ray stop
        ;;
    submit)
        check_preset "$PRESET"
        need_int --nnodes "$NNODES"
        need_int --wait-s "$WAIT_S"
        export RAY_ADDRESS="${RAY_ADDRESS:-auto}"
        # Wait for every node: verl sizes its resource pools from trainer.nnodes x n_gpus_per_node
        # and would otherwise wait for GPUs that are not there yet.
        run "$SRPO_PYTHON" - "$NNODES" "$GPUS" "$WAIT_S" <<'PY'
import sys, time
import ray
nnodes, gpus, wait_s = (int(a) for a in sys.argv[1:4])
ray.init(address="auto", logging_level="ERROR")
deadline = time.time() + wait_s
while True:
    nodes = [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU", 0) >= gpus]
    if len(nodes) >= nnodes:
        print(f"ray_cluster: {len(nodes)} nodes with {gpus} GPUs each joined")
        break
    if time.time() > deadline:
        sys.exit(f"ray_cluster: only {len(nodes)} of {nnodes} nodes with {gpus} GPUs joined in {wait_s}s")
    time.sleep(5)
PY
        PLAN=()
        if preset_needs_sandbox "$PRESET"; then
            plan "$NNODES"  # pool sizes from the head's CPU count: nodes are assumed alike
            read -r -a PLAN <<<"$SANDBOX_OVERRIDES"
        fi
        run "$SRPO_PYTHON" -m srpo.main --config-name srpo "+presets=$PRESET" \
            "trainer.nnodes=$NNODES" "trainer.n_gpus_per_node=$GPUS" "${PLAN[@]}" "$@"
        ;;
esac
