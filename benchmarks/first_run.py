"""Time the README's first command on a fresh clone, phase by phase, with the run's peak memory.

    python -m benchmarks.first_run                 # clone HEAD into a temporary folder and time it
    python -m benchmarks.first_run --keep DIR      # ... in DIR, kept afterwards

The phases are those of ``scripts/quickstart.sh``, run one by one so each gets its own time:
install into a new ``.venv`` (``scripts/install.sh --vllm``), the Docker daemon, the sandbox image
(rebuilt under another tag, so an image already on the machine is not reused), then
``python -m srpo.main`` with an empty model cache (``SRPO_CACHE_DIR``), so the base model is set up
as on a fresh machine. The run's peak memory is the summed PSS of its process tree (Ray, FSDP and
vLLM workers included), sampled every second. Package downloads use this machine's pip
configuration (its local wheel mirrors), as a fresh machine of the same kind would.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import REPO, run_measured, table, write_json
from srpo.tools.report import load_metrics

IMAGE = "srpo-sandbox:firstrun"


def timed(cmd: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run ``cmd``, appending its output to ``log``; return (seconds, peak tree PSS in bytes)."""
    print(f"first_run: {' '.join(cmd)}", flush=True)
    got = run_measured(cmd, cwd, log, env)
    if got.returncode != 0:
        raise SystemExit(f"first_run: {' '.join(cmd)} exited {got.returncode}; see {log}")
    print(f"first_run:   {got.wall_s:.0f} s", flush=True)
    return got.wall_s, got.peak.pss_bytes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keep", type=Path, default=None, help="clone into this folder and keep it")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "first_run.json")
    args = p.parse_args(argv)

    root = args.keep or Path(tempfile.mkdtemp(prefix="srpo-first-run-"))
    clone = root / "srpo"
    log = root / "first_run.log"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()

    env = dict(os.environ, SRPO_CACHE_DIR=str(root / "cache"))
    phases: dict[str, float] = {}
    phases["install (scripts/install.sh --vllm)"], _ = timed(
        ["bash", "scripts/install.sh", "--vllm"], clone, log
    )
    phases["Docker daemon (scripts/start_dockerd.sh)"], _ = timed(
        ["bash", "scripts/start_dockerd.sh"], clone, log
    )
    phases["sandbox image (scripts/build_sandbox_image.sh)"], _ = timed(
        ["bash", "scripts/build_sandbox_image.sh", "--force", "--image", IMAGE], clone, log
    )
    run_dir = root / "run"
    run_s, peak_pss = timed(
        [str(clone / ".venv" / "bin" / "python"), "-m", "srpo.main", f"output_dir={run_dir}"], clone, log, env
    )
    phases["python -m srpo.main (model set-up, start-up, 40 steps, validations, report)"] = run_s

    metrics = load_metrics(sorted(run_dir.glob("metrics-*.jsonl")))
    step_times = [d["timing_s/step"] for d in metrics.values() if "timing_s/step" in d]
    summary = json.loads((run_dir / "summary.json").read_text())
    result = {
        "commit": commit,
        "phases_s": phases,
        "total_s": sum(phases.values()),
        "run_peak_pss_gb": peak_pss / 1e9,
        "training_steps": len(step_times),
        "steps_s_sum": sum(step_times),
        "step_s_median": statistics.median(step_times) if step_times else None,
        "held_out": summary.get("held_out"),
    }
    write_json(args.out, result)
    rows = [(name, f"{seconds:.0f}") for name, seconds in phases.items()]
    rows.append(("**total**", f"**{result['total_s']:.0f}** ({result['total_s'] / 60:.1f} min)"))
    print("\n".join(table(("phase", "seconds"), rows, align="lr")))
    print(
        f"\nrun: {len(step_times)} steps took {result['steps_s_sum']:.0f} s in all (median "
        f"{result['step_s_median']:.1f} s); peak PSS of the run's process tree {result['run_peak_pss_gb']:.2f} GB"
    )
    for row in result["held_out"] or []:
        print(f"held-out {row['data_source']}: {row['before']:.3f} -> {row['after']:.3f}")
    subprocess.run(["docker", "rmi", "-f", IMAGE], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
