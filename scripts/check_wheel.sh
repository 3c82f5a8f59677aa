#!/usr/bin/env bash
# A wheel install works the way a user adds srpo to an existing verl environment (`pip install srpo`,
# not editable): build the wheel, install it without dependencies into a fresh environment that
# reuses the packages of .venv (verl, torch, vLLM), and, from a folder outside the repository,
#   - compose the default run (`python -m srpo.main --cfg job`: configs shipped in the wheel),
#   - compose the eval config and print `python -m srpo.eval --help`,
#   - check that verl's own entry point finds the plug-in (estimator, trainer mode) as README shows.
# Takes about a minute on 2 cores (no training). Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

REPO="$(pwd)"
PY="$(cd "${SRPO_VENV:-.venv}" && pwd)/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" . >/dev/null
"$PY" -m venv --without-pip "$work/env"
ENV_PY="$work/env/bin/python"
purelib='import sysconfig; print(sysconfig.get_path("purelib"))'
# A plain path line: .venv's packages become importable, but its .pth hooks (the editable srpo) do not run.
"$PY" -c "$purelib" >"$("$ENV_PY" -c "$purelib")/srpo-check-base.pth"
"$PY" -m pip --python "$ENV_PY" install -q --no-deps "$work"/dist/srpo-*.whl

mkdir "$work/elsewhere"
cd "$work/elsewhere"
# Each check prints its own verdict on stdout; third-party warnings on stderr are shown only on failure.
run() {
    local err="$work/stderr"
    env -u PYTHONPATH "$ENV_PY" "$@" 2>"$err" || { cat "$err" >&2; return 1; }
}

run - "$REPO" <<'PY'
import sys
from pathlib import Path

import srpo
from srpo.data.templates import available_templates
from srpo.paths import config_dir

repo = Path(sys.argv[1])
assert repo not in Path(srpo.__file__).resolve().parents, f"srpo imported from the checkout: {srpo.__file__}"
assert config_dir() == Path(srpo.__file__).resolve().parent / "configs", config_dir()
assert "math_boxed" in available_templates(), available_templates()
print(f"check_wheel: srpo from {Path(srpo.__file__).parent}, configs in {config_dir()}")
PY

job="$(run -m srpo.main --cfg job)"
grep -q "adv_estimator: srpo" <<<"$job" || { echo "$job"; echo "check_wheel: no srpo estimator in the composed job" >&2; exit 1; }
grep -q "trainer_mode: srpo" <<<"$job" || { echo "$job"; echo "check_wheel: no srpo trainer mode in the composed job" >&2; exit 1; }
echo "check_wheel: python -m srpo.main --cfg job composes the default ($(wc -l <<<"$job") lines)"

run -m srpo.eval --help >/dev/null
run -c 'from srpo.eval import load_eval_config; c = load_eval_config("embedded", []); print(f"check_wheel: eval config composes (eval.ks={list(c.eval.ks)})")'

run - <<'PY'
import verl  # noqa: F401  (loads the verl.plugins entry points, as `python -m verl.trainer.main_ppo` does)
from verl.trainer.ppo.core_algos import get_adv_estimator_fn
from verl.trainer.ppo.v1.trainer_base import get_trainer_cls

from srpo.algorithm.advantage import compute_srpo_outcome_advantage

assert get_adv_estimator_fn("srpo") is compute_srpo_outcome_advantage
print(f"check_wheel: verl's registries hold algorithm.adv_estimator=srpo and trainer_mode=srpo ({get_trainer_cls('srpo').__name__})")
PY
