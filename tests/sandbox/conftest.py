"""Fixtures for the sandbox tests: a real Docker daemon and the sandbox image.

If no daemon answers, the set-up tries scripts/start_dockerd.sh and scripts/build_sandbox_image.sh
(root only). When that is impossible the Docker tests are skipped, unless SRPO_REQUIRE_DOCKER=1
(CI), where they fail instead.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import DEFAULT_IMAGE, SandboxConfig, make_sandbox
from sandbox.api import CPP_IMAGE

REPO = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("SRPO_SANDBOX_IMAGE", DEFAULT_IMAGE)
CPP_TEST_IMAGE = os.environ.get("SRPO_SANDBOX_CPP_IMAGE", CPP_IMAGE)  # built with --cpp
TEST_LABEL = "srpo.sandbox.test"  # containers of these tests only: safe to reap


def _docker_ok() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _image_ok(image: str = IMAGE) -> bool:
    return (
        subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=20).returncode == 0
    )


def _build(image: str, *flags: str) -> str | None:
    """Build `image` with scripts/build_sandbox_image.sh; return why it failed, or None."""
    run = subprocess.run(
        [str(REPO / "scripts/build_sandbox_image.sh"), *flags, "--image", image],
        capture_output=True,
        text=True,
        timeout=900,
    )
    return None if run.returncode == 0 else f"scripts/build_sandbox_image.sh failed: {run.stderr[-500:]}"


def _set_up() -> str | None:
    """Start dockerd and build the image when needed; return why it is impossible, or None."""
    if not _docker_ok():
        if os.geteuid() != 0:
            return "no Docker daemon answers and starting one needs root (scripts/start_dockerd.sh)"
        run = subprocess.run(
            [str(REPO / "scripts/start_dockerd.sh")], capture_output=True, text=True, timeout=300
        )
        if run.returncode != 0:
            return f"scripts/start_dockerd.sh failed: {run.stderr[-500:]}"
    if not _image_ok():
        return _build(IMAGE)
    return None


@pytest.fixture(scope="session")
def docker_ready() -> None:
    why = _set_up()
    if why is not None:
        if os.environ.get("SRPO_REQUIRE_DOCKER") == "1":
            pytest.fail(why)
        pytest.skip(why)


START_MODES = ["fork_server", "fresh_interpreter"]  # the integrity suites run under both


@pytest.fixture(scope="session")
def cpp_image(docker_ready) -> str:
    """The C++ image (g++ and a precompiled bits/stdc++.h), built on first use."""
    why = None if _image_ok(CPP_TEST_IMAGE) else _build(CPP_TEST_IMAGE, "--cpp")
    if why is not None:
        if os.environ.get("SRPO_REQUIRE_DOCKER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return CPP_TEST_IMAGE


def docker_config(**kw) -> SandboxConfig:
    base = {"backend": "docker", "image": IMAGE, "pool_size": 2, "time_limit_s": 5.0, "label": TEST_LABEL}
    return SandboxConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def docker_sandbox(docker_ready) -> Iterator:
    with make_sandbox(docker_config()) as sb:
        yield sb


@pytest.fixture(scope="module")
def local_sandbox() -> Iterator:
    with make_sandbox(SandboxConfig(backend="local", pool_size=2, time_limit_s=5.0)) as sb:
        yield sb


@pytest.fixture(params=["docker", "local"], scope="module")
def any_sandbox(request) -> Iterator:
    """The same behaviour is expected of both backends."""
    if request.param == "docker":
        request.getfixturevalue("docker_ready")
        config = docker_config()
    else:
        config = SandboxConfig(backend="local", pool_size=2, time_limit_s=5.0)
    with make_sandbox(config) as sb:
        yield sb
