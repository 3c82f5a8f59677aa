"""The backend-string shim: what it rewrites, and a guard that fails when verl changes the line."""

from __future__ import annotations

import importlib
import inspect

import pytest
import torch.distributed
from torch.distributed.distributed_c10d import BackendConfig

from srpo.cpu.shims import SHIMS, dedupe_backend_string, install_gloo_backend_string


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("cpu:gloo,cpu:gloo", "cpu:gloo"),
        ("cpu:gloo,cuda:nccl", "cpu:gloo,cuda:nccl"),
        ("cpu:gloo,npu:hccl", "cpu:gloo,npu:hccl"),
        ("gloo", "gloo"),
        ("cpu:gloo,cpu:mpi", "cpu:gloo,cpu:mpi"),  # a real conflict is torch's to report
        (None, None),
    ],
)
def test_dedupe_backend_string(given: str | None, expected: str | None) -> None:
    assert dedupe_backend_string(given) == expected


def test_torch_still_rejects_the_duplicate_string() -> None:
    """If torch ever accepts "cpu:gloo,cpu:gloo", the shim can be dropped: this test then fails."""
    with pytest.raises(ValueError, match="Duplicate device type cpu"):
        BackendConfig("cpu:gloo,cpu:gloo")
    assert BackendConfig(dedupe_backend_string("cpu:gloo,cpu:gloo")).get_device_backend_map()["cpu"] == "gloo"


@pytest.mark.parametrize("shim", SHIMS, ids=lambda s: s.name)
def test_verl_still_has_the_compensated_lines(shim) -> None:
    """Fails when verl changes a line a shim compensates for: re-check the shim, drop it if unneeded."""
    source = inspect.getsource(importlib.import_module(shim.verl_module))
    lines = {line.strip() for line in source.splitlines()}
    for verl_line in shim.verl_lines:
        assert verl_line in lines, (
            f"verl's {shim.verl_module} no longer contains {verl_line!r}; "
            f"re-check whether srpo.cpu.shims.{shim.name} is still needed"
        )


def test_installed_wrapper_is_idempotent_and_rewrites(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda *a, **k: seen.append((a, k)))
    assert install_gloo_backend_string() is True
    assert install_gloo_backend_string() is False  # already wrapped
    torch.distributed.init_process_group(backend="cpu:gloo,cpu:gloo", rank=0)
    torch.distributed.init_process_group("cpu:gloo,cpu:gloo")
    assert seen == [((), {"backend": "cpu:gloo", "rank": 0}), (("cpu:gloo",), {})]


@pytest.mark.timeout(60)
def test_shimmed_string_initialises_a_real_gloo_group(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The string verl builds on the CPU platform, through the shim, gives a working gloo group."""
    monkeypatch.setattr(torch.distributed, "init_process_group", torch.distributed.init_process_group)
    install_gloo_backend_string()
    torch.distributed.init_process_group(
        backend="cpu:gloo,cpu:gloo", rank=0, world_size=1, init_method=f"file://{tmp_path}/store"
    )
    try:
        t = torch.ones(2)
        torch.distributed.all_reduce(t)
        assert t.tolist() == [1.0, 1.0]
    finally:
        torch.distributed.destroy_process_group()
