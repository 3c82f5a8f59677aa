"""benchmarks.run_footprint: a record keeps every process with its role, and tables name them."""

from __future__ import annotations

from benchmarks import run_footprint as rf
from srpo.cpu.memory import MemoryPeak, ProcessPeak

GiB = 2**30


def _peak() -> MemoryPeak:
    peak = MemoryPeak(pss_bytes=3 * GiB, max_processes=3)
    peak.per_process = {
        (11, 1.0): ProcessPeak("VLLM::EngineCore", GiB),
        (12, 1.0): ProcessPeak("reward_fns.bounded", GiB // 10),
        (13, 2.0): ProcessPeak("reward_fns.bounded", GiB // 20),
    }
    return peak


def test_record_keeps_each_process_with_its_role_largest_first() -> None:
    rec = rf.memory_record(_peak())
    assert [(p["pid"], p["role"]) for p in rec["processes"]] == [
        (11, "VLLM::EngineCore"),
        (12, "reward_fns.bounded"),
        (13, "reward_fns.bounded"),
    ]
    assert rec["roles"]["reward_fns.bounded"]["processes"] == 2
    lines = rf.process_table(rec)
    assert lines[2].startswith("| vLLM engine core | `VLLM::EngineCore` | 11 | 1.074 |")
    assert "math reward pool" in lines[3] and "| 12 |" in lines[3]


def test_merge_keeps_the_larger_peak_per_process() -> None:
    rec = rf.memory_record(_peak())
    attached = {
        "sampled_s": 5.0,
        "peak_pss_gb": 1.0,
        "peak_system_used_gb": 0.0,
        "max_processes": 4,
        "roles": {"ray::WorkerDict": {"processes": 1, "peak_pss_gb": 0.9}},
        "processes": [
            {"pid": 11, "role": "VLLM::EngineCore", "peak_pss_gb": 2.0},
            {"pid": 13, "role": "reward_fns.bounded", "peak_pss_gb": 0.01},
            {"pid": 14, "role": "ray::WorkerDict", "peak_pss_gb": 0.9},
        ],
    }
    rf.merge_memory(rec, attached)
    got = {p["pid"]: p["peak_pss_gb"] for p in rec["processes"]}
    assert got == {11: 2.0, 14: 0.9, 12: 0.107, 13: 0.054}
    assert rec["max_processes"] == 4
