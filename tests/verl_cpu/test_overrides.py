"""The CPU overrides/launcher pieces other launchers reuse: contents, validation, memory sampling."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from srpo.cpu.launch import TinyRun, trainer_command
from srpo.cpu.memory import ProcessPeak, TreeMemorySampler, process_role
from srpo.cpu.overrides import (
    UNIPROC_EXECUTOR,
    CPUSettings,
    cpu_env,
    cpu_overrides,
    resolve_compute_dtype,
)


def _as_dict(overrides: list[str]) -> dict[str, str]:
    return dict(item.lstrip("+").split("=", 1) for item in overrides)


def test_cpu_overrides_carry_the_settings() -> None:
    got = _as_dict(cpu_overrides(CPUSettings(n_procs=2, kv_cache_bytes=32 * 2**20, agent_num_workers=2)))
    assert got["trainer.device"] == "cpu"
    assert got["trainer.n_gpus_per_node"] == got["ray_kwargs.ray_init.num_gpus"] == "2"
    assert got["actor_rollout_ref.actor.strategy"] == "fsdp2"
    assert got["actor_rollout_ref.rollout.engine_kwargs.vllm.kv_cache_memory_bytes"] == str(32 * 2**20)
    assert got["actor_rollout_ref.rollout.agent.num_workers"] == "2"
    assert got["transfer_queue.backend.SimpleStorage.num_data_storage_units"] == "1"
    assert (
        got["actor_rollout_ref.rollout.engine_kwargs.vllm.distributed_executor_backend"] == UNIPROC_EXECUTOR
    )


CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f {extra}\nbogomips\t: 4000\n"


@pytest.mark.parametrize(
    ("requested", "extra", "expected"),
    [
        ("auto", "", "fp32"),
        ("auto", "avx512_bf16", "bf16"),
        ("auto", "amx_bf16 amx_tile", "bf16"),
        ("fp32", "avx512_bf16", "fp32"),
        ("bf16", "", "bf16"),
    ],
)
def test_compute_dtype_follows_the_cpus_bf16_support(requested: str, extra: str, expected: str) -> None:
    assert resolve_compute_dtype(requested, CPUINFO.format(extra=extra)) == expected


def test_fp32_compute_sets_verls_fsdp_mixed_precision_for_actor_and_ref() -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    got = [o for o in cpu_overrides(CPUSettings(compute_dtype="fp32")) if "mixed_precision" in o]
    assert len(got) == 2
    parsed = OverridesParser.create().parse_overrides(got)
    assert {o.key_or_group for o in parsed} == {
        f"actor_rollout_ref.{role}.fsdp_config.mixed_precision" for role in ("actor", "ref")
    }
    assert all(
        o.value() == {"param_dtype": "fp32", "reduce_dtype": "fp32", "buffer_dtype": "fp32"} for o in parsed
    )
    assert not [o for o in cpu_overrides(CPUSettings(compute_dtype="bf16")) if "mixed_precision" in o]


def test_embedded_default_names_the_same_executor() -> None:
    from srpo.paths import config_dir

    embedded = OmegaConf.load(config_dir() / "embedded.yaml")
    assert (
        embedded.actor_rollout_ref.rollout.engine_kwargs.vllm.distributed_executor_backend == UNIPROC_EXECUTOR
    )


def test_the_executor_name_is_vllms_uniproc_executor() -> None:
    """vLLM resolves the name itself (Executor.get_class); a rename in vLLM must fail here, not in a run."""
    pytest.importorskip("vllm")
    from vllm.utils.import_utils import resolve_obj_by_qualname
    from vllm.v1.executor.uniproc_executor import UniProcExecutor

    assert resolve_obj_by_qualname(UNIPROC_EXECUTOR) is UniProcExecutor


def test_overrides_apply_to_verl_ppo_config() -> None:
    """Every key without '+' exists in verl's own ppo_trainer config (Hydra would reject it otherwise)."""
    import verl.trainer.config as cfg_pkg

    cfg = OmegaConf.load(Path(cfg_pkg.__file__).with_name("_generated_ppo_trainer.yaml"))
    for item in cpu_overrides():
        if item.startswith("+"):
            continue
        parent, _, leaf = item.split("=", 1)[0].rpartition(".")
        node = OmegaConf.select(cfg, parent)
        # .keys(): `in` on a DictConfig is False for a mandatory "???" value such as rollout.name
        assert node is not None and leaf in node.keys(), f"{parent}.{leaf}"  # noqa: SIM118


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_procs": 0}, "n_procs"),
        ({"object_store_bytes": 2**20}, "object_store_bytes"),
        ({"gpu_memory_utilization": 0.0}, "gpu_memory_utilization"),
        ({"tq_storage_units": 0}, "tq_storage_units"),
        ({"compute_dtype": "fp16"}, "compute_dtype"),
    ],
)
def test_settings_reject_bad_values_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"CPUSettings.{field}"):
        CPUSettings(**kwargs)


def test_cpu_env_selects_platform_and_keeps_callers_values() -> None:
    env = cpu_env({"VERL_PLATFORM": "nvidia", "VLLM_CPU_OMP_THREADS_BIND": "0-1"})
    assert env["VERL_PLATFORM"] == "cpu"
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "0-1"
    assert env["VLLM_TARGET_DEVICE"] == "cpu"


@pytest.mark.parametrize(
    ("given", "expected"), [({}, "8"), ({"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "64"}, "64")]
)
def test_cpu_env_caps_onednn_primitive_cache_unless_set(given: dict, expected: str) -> None:
    assert cpu_env(given)["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == expected


def test_tiny_run_names_the_missing_input(tmp_path: Path) -> None:
    run = TinyRun(
        model=str(tmp_path / "nope"), train_files=__file__, val_files=__file__, out_dir=str(tmp_path)
    )
    with pytest.raises(FileNotFoundError, match="TinyRun.model"):
        run.overrides()
    assert trainer_command(["a=1"])[1:] == ["-m", "verl.trainer.main_ppo", "a=1"]


@pytest.mark.timeout(60)
def test_sampler_sees_children_memory_and_processes() -> None:
    code = "import subprocess,sys,time; b=bytearray(200*2**20); subprocess.run([sys.executable,'-c','import time; time.sleep(3)']); time.sleep(0.5)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    sampler = TreeMemorySampler(proc.pid, interval_s=0.2).start()
    proc.wait(timeout=30)
    time.sleep(0.1)
    peak = sampler.stop()
    assert peak.pss_bytes > 150 * 2**20  # the 200 MiB buffer (zero pages are touched by bytearray)
    assert peak.max_processes >= 2  # the child's child was seen
    assert peak.samples > 3


@pytest.mark.parametrize(
    ("cmdline", "role"),
    [
        (["ray::WorkerDict.update_actor"], "ray::WorkerDict"),
        (["ray::IDLE"], "ray::IDLE"),
        (["/venv/bin/python3", "-u", "-m", "srpo.main", "output_dir=x"], "srpo.main"),
        (["/usr/bin/python3.11", "/venv/ray/dashboard/dashboard.py", "--host=x"], "dashboard.py"),
        (["/venv/ray/core/src/ray/gcs/gcs_server", "--port=1"], "gcs_server"),
        (["VLLM::EngineCore"], "VLLM::EngineCore"),
        ([], "?"),
    ],
)
def test_process_role_names(cmdline, role) -> None:
    assert process_role(cmdline) == role


@pytest.mark.timeout(60)
def test_sampler_keeps_each_process_peak_by_role() -> None:
    child = "import time; b = bytearray(120 * 2**20); time.sleep(2)"
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    proc = subprocess.Popen([sys.executable, "-c", code])
    sampler = TreeMemorySampler(proc.pid, interval_s=0.2).start()
    proc.wait(timeout=30)
    peak = sampler.stop()
    roles = peak.by_role()
    assert roles["python -c"][0] == 2  # parent and child, both `python -c`
    child_peak = max(p.pss_bytes for p in peak.per_process.values())
    assert child_peak > 100 * 2**20  # the child's 120 MiB buffer, seen in its own peak
    assert roles["python -c"][1] >= child_peak


def test_sampler_keeps_a_process_role_through_idle_and_exit() -> None:
    sampler = TreeMemorySampler(os.getpid())  # not started: _record is driven by hand
    key = (1, 0.0)
    for role, pss in [("ray::IDLE", 10), ("VLLM::EngineCore", 700), ("?", 650), ("ray::IDLE", 5)]:
        sampler._record(key, role, pss)
    assert sampler.peak.per_process[key] == ProcessPeak("VLLM::EngineCore", 700)
