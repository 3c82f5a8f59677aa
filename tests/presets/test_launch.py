"""The launch scripts parse, pass shellcheck, print the right commands in dry-run mode, and size the
sandbox from the CPU count. Nothing here starts Ray, Docker or a training run.

Cost: a few seconds (bash and one small Python process per script call).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCH = REPO / "scripts" / "launch"


def _load_plan_module():
    # By path: a `scripts` package in site-packages (shipped by a dependency) shadows ours.
    spec = importlib.util.spec_from_file_location("srpo_sandbox_plan", LAUNCH / "sandbox_plan.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


_plan = _load_plan_module()
SANDBOX_KEY, plan_sandbox = _plan.SANDBOX_KEY, _plan.plan_sandbox
SCRIPTS = sorted([*LAUNCH.glob("*.sh"), *LAUNCH.glob("*.sbatch")])


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "SRPO_PYTHON": sys.executable, **(env or {})}
    full_env.pop("SLURM_JOB_NODELIST", None)
    return subprocess.run(args, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=60)


def _commands(out: str) -> list[str]:
    return [line[2:] for line in out.splitlines() if line.startswith("+ ")]


# ----------------------------------------------------------------------------- sandbox plan
def test_plan_splits_half_the_cores_between_workers():
    plan = plan_sandbox(nnodes=8, cpus_per_node=192, sandbox_share=0.5, workers_per_node=4)
    assert plan.pool_size == 24 and plan.containers_per_node == 96  # 96 = half of 192 cores
    assert plan.reward_workers == 32
    assert plan.math_workers == 4
    assert f"++{SANDBOX_KEY}.pool_size=24" in plan.overrides()
    assert "reward.num_workers=32" in plan.overrides()


def test_plan_never_goes_below_one_container():
    plan = plan_sandbox(nnodes=1, cpus_per_node=2, sandbox_share=0.25, workers_per_node=4)
    assert plan.pool_size == 1 and plan.math_workers == 1


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"nnodes": 0}, "nnodes"),
        ({"cpus_per_node": 0}, "cpus_per_node"),
        ({"sandbox_share": 1.5}, "sandbox_share"),
        ({"workers_per_node": 0}, "workers_per_node"),
        ({"container_cpus": 0}, "container_cpus"),
    ],
)
def test_plan_rejects_bad_input_naming_it(kwargs: dict, name: str):
    args = {"nnodes": 2, "cpus_per_node": 64, **kwargs}
    with pytest.raises(ValueError, match=name):
        plan_sandbox(**args)


def test_plan_cli_formats_and_errors():
    script = str(LAUNCH / "sandbox_plan.py")
    out = _run([sys.executable, script, "--nnodes", "2", "--cpus", "32", "--format", "json"])
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert (
        plan["pool_size"] == 4 and plan["reward_workers"] == 8 and plan["env"] == {"SRPO_REWARD_WORKERS": "4"}
    )
    shell = _run([sys.executable, script, "--nnodes", "2", "--cpus", "32", "--format", "shell"])
    assert "export SRPO_REWARD_WORKERS=4" in shell.stdout and "SANDBOX_OVERRIDES=" in shell.stdout
    # SRPO_NODE_CPUS stands for this node's CPU count when --cpus is not given
    env_cpus = _run([sys.executable, script, "--nnodes", "1", "--format", "json"], {"SRPO_NODE_CPUS": "80"})
    assert json.loads(env_cpus.stdout)["pool_size"] == 10
    bad = _run([sys.executable, script, "--nnodes", "0"])
    assert bad.returncode == 2 and "nnodes must be >= 1" in bad.stderr


def test_plan_overrides_are_accepted_by_a_stage2_preset():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from reward_fns.config import reward_config_from_kwargs
    from sandbox import SandboxConfig
    from srpo.main import CONFIG_DIR

    plan = plan_sandbox(nnodes=2, cpus_per_node=96)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        cfg = compose(config_name="srpo", overrides=["+presets=7b_8gpu_stage2", *plan.overrides()])
    kwargs = OmegaConf.to_container(cfg.reward.custom_reward_function.reward_kwargs, resolve=True)
    sandbox = SandboxConfig(**dict(reward_config_from_kwargs(kwargs).code.sandbox))
    assert (sandbox.pool_size, sandbox.concurrency) == (plan.pool_size, plan.pool_size)
    assert cfg.reward.num_workers == plan.reward_workers


# ----------------------------------------------------------------------------- scripts
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses(script: Path):
    out = _run(["bash", "-n", str(script)])
    assert out.returncode == 0, out.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_scripts_pass_shellcheck():
    out = _run(["shellcheck", "-x", *[str(s.relative_to(REPO)) for s in SCRIPTS]])
    assert out.returncode == 0, out.stdout


def test_sandbox_node_builds_once_per_node_under_a_lock():
    out = _run(["bash", "scripts/launch/sandbox_node.sh", "--dry-run", "--image", "my-sandbox:1"])
    assert out.returncode == 0, out.stderr
    cmds = _commands(out.stdout)
    assert cmds[0] == "bash scripts/start_dockerd.sh"
    assert cmds[1].startswith("flock ") and cmds[1].endswith(
        "scripts/build_sandbox_image.sh --image my-sandbox:1"
    )
    assert cmds[2:] == [
        f"{sys.executable} -m sandbox --image my-sandbox:1 {verb}" for verb in ("reap", "check")
    ]


def test_single_node_stage2_prepares_sandbox_then_trains():
    out = _run(
        ["bash", "scripts/launch/single_node.sh", "--preset", "7b_8gpu_stage2", "--dry-run", "--", "a.b=1"],
        {"SRPO_NODE_CPUS": "64"},
    )
    assert out.returncode == 0, out.stderr
    cmds = _commands(out.stdout)
    assert cmds[0] == "bash scripts/launch/sandbox_node.sh"
    train = cmds[1]
    assert "-m srpo.main --config-name srpo +presets=7b_8gpu_stage2" in train
    assert "reward.num_workers=4" in train and f"{SANDBOX_KEY}.pool_size=8" in train
    assert train.endswith("a.b=1")


def test_single_node_stage1_needs_no_sandbox():
    out = _run(["bash", "scripts/launch/single_node.sh", "--preset", "small_1gpu_stage1", "--dry-run"])
    assert out.returncode == 0, out.stderr
    cmds = _commands(out.stdout)
    assert len(cmds) == 1 and "+presets=small_1gpu_stage1" in cmds[0] and "sandbox" not in cmds[0]


def test_unknown_preset_is_refused_before_anything_runs():
    out = _run(["bash", "scripts/launch/single_node.sh", "--preset", "7b_stage9", "--dry-run"])
    assert out.returncode == 2 and "no preset '7b_stage9'" in out.stderr and "7b_8gpu_stage1" in out.stderr
    assert _commands(out.stdout) == []


def test_ray_cluster_roles():
    worker = _run(
        [
            "bash",
            "scripts/launch/ray_cluster.sh",
            "worker",
            "--dry-run",
            "--address",
            "10.0.0.1",
            "--gpus",
            "4",
        ],
        {"SRPO_NODE_CPUS": "16"},
    )
    assert worker.returncode == 0, worker.stderr
    assert _commands(worker.stdout) == [
        "bash scripts/launch/sandbox_node.sh",
        "ray start --address=10.0.0.1:6379 --num-gpus=4",
    ]
    assert "SRPO_REWARD_WORKERS=2" in worker.stdout  # 16 cores x 0.5 / 4 workers
    submit = _run(
        ["bash", "scripts/launch/ray_cluster.sh", "submit", "--dry-run", "--preset", "32b_paper_stage2"]
        + ["--nnodes", "4", "--", "trainer.total_epochs=2"],
        {"SRPO_NODE_CPUS": "128"},
    )
    assert submit.returncode == 0, submit.stderr
    train = _commands(submit.stdout)[-1]
    assert "trainer.nnodes=4 trainer.n_gpus_per_node=8 reward.num_workers=16" in train
    assert f"{SANDBOX_KEY}.pool_size=16" in train and train.endswith("trainer.total_epochs=2")
    missing = _run(
        ["bash", "scripts/launch/ray_cluster.sh", "submit", "--dry-run", "--preset", "7b_8gpu_stage1"]
    )
    assert missing.returncode == 2 and "--nnodes must be a positive integer" in missing.stderr


def test_slurm_starts_head_workers_then_trains_on_head():
    out = _run(
        [
            "bash",
            "scripts/launch/slurm.sbatch",
            "32b_paper_stage1",
            "data.train_files=[/d/a.parquet, /d/b.parquet]",
        ],
        {"SRPO_DRY_RUN": "1", "SRPO_NODELIST": "gpu01 gpu02 gpu03"},
    )
    assert out.returncode == 0, out.stderr
    cmds = _commands(out.stdout)
    bg = [c for c in out.stdout.splitlines() if c.startswith("+ (background)")]
    assert len(bg) == 3
    assert "-w gpu01 bash scripts/launch/ray_cluster.sh head --gpus 8 --block --no-sandbox" in bg[0]
    assert all("worker --address gpu01" in c for c in bg[1:])
    assert cmds[-1].startswith("srun --overlap --nodes=1 --ntasks=1 -w gpu01")
    assert "submit --preset 32b_paper_stage1 --nnodes 3 --gpus 8 --" in cmds[-1]
    assert "data.train_files=\\[/d/a.parquet\\,\\ /d/b.parquet\\]" in cmds[-1]  # one shell-quoted argument


def test_slurm_outside_an_allocation_says_so():
    out = _run(["bash", "scripts/launch/slurm.sbatch", "7b_8gpu_stage1"], {"SRPO_DRY_RUN": "1"})
    assert out.returncode == 2 and "no SLURM allocation" in out.stderr


# ----------------------------------------------------------------------------- sandbox servers
def test_sandbox_node_serve_splits_the_node_between_servers():
    out = _run(
        [
            "bash",
            "scripts/launch/sandbox_node.sh",
            "--dry-run",
            "--serve",
            "--servers",
            "2",
            "--port",
            "9000",
        ],
        {"SRPO_NODE_CPUS": "34"},
    )
    assert out.returncode == 0, out.stderr
    serves = [c for c in _commands(out.stdout) if " serve " in c]
    assert serves == [
        f"(background) {sys.executable} -m sandbox --image srpo-sandbox:py3 serve --host 0.0.0.0 "
        f"--port {port} --pool-size 16"
        for port in (9000, 9001)
    ]


def test_sandbox_fleet_lists_every_server_and_starts_one_node_step_each():
    out = _run(
        ["bash", "scripts/launch/sandbox_fleet.sbatch"],
        {"SRPO_DRY_RUN": "1", "SRPO_NODELIST": "c1 c2", "SLURM_CPUS_PER_TASK": "64"},
    )
    assert out.returncode == 0, out.stderr
    assert "would write http://c1:8080" in out.stdout and "would write http://c2:8081" in out.stdout
    steps = [c for c in _commands(out.stdout) if "srun" in c]
    assert len(steps) == 2 and all(
        "sandbox_node.sh --serve --host 0.0.0.0 --port 8080 --servers 2" in c for c in steps
    )


def test_single_node_with_sandbox_urls_uses_the_servers_and_no_local_sandbox():
    urls = "http://cpu1:8080,http://cpu2:8080"
    out = _run(
        ["bash", "scripts/launch/single_node.sh", "--preset", "7b_8gpu_stage2", "--dry-run"],
        {"SRPO_NODE_CPUS": "64", "SRPO_SANDBOX_URLS": urls},
    )
    assert out.returncode == 0, out.stderr
    (train,) = _commands(out.stdout)
    args = shlex.split(train)  # the launcher prints commands shell-quoted
    assert f"++{SANDBOX_KEY}.urls=[{urls}]" in args and "pool_size" not in train


def test_url_overrides_reach_the_code_reward_as_servers():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from reward_fns.code_reward import CodeGrader
    from reward_fns.config import reward_config_from_kwargs
    from srpo.main import CONFIG_DIR

    plan = plan_sandbox(nnodes=2, cpus_per_node=96, urls=("http://cpu1:8080", "http://cpu2:8081"))
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        cfg = compose(config_name="srpo", overrides=["+presets=7b_8gpu_stage2", *plan.overrides()])
    kwargs = OmegaConf.to_container(cfg.reward.custom_reward_function.reward_kwargs, resolve=True)
    code = reward_config_from_kwargs(kwargs).code
    assert code.sandbox["urls"] == ["http://cpu1:8080", "http://cpu2:8081"]
    grader = CodeGrader(code.sandbox_options())  # the preset's pool keys are the servers' business
    assert grader._parallel() == 8
    with pytest.raises(ValueError, match="http://host:port"):
        plan_sandbox(nnodes=1, cpus_per_node=8, urls=("cpu1:8080",))
