"""Docker backend: warm, locked-down containers whose PID 1 is the sandbox supervisor.

Each container runs with no network, capped memory (no swap), pids and CPU, a read-only root
with small tmpfs work dirs and no-new-privileges. The supervisor (PID 1) is root of the container
with six capabilities, only to run programs and tests under two other uids and clean up after
them; programs and tests run with no capabilities at all (see sandbox/README.md).
The host talks to the supervisor over the container's attached stdin/stdout. The container is
created with stdin_once + auto_remove, so when the caller dies (even by SIGKILL) its attach
connection closes, the supervisor reads EOF and exits, and Docker removes the container.
Containers carry labels naming their owner; stale ones (owner process gone) are reaped on start.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import struct
import time
import uuid
from typing import Any

import docker
import docker.errors
import requests.exceptions

from sandbox import bundle
from sandbox.api import ImageMissing, SandboxConfig, SandboxError, SandboxUnavailable
from sandbox.pool import PooledSandbox, Worker, WorkerDied

log = logging.getLogger(__name__)

SUPERVISOR_SOURCE = bundle.supervisor_source()
SUPERVISOR_USER = "0:0"
# What PID 1 needs, and nothing else: start programs and tests as their uids (SETUID, SETGID),
# hand the case dir to the program (CHOWN), kill whatever the program left (KILL), empty dirs the
# program made read-only (FOWNER), and empty the bounding set of every child (SETPCAP).
SUPERVISOR_CAPS = ["CHOWN", "FOWNER", "KILL", "SETGID", "SETUID", "SETPCAP"]
PROGRAM_UID, TEST_UID = 10001, 10002  # 10001 is the image's `sandbox` user; 10002 needs no entry
WORK_DIR = "/work"
SHM_MB = 8
BIN_DIR, BIN_MB = "/sandbox-bin", 64  # compiled programs (C++), one at a time
SUPERVISOR_HEADROOM_MB = 96  # the supervisor, the test process forked from it, python's page cache
# Inodes per tmpfs: bounds how long a wipe can take (a few ms per thousand entries).
WORK_INODES = 16384
SHM_INODES = 1024

_CONNECTION_ERRORS = (requests.exceptions.ConnectionError, ConnectionError, FileNotFoundError)


def _daemon_url(config: SandboxConfig) -> str:
    return config.docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(config: SandboxConfig) -> docker.APIClient:
    """An API client for the configured daemon, or SandboxUnavailable saying how to start one."""
    url = _daemon_url(config)
    try:
        api = docker.APIClient(
            base_url=url, timeout=config.docker_timeout_s, max_pool_size=config.concurrency + 4
        )
        api.ping()
    except (docker.errors.DockerException, *_CONNECTION_ERRORS) as e:
        raise SandboxUnavailable(
            f"cannot reach the Docker daemon at {url}: {e}. Start one with scripts/start_dockerd.sh, "
            "or set SandboxConfig(backend='local') to accept the weaker local sandbox"
        ) from None
    return api


def daemon_down(url: str, timeout_s: float = 5.0) -> str | None:
    """Why the daemon at `url` does not answer a ping on a new connection, or None if it does.

    A new client matters: a pooled keep-alive connection can still answer while dockerd shuts down."""
    try:
        client = docker.APIClient(base_url=url, timeout=timeout_s)
    except docker.errors.DockerException as e:
        return f"{type(e).__name__}: {e}"
    try:
        client.ping()
    except Exception as e:  # anything at all means: not usable
        return f"ping: {type(e).__name__}: {e}"
    finally:
        client.close()
    return None


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def reap_stale(api: docker.APIClient, label: str) -> int:
    """Remove labelled containers whose owning process on this host is gone; returns how many."""
    host = socket.gethostname()
    removed = 0
    for c in api.containers(all=True, filters={"label": label}):
        owner = (c.get("Labels") or {}).get(f"{label}.owner", "")
        owner_host, _, pid = owner.rpartition(":")
        if owner_host != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # owner alive (or not ours to signal): leave it
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        try:
            api.remove_container(c["Id"], force=True)
            removed += 1
        except docker.errors.APIError as e:
            if e.status_code not in (404, 409):  # gone already / removal in progress
                log.warning("could not reap stale sandbox container %s: %s", c["Id"][:12], e)
    return removed


def host_config(api: docker.APIClient, config: SandboxConfig) -> dict[str, Any]:
    # the compiler (C++) runs alone, before any case: the cap fits whichever is larger
    memory_mb = (
        max(config.memory_mb, config.compile_memory_mb or 0) + config.workdir_mb + SUPERVISOR_HEADROOM_MB
    )
    return api.create_host_config(
        network_mode="none",
        mem_limit=f"{memory_mb}m",
        memswap_limit=f"{memory_mb}m",  # equal to mem_limit: no swap
        pids_limit=config.pids_limit,
        nano_cpus=int(config.cpus * 1e9),
        read_only=True,
        tmpfs={
            WORK_DIR: f"rw,nosuid,nodev,noexec,size={config.workdir_mb}m,nr_inodes={WORK_INODES}",
            "/dev/shm": f"rw,nosuid,nodev,noexec,size={SHM_MB}m,nr_inodes={SHM_INODES},mode=1777",
            # compiled programs (C++) for the length of their run: root's, so no program writes here
            BIN_DIR: f"rw,nosuid,nodev,exec,size={BIN_MB}m,nr_inodes=64,mode=0755",
        },
        cap_drop=["ALL"],
        cap_add=SUPERVISOR_CAPS,
        security_opt=["no-new-privileges"],
        ulimits=[docker.types.Ulimit(name="core", soft=0, hard=0)],
        ipc_mode="private",
        auto_remove=True,
    )


class DockerWorker(Worker):
    """One container; its supervisor is reached through the attached stdin/stdout stream."""

    def __init__(self, api: docker.APIClient, config: SandboxConfig, labels: dict[str, str]) -> None:
        super().__init__()
        self.api = api
        self.url = _daemon_url(config)
        self.config = config
        self.id: str | None = None
        self._sock: socket.socket | None = None
        self._frame_left = 0
        self._frame_stream = 1
        self._header = b""
        self.stderr = b""
        try:
            created = api.create_container(
                config.image,
                command=["python3", "-I", "-c", SUPERVISOR_SOURCE],
                user=SUPERVISOR_USER,
                stdin_open=True,  # with detach=False this also sets StdinOnce
                detach=False,
                tty=False,
                labels=labels,
                environment={
                    "SRPO_SANDBOX_WORK": WORK_DIR,
                    "SRPO_SANDBOX_WIPE": "/dev/shm:/dev/mqueue",
                    "SRPO_SANDBOX_UIDS": f"{PROGRAM_UID}:{TEST_UID}",
                    "SRPO_SANDBOX_START": config.start_mode,
                    "SRPO_SANDBOX_BIN": BIN_DIR,
                },
                working_dir=WORK_DIR,
                hostname="sandbox",
                stop_signal="SIGKILL",
                host_config=host_config(api, config),
            )
            self.id = created["Id"]
            raw = api.attach_socket(self.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            self._sock = getattr(raw, "_sock", raw)
            self._raw = raw  # keeps the HTTP response (and so the socket) alive
            api.start(self.id)
            self.ping(config.start_timeout_s)
        except docker.errors.ImageNotFound as e:
            self.close()
            raise ImageMissing(config.image, str(e.explanation or "")) from None
        except (docker.errors.DockerException, *_CONNECTION_ERRORS) as e:
            self.close()
            raise self.describe_failure(e) from None
        except BaseException:
            self.close()
            raise

    # -- transport: Docker multiplexes stdout/stderr in frames of an 8-byte header + payload
    def _send(self, data: bytes) -> None:
        assert self._sock is not None
        self._sock.sendall(data)

    def _recv_some(self, timeout_s: float) -> bytes:
        assert self._sock is not None
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no output from the container within {timeout_s:.0f}s")
            ready, _, _ = select.select([self._sock], [], [], left)
            if not ready:
                continue
            chunk = self._sock.recv(1 << 16)
            if not chunk:
                return b""
            out = self._demux(chunk)
            if out:
                return out

    def _demux(self, chunk: bytes) -> bytes:
        out = bytearray()
        while chunk:
            if self._frame_left == 0:
                need = 8 - len(self._header)
                self._header += chunk[:need]
                chunk = chunk[need:]
                if len(self._header) < 8:
                    break
                self._frame_stream, self._frame_left = struct.unpack(">BxxxL", self._header)
                self._header = b""
                continue
            part, chunk = chunk[: self._frame_left], chunk[self._frame_left :]
            self._frame_left -= len(part)
            if self._frame_stream == 1:
                out += part
            else:
                self.stderr = (self.stderr + part)[-4000:]
        return bytes(out)

    def describe_failure(self, err: BaseException) -> SandboxError:
        """Tell a dead container (run lost, pool fine) from a dead daemon (clear, raised error)."""
        why = daemon_down(self.url)
        if why or isinstance(err, _CONNECTION_ERRORS):
            return SandboxUnavailable(
                f"the Docker daemon at {self.url} stopped answering during a sandbox run "
                f"({type(err).__name__}: {err}; {why or 'connection refused'})"
            )
        detail = self.stderr.decode("utf-8", "replace").strip()[-500:]
        name = self.id[:12] if self.id else "(not created)"
        return WorkerDied(f"sandbox container {name} failed: {type(err).__name__}: {err} {detail}".strip())

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_WR)  # stdin EOF: the supervisor exits by itself
                self._sock.close()
            except OSError:
                pass
            self._sock = None
        if self.id is not None:
            try:
                self.api.remove_container(self.id, force=True)
            except docker.errors.APIError as e:
                if e.status_code not in (404, 409):
                    log.warning("could not remove sandbox container %s: %s", self.id[:12], e)
            except _CONNECTION_ERRORS:
                pass  # daemon gone: its containers went with it
            self.id = None


CLOSE_WAIT_S = 10.0  # how long close() waits for the daemon to finish removing our containers


class DockerSandbox(PooledSandbox):
    """The isolated backend: a warm pool of containers (see the module docstring)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.api = connect(config)
        try:
            self.api.inspect_image(config.image)
        except docker.errors.ImageNotFound:
            raise ImageMissing(config.image) from None
        reaped = reap_stale(self.api, config.label)
        if reaped:
            log.info("reaped %d stale sandbox containers", reaped)
        self.session = uuid.uuid4().hex[:12]
        labels = {
            config.label: "1",
            f"{config.label}.owner": owner_label(),
            f"{config.label}.session": self.session,
        }
        super().__init__(config, lambda: DockerWorker(self.api, config, labels))

    def containers(self) -> list[str]:
        """IDs of this sandbox's containers that the daemon still knows (for tests and checks)."""
        found = self.api.containers(
            all=True, filters={"label": f"{self.config.label}.session={self.session}"}
        )
        return [c["Id"] for c in found]

    def close(self) -> None:
        """Close every worker, then wait (bounded) until the daemon lists none of ours: a container
        whose supervisor saw stdin close is removed by the daemon itself (auto_remove), and a
        removal in progress answers 409 and still shows for a moment on a loaded machine."""
        super().close()
        deadline = time.monotonic() + CLOSE_WAIT_S
        try:
            left = self.containers()
            for cid in left:  # anything a failed close left behind
                try:
                    self.api.remove_container(cid, force=True)
                except docker.errors.APIError as e:
                    if e.status_code not in (404, 409):
                        raise
            while left and time.monotonic() < deadline:
                time.sleep(0.05)
                left = self.containers()
        except (docker.errors.DockerException, *_CONNECTION_ERRORS):
            pass


__all__ = ["DockerSandbox", "DockerWorker", "WorkerDied", "connect", "reap_stale"]
