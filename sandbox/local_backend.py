"""Local backend: the same supervisor as a host subprocess, for machines with no Docker daemon.

It is weaker than Docker and is only used when the config asks for it (it logs a warning):
programs get rlimits (address space, file size, CPU, no core dumps), a new session, and, where
`unshare` works, private PID, network and mount namespaces (no network, and every process a run
leaves behind is killed). When run as root, programs run as `nobody` and tests as uid 65533, so
a program cannot reach the test process; otherwise both run as the caller (see sandbox/README.md).
There is no cgroup memory or pids cap, and the host's files are as readable as they are to that user.
"""

from __future__ import annotations

import logging
import os
import selectors
import shutil
import subprocess
import sys
import tempfile

from sandbox.api import SandboxConfig, SandboxUnavailable
from sandbox.bundle import supervisor_source
from sandbox.pool import PooledSandbox, Worker, WorkerDied

log = logging.getLogger(__name__)

ROOT_UIDS = "65534:65533"  # as root: programs as nobody, tests as the uid below it (no entry needed)


def namespace_prefix() -> list[str]:
    """The `unshare` command line that gives a private PID + network namespace here, or []."""
    if shutil.which("unshare") is None:
        return []
    prefix = ["unshare", "--pid", "--fork", "--mount-proc", "--net"]
    if os.getuid() != 0:
        prefix[1:1] = ["--user", "--map-root-user"]
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return prefix if probe.returncode == 0 else []


def interpreter() -> str:
    """The Python that runs programs: as root they run as `nobody`, who may not read a private
    interpreter (e.g. under /root/.pyenv), so the system python3 is preferred there."""
    if os.getuid() == 0:
        system = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
        if system:
            return system
    return sys.executable


class LocalWorker(Worker):
    """One supervisor subprocess with its own scratch directory."""

    def __init__(self, config: SandboxConfig, prefix: list[str]) -> None:
        super().__init__()
        self.work = tempfile.mkdtemp(prefix="srpo-sandbox-local-")
        os.chmod(self.work, 0o711)
        self.bin = tempfile.mkdtemp(prefix="srpo-sandbox-bin-")  # compiled programs (C++), ours
        os.chmod(self.bin, 0o755)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "SRPO_SANDBOX_WORK": self.work,
            "SRPO_SANDBOX_START": config.start_mode,
            "SRPO_SANDBOX_BIN": self.bin,
        }
        if os.getuid() == 0 and "--user" not in prefix:  # real root: separate uids, per-uid nproc cap
            env |= {"SRPO_SANDBOX_UIDS": ROOT_UIDS, "SRPO_SANDBOX_NPROC": "1"}
        try:
            self.proc = subprocess.Popen(
                [*prefix, interpreter(), "-I", "-c", supervisor_source()],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except OSError as e:
            shutil.rmtree(self.work, ignore_errors=True)
            shutil.rmtree(self.bin, ignore_errors=True)
            raise SandboxUnavailable(f"cannot start the local sandbox supervisor: {e}") from None
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        try:
            self.ping(config.start_timeout_s)
        except BaseException:
            self.close()
            raise

    def _send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _recv_some(self, timeout_s: float) -> bytes:
        if not self._sel.select(timeout_s):
            raise TimeoutError(f"no output from the local supervisor within {timeout_s:.0f}s")
        return os.read(self.proc.stdout.fileno(), 1 << 16)  # type: ignore[union-attr]

    def describe_failure(self, err: BaseException) -> WorkerDied:
        return WorkerDied(f"local sandbox supervisor failed: {type(err).__name__}: {err}")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # type: ignore[union-attr]
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._sel.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.bin, ignore_errors=True)


class LocalSandbox(PooledSandbox):
    """The weaker, Docker-free backend (see the module docstring)."""

    def __init__(self, config: SandboxConfig) -> None:
        if config.backend != "local":
            raise ValueError("LocalSandbox needs SandboxConfig(backend='local'); it is never chosen silently")
        self.prefix = namespace_prefix()
        log.warning(
            "using the LOCAL sandbox backend: programs run on this host with rlimits%s, not in a container; "
            "use it only for trusted programs or machines without Docker",
            " and private PID/network namespaces"
            if self.prefix
            else " only (unshare unavailable: no namespaces)",
        )
        super().__init__(config, lambda: LocalWorker(config, self.prefix))


__all__ = ["LocalSandbox", "namespace_prefix"]
