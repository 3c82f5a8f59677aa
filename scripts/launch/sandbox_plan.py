"""Size the code sandbox of a multi-node run from the CPU count of a GPU node.

verl starts ``reward.num_workers`` reward-loop processes and spreads them round-robin over the
Ray nodes; each process starts one sandbox (``reward_fns.code_reward``: a pool of warm Docker
containers, ``pool_size`` of them, each capped at ``cpus`` cores) and one pool of math-verifier
processes (``SRPO_REWARD_WORKERS``). So a node's sandbox concurrency is
``workers_per_node x pool_size``. This script picks those numbers so that the containers of a node
use a chosen share of its cores (the rest stays with vLLM, the FSDP workers and Ray), and prints
them as Hydra overrides (``--format overrides``), shell assignments (``--format shell``) or JSON.

    python scripts/launch/sandbox_plan.py --nnodes 8 --cpus 192
    eval "$(python scripts/launch/sandbox_plan.py --nnodes 8 --format shell)"   # SANDBOX_OVERRIDES=...
    python scripts/launch/sandbox_plan.py --nnodes 8 --urls http://cpu1:8080,http://cpu2:8080

With ``--urls`` (or ``SRPO_SANDBOX_URLS``) the programs run on sandbox servers (``python -m sandbox
serve`` on CPU nodes, docs/scaling.md) instead of in containers on the GPU nodes: the overrides
then list the servers (``code.sandbox.urls``) and size no pools.

Stdlib only: the launch scripts run it before anything else is installed or imported.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from dataclasses import asdict, dataclass

SANDBOX_KEY = "reward.custom_reward_function.reward_kwargs.code.sandbox"


@dataclass(frozen=True)
class SandboxPlan:
    """How many reward workers and warm containers a run gets, per node and in total."""

    nnodes: int
    cpus_per_node: int
    workers_per_node: int
    pool_size: int  # warm containers (and concurrent programs) per reward worker
    container_cpus: float  # CPU quota of one container
    math_workers: int  # math-verifier processes per reward worker (SRPO_REWARD_WORKERS)
    urls: tuple[str, ...] = ()  # sandbox servers; when set, no containers run on the GPU nodes

    @property
    def reward_workers(self) -> int:
        return self.nnodes * self.workers_per_node

    @property
    def containers_per_node(self) -> int:
        return self.workers_per_node * self.pool_size

    def overrides(self) -> list[str]:
        """Hydra overrides for ``python -m srpo.main`` (``++``: set the key whether or not the preset has it)."""
        if self.urls:
            return [
                f"reward.num_workers={self.reward_workers}",
                f"++{SANDBOX_KEY}.urls=[{','.join(self.urls)}]",
            ]
        return [
            f"reward.num_workers={self.reward_workers}",
            f"++{SANDBOX_KEY}.pool_size={self.pool_size}",
            f"++{SANDBOX_KEY}.max_concurrency={self.pool_size}",
            f"++{SANDBOX_KEY}.cpus={self.container_cpus}",
        ]

    def env(self) -> dict[str, str]:
        """Environment for every node's Ray processes (set before ``ray start``)."""
        return {"SRPO_REWARD_WORKERS": str(self.math_workers)}


def plan_sandbox(
    nnodes: int,
    cpus_per_node: int,
    sandbox_share: float = 0.5,
    workers_per_node: int = 4,
    container_cpus: float = 1.0,
    max_math_workers: int = 4,
    urls: tuple[str, ...] = (),
) -> SandboxPlan:
    """Split ``sandbox_share`` of a node's cores between its reward workers' container pools.

    Raises ``ValueError`` naming the argument when an input is out of range.
    """
    if nnodes < 1:
        raise ValueError(f"nnodes must be >= 1, got {nnodes}")
    if cpus_per_node < 1:
        raise ValueError(f"cpus_per_node must be >= 1, got {cpus_per_node}")
    if not 0.0 < sandbox_share <= 1.0:
        raise ValueError(f"sandbox_share must be in (0, 1], got {sandbox_share}")
    if workers_per_node < 1:
        raise ValueError(f"workers_per_node must be >= 1, got {workers_per_node}")
    if container_cpus <= 0:
        raise ValueError(f"container_cpus must be > 0, got {container_cpus}")
    if max_math_workers < 1:
        raise ValueError(f"max_math_workers must be >= 1, got {max_math_workers}")
    budget = cpus_per_node * sandbox_share / container_cpus  # containers the node can run at once
    pool = max(1, int(budget // workers_per_node))
    math_workers = max(1, min(max_math_workers, int(cpus_per_node * sandbox_share // workers_per_node)))
    return SandboxPlan(
        nnodes=nnodes,
        cpus_per_node=cpus_per_node,
        workers_per_node=workers_per_node,
        pool_size=pool,
        container_cpus=container_cpus,
        math_workers=math_workers,
        urls=tuple(_check_url(u) for u in urls),
    )


def _check_url(url: str) -> str:
    """A server URL as Hydra and the client take it: http://host:port, no spaces, commas or brackets."""
    if not url.startswith("http://") or any(c in url for c in " ,[]'\""):
        raise ValueError(f"sandbox server URL must look like http://host:port, got {url!r}")
    return url.rstrip("/")


def node_cpus() -> int:
    """CPUs of this node for the plan: ``SRPO_NODE_CPUS``, else SLURM's grant, else the affinity mask."""
    for var in ("SRPO_NODE_CPUS", "SLURM_CPUS_ON_NODE"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nnodes", type=int, required=True, help="nodes in the Ray cluster")
    p.add_argument("--cpus", type=int, default=None, help="CPUs per node (default: this node's)")
    p.add_argument("--share", type=float, default=0.5, help="share of a node's cores for the sandbox")
    p.add_argument("--workers-per-node", type=int, default=4, help="reward-loop workers per node")
    p.add_argument("--container-cpus", type=float, default=1.0, help="CPU quota of one container")
    p.add_argument("--format", choices=["overrides", "shell", "json"], default="overrides")
    p.add_argument(
        "--urls",
        default=os.environ.get("SRPO_SANDBOX_URLS", ""),
        help="comma-separated sandbox servers (default: SRPO_SANDBOX_URLS); none: containers on the GPU nodes",
    )
    args = p.parse_args(argv)
    try:
        plan = plan_sandbox(
            args.nnodes,
            args.cpus if args.cpus is not None else node_cpus(),
            args.share,
            args.workers_per_node,
            args.container_cpus,
            urls=tuple(u.strip() for u in args.urls.split(",") if u.strip()),
        )
    except ValueError as err:
        print(f"sandbox_plan: {err}", file=sys.stderr)
        return 2
    if args.format == "overrides":
        print("\n".join(plan.overrides()))
    elif args.format == "shell":
        print(f"SANDBOX_OVERRIDES={shlex.quote(' '.join(plan.overrides()))}")
        for key, value in plan.env().items():
            print(f"export {key}={shlex.quote(value)}")
    else:
        summary = {
            **asdict(plan),
            "reward_workers": plan.reward_workers,
            "containers_per_node": plan.containers_per_node,
            "overrides": plan.overrides(),
            "env": plan.env(),
        }
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
