"""``make_sandbox``: the one place that picks a backend.

It sits apart from ``sandbox.api`` (the types every backend imports) so that the backends and the API
do not import each other; the Docker backend is imported only when asked for, so the local backend
runs without the docker package.
"""

from __future__ import annotations

from sandbox.api import Sandbox, SandboxConfig


def make_sandbox(config: SandboxConfig | None = None) -> Sandbox:
    """Start the backend the config asks for (Docker unless `backend="local"` is set explicitly)."""
    config = config or SandboxConfig()
    if config.backend == "docker":
        from sandbox.docker_backend import DockerSandbox

        return DockerSandbox(config)
    from sandbox.local_backend import LocalSandbox

    return LocalSandbox(config)
