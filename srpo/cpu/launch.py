"""Run verl's own trainer (``python -m verl.trainer.main_ppo``) on CPU and measure it.

Usage (a GRPO smoke run on a tiny model; every extra ``key=value`` is passed to verl's Hydra config)::

    python -m srpo.cpu.launch --model MODEL_DIR --train train.parquet --val val.parquet \\
        --reward-path my_reward.py --steps 2 --out runs/cpu_smoke -- algorithm.adv_estimator=srpo

It prints one JSON line (return code, wall time, peak memory, metrics file) and exits with verl's
return code. Every process the run started is killed when it ends, and only those: it never calls
``ray stop`` (that would also stop other people's Ray clusters on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from srpo.cpu.memory import MemoryPeak, TreeMemorySampler
from srpo.cpu.overrides import COMPUTE_DTYPES, CPUSettings, cpu_env, cpu_overrides


@dataclass(frozen=True)
class TinyRun:
    """The run-specific part of a smoke run: model, data, reward, sizes, output."""

    model: str
    train_files: str
    val_files: str
    out_dir: str
    reward_path: str | None = None
    reward_name: str = "compute_score"
    steps: int = 2
    train_batch_size: int = 8
    rollout_n: int = 4
    max_prompt_length: int = 64
    max_response_length: int = 32
    save_freq: int = -1
    adv_estimator: str = "grpo"

    def overrides(self) -> list[str]:
        """Overrides for verl's ``ppo_trainer`` config describing this run (GRPO-style, no critic)."""
        for name in ("model", "train_files", "val_files"):
            if not Path(getattr(self, name)).exists():
                raise FileNotFoundError(f"TinyRun.{name}: {getattr(self, name)} does not exist")
        actor = "actor_rollout_ref.actor"
        # absolute paths: verl runs in out_dir (see run_trainer)
        model, train, val = (Path(p).resolve() for p in (self.model, self.train_files, self.val_files))
        out = [
            f"algorithm.adv_estimator={self.adv_estimator}",
            "algorithm.use_kl_in_reward=false",
            f"actor_rollout_ref.model.path={model}",
            f"data.train_files={train}",
            f"data.val_files={val}",
            f"data.train_batch_size={self.train_batch_size}",
            f"data.max_prompt_length={self.max_prompt_length}",
            f"data.max_response_length={self.max_response_length}",
            f"actor_rollout_ref.rollout.n={self.rollout_n}",
            f"{actor}.ppo_mini_batch_size={self.train_batch_size}",
            f"{actor}.ppo_micro_batch_size_per_gpu={self.train_batch_size * self.rollout_n}",
            "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu="
            f"{self.train_batch_size * self.rollout_n}",
            f"{actor}.use_kl_loss=false",
            f"{actor}.optim.lr=1e-3",
            f"trainer.total_training_steps={self.steps}",
            f"trainer.save_freq={self.save_freq}",
            "trainer.test_freq=-1",
            "trainer.val_before_train=false",
            "trainer.logger=[console,file]",
            "trainer.project_name=srpo_cpu",
            "trainer.experiment_name=smoke",
            f"trainer.default_local_dir={Path(self.out_dir, 'checkpoints').resolve()}",
        ]
        if self.reward_path:
            # verl also takes module paths (``pkg://reward_fns.dispatch``); only files are resolved
            path = self.reward_path if "://" in self.reward_path else Path(self.reward_path).resolve()
            out += [
                f"reward.custom_reward_function.path={path}",
                f"reward.custom_reward_function.name={self.reward_name}",
            ]
        return out


@dataclass
class RunReport:
    """What a launched run did: exit status, timings, peak memory, where its outputs are."""

    returncode: int
    wall_s: float
    peak_pss_gb: float
    peak_rss_gb: float
    peak_system_used_gb: float
    max_processes: int
    metrics_path: str
    log_path: str
    leftovers_killed: int


def trainer_command(overrides: Sequence[str]) -> list[str]:
    """The exact command line: verl's own entry point with our overrides."""
    return [sys.executable, "-m", "verl.trainer.main_ppo", *overrides]


def _kill_leftovers(peak: MemoryPeak) -> int:
    """SIGKILL every process the run started that is still alive (matched by pid and start time)."""
    killed = 0
    for pid, created in peak.processes:
        try:
            proc = psutil.Process(pid)
            if proc.create_time() != created:
                continue  # pid reused by someone else
            proc.kill()
            killed += 1
        except psutil.Error:
            continue
    return killed


def run_trainer(
    overrides: Sequence[str],
    out_dir: str | os.PathLike[str],
    timeout_s: float = 1200.0,
    env: dict[str, str] | None = None,
) -> RunReport:
    """Run verl's trainer with ``overrides`` on CPU; log and metrics go under ``out_dir``."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "trainer.log"
    metrics_path = out / "metrics.jsonl"
    run_env = cpu_env(env)
    run_env["VERL_FILE_LOGGER_PATH"] = str(metrics_path.resolve())
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            trainer_command(overrides),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=run_env,
            cwd=out,  # Hydra writes its outputs/ folder into the working directory
            start_new_session=True,  # one process group to signal, apart from our own
        )
        sampler = TreeMemorySampler(proc.pid).start()
        try:
            returncode = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            returncode = proc.wait()
        except BaseException:  # interrupted: take the whole run down before propagating
            os.killpg(proc.pid, signal.SIGKILL)
            _kill_leftovers(sampler.stop())
            raise
        peak = sampler.stop()
    wall_s = time.monotonic() - start
    killed = _kill_leftovers(peak)
    gb = 1024**3
    return RunReport(
        returncode=returncode,
        wall_s=round(wall_s, 1),
        peak_pss_gb=round(peak.pss_bytes / gb, 2),
        peak_rss_gb=round(peak.rss_bytes / gb, 2),
        peak_system_used_gb=round(peak.system_used_bytes / gb, 2),
        max_processes=peak.max_processes,
        metrics_path=str(metrics_path),
        log_path=str(log_path),
        leftovers_killed=killed,
    )


def read_metrics(path: str | os.PathLike[str]) -> list[dict]:
    """The per-step metric dicts verl's file logger wrote (one JSON object per line)."""
    rows = []
    with open(path) as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def _parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="HF model directory (Qwen2 architecture)")
    parser.add_argument("--train", required=True, help="verl-format train parquet")
    parser.add_argument("--val", required=True, help="verl-format validation parquet")
    parser.add_argument("--out", required=True, help="output directory (log, metrics, checkpoints)")
    parser.add_argument("--reward-path", default=None, help="file defining the reward function")
    parser.add_argument("--reward-name", default="compute_score")
    parser.add_argument("--adv-estimator", default="grpo", help="grpo, or srpo once srpo is installed")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8, help="prompts per step")
    parser.add_argument("--n", type=int, default=4, help="rollouts per prompt")
    parser.add_argument("--save-freq", type=int, default=-1)
    parser.add_argument("--n-procs", type=int, default=CPUSettings.n_procs, help="FSDP ranks")
    parser.add_argument("--kv-cache-mb", type=int, default=CPUSettings.kv_cache_bytes // 2**20)
    parser.add_argument("--object-store-mb", type=int, default=CPUSettings.object_store_bytes // 2**20)
    parser.add_argument(
        "--compute-dtype",
        choices=COMPUTE_DTYPES,
        default=CPUSettings.compute_dtype,
        help="FSDP compute dtype; auto = bf16 only on CPUs with native bf16",
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds before the run is killed")
    args, extra = parser.parse_known_args(argv)
    return args, [x for x in extra if x != "--"]


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = _parse_args(argv)
    settings = CPUSettings(
        n_procs=args.n_procs,
        kv_cache_bytes=args.kv_cache_mb * 2**20,
        object_store_bytes=args.object_store_mb * 2**20,
        compute_dtype=args.compute_dtype,
    )
    run = TinyRun(
        model=args.model,
        train_files=args.train,
        val_files=args.val,
        out_dir=args.out,
        reward_path=args.reward_path,
        reward_name=args.reward_name,
        steps=args.steps,
        train_batch_size=args.batch,
        rollout_n=args.n,
        save_freq=args.save_freq,
        adv_estimator=args.adv_estimator,
    )
    overrides = [*cpu_overrides(settings), *run.overrides(), *extra]
    report = run_trainer(overrides, args.out, timeout_s=args.timeout)
    print(json.dumps({**asdict(report), "command": " ".join(trainer_command(overrides))}))
    return report.returncode


if __name__ == "__main__":
    raise SystemExit(main())
