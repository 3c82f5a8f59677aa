#!/usr/bin/env bash
# Build the sandbox image (default srpo-sandbox:py3) into the running Docker daemon.
#
# Default: offline from a registry's point of view. debootstrap a minimal Debian bookworm with
# python3 from the Debian mirror apt already uses, bake in an unprivileged user (uid 10001),
# strip docs and apt state, and `docker import` the tree (about 30-60 s).
# With --from-registry BASE (e.g. python:3.11-slim) it instead pulls BASE and adds the user,
# for machines where a registry is reachable.
# With --cpp the image also gets g++ (Debian's packages, same debootstrap) and a precompiled
# bits/stdc++.h built with the flags the sandbox compiles with (CPP_FLAGS below, the same as
# sandbox/supervisor.py's), so a program that includes it compiles in a fraction of the time.
# Default tag then srpo-sandbox:cpp (the plain image stays Python only: smaller, faster to build).
# Both images get the fork server's C loop, sandbox/forkhelper.c compiled to HELPER below: for
# --cpp with the image's own gcc; otherwise with gcc in a build stage (a second debootstrap of the
# same suite, run beside the image's, so the library links against the image's own libc; it is
# thrown away). --from-registry images get it only with --cpp (the others build without network);
# without it the fork server runs its slower Python loop and the host logs a warning.
#
#   build_sandbox_image.sh [--force] [--cpp] [--image NAME:TAG] [--from-registry BASE]
#   env: SRPO_SANDBOX_IMAGE (image), SRPO_DEBIAN_MIRROR (mirror), SRPO_DEBIAN_SUITE (suite)
set -euo pipefail

IMAGE="${SRPO_SANDBOX_IMAGE:-}"
SUITE="${SRPO_DEBIAN_SUITE:-bookworm}"
MIRROR="${SRPO_DEBIAN_MIRROR:-}"
FORCE=0
BASE=""
SANDBOX_UID=10001
CPP=0
CPP_FLAGS="-std=gnu++17 -O2"  # keep equal to CPP_FLAGS in sandbox/supervisor.py (a PCH needs the same flags)
HELPER=/usr/local/lib/srpo/forkhelper.so  # keep equal to HELPER in sandbox/forkserver.py
HELPER_SRC="$(cd "$(dirname "$0")/.." && pwd)/sandbox/forkhelper.c"
HELPER_CC="gcc -O2 -Wall -shared -fPIC"

while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1 ;;
        --cpp) CPP=1 ;;
        --image) IMAGE="$2"; shift ;;
        --from-registry) BASE="$2"; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "build_sandbox_image: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$IMAGE" ]; then
    if [ "$CPP" = 1 ]; then IMAGE=srpo-sandbox:cpp; else IMAGE=srpo-sandbox:py3; fi
fi

if ! docker info >/dev/null 2>&1; then
    echo "build_sandbox_image: no Docker daemon answers; run scripts/start_dockerd.sh first" >&2
    exit 1
fi
if [ "$FORCE" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "build_sandbox_image: $IMAGE already exists (use --force to rebuild)"
    exit 0
fi

LABEL_CHANGES=(--change "USER ${SANDBOX_UID}:${SANDBOX_UID}" --change "WORKDIR /tmp"
               --change "ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1"
               --change "LABEL srpo.sandbox.image=1")

if [ -n "$BASE" ]; then
    echo "build_sandbox_image: pulling $BASE"
    docker pull "$BASE"
    INSTALL_CPP=""
    NETWORK=(--network none)
    if [ "$CPP" = 1 ]; then  # the base's apt needs the network for this one step
        NETWORK=()
        INSTALL_CPP="apt-get update && apt-get install -y --no-install-recommends g++ && rm -rf /var/lib/apt/lists/* \
            && H=\$(ls /usr/include/*/c++/*/bits/stdc++.h | head -n1) && g++ $CPP_FLAGS -x c++-header \$H -o \$H.gch \
            && mkdir -p $(dirname $HELPER) && $HELPER_CC -o $HELPER /tmp/forkhelper.c && rm /tmp/forkhelper.c &&"
    else
        echo "build_sandbox_image: no C fork loop in this image (--from-registry without --cpp has no compiler);" \
             "the fork server will run its Python loop" >&2
    fi
    CID=$(docker create "${NETWORK[@]}" --user 0 "$BASE" sh -c \
        "$INSTALL_CPP groupadd -g $SANDBOX_UID sandbox && useradd -u $SANDBOX_UID -g $SANDBOX_UID -M -d /nonexistent -s /usr/sbin/nologin sandbox \
         && (find / -xdev -perm /6000 -type f -exec chmod ug-s {} + || true) && mkdir -p /work && chmod 1777 /work")
    trap 'docker rm -f "$CID" >/dev/null 2>&1 || true' EXIT
    [ "$CPP" = 0 ] || docker cp "$HELPER_SRC" "$CID:/tmp/forkhelper.c"
    docker start -a "$CID"
    docker commit "${LABEL_CHANGES[@]}" "$CID" "$IMAGE" >/dev/null
    echo "build_sandbox_image: built $IMAGE from $BASE"
    exit 0
fi

if [ -z "$MIRROR" ]; then
    # The first Debian mirror apt is configured with (deb822 or one-line format).
    MIRROR=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
             | grep -v security | head -n1 | sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//') || true
    MIRROR="${MIRROR:-http://deb.debian.org/debian}"
fi
command -v debootstrap >/dev/null || { echo "build_sandbox_image: debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "build_sandbox_image: debootstrap needs root" >&2; exit 1; }

WORK=$(mktemp -d /tmp/srpo-sandbox-rootfs.XXXXXX)
STAGE_PID=""
trap '{ [ -z "$STAGE_PID" ] || { kill "$STAGE_PID"; wait "$STAGE_PID"; }; } 2>/dev/null || true; rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"
INCLUDE=python3
STAGE="$ROOTFS"  # where the C loop is compiled: the image itself when it has a compiler
if [ "$CPP" = 1 ]; then
    INCLUDE=python3,g++
else
    STAGE="$WORK/stage"
    echo "build_sandbox_image: debootstrap a build stage (gcc) into $STAGE"
    debootstrap --variant=minbase --include=gcc,libc6-dev "$SUITE" "$STAGE" "$MIRROR" >"$WORK/stage.log" 2>&1 &
    STAGE_PID=$!
fi
echo "build_sandbox_image: debootstrap $SUITE from $MIRROR into $ROOTFS"
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 30 "$WORK/debootstrap.log" >&2; exit 1; }
if [ -n "$STAGE_PID" ]; then
    wait "$STAGE_PID" || { STAGE_PID=""; tail -n 30 "$WORK/stage.log" >&2; exit 1; }
    STAGE_PID=""
fi
echo "build_sandbox_image: compiling the fork server's C loop into $HELPER"
mkdir -p "$STAGE/tmp/forkhelper"
cp "$HELPER_SRC" "$STAGE/tmp/forkhelper/forkhelper.c"
chroot "$STAGE" $HELPER_CC -o /tmp/forkhelper/forkhelper.so /tmp/forkhelper/forkhelper.c
install -D -m 0644 "$STAGE/tmp/forkhelper/forkhelper.so" "$ROOTFS$HELPER"
if [ "$CPP" = 1 ]; then
    # GCC looks for bits/stdc++.h.gch beside the header and uses it when the flags match.
    HEADER=$(cd "$ROOTFS" && ls usr/include/*/c++/*/bits/stdc++.h | head -n1)
    echo "build_sandbox_image: precompiling /$HEADER ($CPP_FLAGS)"
    chroot "$ROOTFS" g++ $CPP_FLAGS -x c++-header "/$HEADER" -o "/$HEADER.gch"
fi

chroot "$ROOTFS" groupadd -g "$SANDBOX_UID" sandbox
chroot "$ROOTFS" useradd -u "$SANDBOX_UID" -g "$SANDBOX_UID" -M -d /nonexistent -s /usr/sbin/nologin sandbox
# Nothing in the image needs to be setuid: remove the bits so no escalation path exists.
find "$ROOTFS" -xdev -perm /6000 -type f -exec chmod ug-s {} + 2>/dev/null || true
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/usr/share/doc/* \
       "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/locale/* "$ROOTFS"/var/log/* "$ROOTFS"/tmp/*
mkdir -p "$ROOTFS/work"
chmod 1777 "$ROOTFS/tmp" "$ROOTFS/work"

tar -C "$ROOTFS" --numeric-owner -c . | docker import "${LABEL_CHANGES[@]}" - "$IMAGE" >/dev/null
echo "build_sandbox_image: built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes) with $(docker run --rm --network none "$IMAGE" python3 -V)"
[ "$CPP" = 0 ] || echo "build_sandbox_image: $(docker run --rm --network none "$IMAGE" g++ --version | head -n1)"
