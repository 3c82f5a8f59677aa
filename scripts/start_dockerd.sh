#!/usr/bin/env bash
# Start a Docker daemon for the sandbox if none answers yet (idempotent; CI runs it as root).
#
# The daemon runs without iptables and without the default bridge: sandbox containers use
# --network none, and many CI machines cannot program iptables.
#   SRPO_DOCKER_ROOT   data root      (default /var/lib/srpo-docker)
#   SRPO_DOCKER_LOG    daemon log     (default /var/log/srpo-dockerd.log)
#   SRPO_DOCKER_WAIT_S start timeout  (default 60)
set -euo pipefail

ROOT="${SRPO_DOCKER_ROOT:-/var/lib/srpo-docker}"
LOG="${SRPO_DOCKER_LOG:-/var/log/srpo-dockerd.log}"
WAIT_S="${SRPO_DOCKER_WAIT_S:-60}"

if docker info >/dev/null 2>&1; then
    echo "start_dockerd: a Docker daemon already answers; nothing to do"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    echo "start_dockerd: installing docker.io and debootstrap with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi

if [ "$(id -u)" != 0 ]; then
    echo "start_dockerd: dockerd must be started as root (run with sudo)" >&2
    exit 1
fi

mkdir -p "$ROOT" "$(dirname "$LOG")"
echo "start_dockerd: starting dockerd (data root $ROOT, log $LOG)"
nohup dockerd --iptables=false --bridge=none --data-root "$ROOT" >>"$LOG" 2>&1 </dev/null &
PID=$!

for _ in $(seq 1 "$((WAIT_S * 2))"); do
    if docker info >/dev/null 2>&1; then
        echo "start_dockerd: dockerd (pid $PID) is up"
        exit 0
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "start_dockerd: dockerd exited during start; last lines of $LOG:" >&2
        tail -n 20 "$LOG" >&2
        exit 1
    fi
    sleep 0.5
done
echo "start_dockerd: dockerd did not answer within ${WAIT_S}s; last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2
exit 1
