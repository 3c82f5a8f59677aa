#!/usr/bin/env bash
# Helpers shared by the launch scripts (sourced, not run).
#   SRPO_DRY_RUN=1  print every command instead of running it (the scripts' --dry-run sets it)

SRPO_ROOT="${SRPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SRPO_PYTHON="${SRPO_PYTHON:-python}"
SRPO_RAY_PORT="${SRPO_RAY_PORT:-6379}"

die() {
    echo "$(basename "$0"): $*" >&2
    exit 2
}

# Print a command, shell-quoted, then run it (or only print it in a dry run).
run() {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    if [ "${SRPO_DRY_RUN:-0}" != 1 ]; then
        "$@"
    fi
}

# Print and run a command in the background (dry run: print only).
run_bg() {
    printf '+ (background)'
    printf ' %q' "$@"
    printf '\n'
    if [ "${SRPO_DRY_RUN:-0}" != 1 ]; then
        "$@" &
    fi
}

need_int() {  # need_int NAME VALUE: VALUE is a positive integer
    case "$2" in
        '' | *[!0-9]* | 0) die "$1 must be a positive integer, got '$2'" ;;
    esac
}

# The stage of a preset name (..._stage1 / ..._stage2); code rewards need the sandbox in stage 2.
preset_needs_sandbox() {
    case "$1" in
        *stage1) return 1 ;;
        *) return 0 ;;
    esac
}

# The preset's file must exist: a typo should fail here, not after Ray started.
check_preset() {
    [ -n "$1" ] || die "--preset NAME is required (one of: $(list_presets))"
    [ -f "$SRPO_ROOT/configs/presets/$1.yaml" ] || die "no preset '$1' (one of: $(list_presets))"
}

list_presets() {
    local f names=()
    for f in "$SRPO_ROOT"/configs/presets/*.yaml; do
        names+=("$(basename "$f" .yaml)")
    done
    echo "${names[*]}"
}
