"""Command line: run a program against a test spec, check the set-up, or reap stale containers.

    python -m sandbox run PROGRAM.py SPEC.json [--backend docker|local] [--json]
    python -m sandbox check            # daemon reachable, image present, one trivial run passes
    python -m sandbox reap             # remove labelled containers whose owner process is gone
    python -m sandbox serve --host 127.0.0.1 --port 8080 --pool-size 4   # HTTP service (service.py)

`run` exits 0 when every case passed, 1 when some did not, 2 on a sandbox or spec error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from sandbox.api import DEFAULT_IMAGE, BadTestSpec, SandboxConfig, SandboxError, TestSpec
from sandbox.factory import make_sandbox


def _config(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        backend=args.backend,
        image=args.image,
        pool_size=1,
        time_limit_s=args.time_limit,
        memory_mb=args.memory_mb,
        docker_host=args.docker_host,
    )


def cmd_run(args: argparse.Namespace) -> int:
    program = Path(args.program).read_text(encoding="utf-8")
    spec = TestSpec.from_json(Path(args.spec).read_text(encoding="utf-8"))
    with make_sandbox(_config(args)) as sb:
        result = sb.run(program, spec)
    if args.json:
        rows = [
            {
                "verdict": t.verdict.value,
                "wall_time_s": round(t.wall_time_s, 4),
                "detail": t.detail,
                "stderr_tail": t.stderr_tail,
            }
            for t in result.tests
        ]
        print(
            json.dumps(
                {"all_passed": result.all_passed, "fraction_passed": result.fraction_passed, "tests": rows}
            )
        )
    else:
        for i, t in enumerate(result.tests):
            print(f"case {i}: {t.verdict.value:<14} {t.wall_time_s * 1000:7.1f} ms  {t.detail}")
        print(f"passed {sum(t.passed for t in result.tests)}/{len(result.tests)}")
    return 0 if result.all_passed else 1


def cmd_check(args: argparse.Namespace) -> int:
    spec = TestSpec.from_dict({"format": "stdio", "cases": [{"input": "2 3\n", "output": "5\n"}]})
    with make_sandbox(_config(args)) as sb:
        result = sb.run("a, b = map(int, input().split())\nprint(a + b)\n", spec)
    print(f"sandbox ({args.backend}, image {args.image}): trivial run {result.tests[0].verdict.value}")
    return 0 if result.all_passed else 1


def cmd_reap(args: argparse.Namespace) -> int:
    from sandbox.docker_backend import connect, reap_stale

    config = _config(args)
    print(f"reaped {reap_stale(connect(config), config.label)} stale sandbox containers")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from sandbox.service import SandboxService, serve

    config = SandboxConfig(
        backend=args.backend,
        image=args.image,
        pool_size=args.pool_size,
        max_concurrency=args.max_concurrency,
        time_limit_s=args.time_limit,
        memory_mb=args.memory_mb,
        cpus=args.cpus,
        pids_limit=args.pids_limit,
        output_limit_bytes=args.output_limit_bytes,
        fail_fast=args.fail_fast,
        docker_host=args.docker_host,
    )
    service = SandboxService(config, max_queue=args.max_queue, queue_timeout_s=args.queue_timeout)
    serve(service, args.host, args.port)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["docker", "local"], default="docker")
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--docker-host", default=None)
    parser.add_argument(
        "--time-limit", type=float, default=5.0, help="seconds per case unless the spec sets one"
    )
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run PROGRAM against SPEC (JSON of docs/data_format.md)")
    run.add_argument("program")
    run.add_argument("spec")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    sub.add_parser("check", help="check that the sandbox works end to end")
    sub.add_parser("reap", help="remove stale labelled containers")
    srv = sub.add_parser("serve", help="serve /run_code (SandboxFusion), /run_batch, /health, /metrics")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0: every interface)")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument("--pool-size", type=int, default=4, help="warm containers")
    srv.add_argument("--max-concurrency", type=int, default=None, help="runs at once (default: pool size)")
    srv.add_argument("--cpus", type=float, default=1.0, help="CPU quota per container, in cores")
    srv.add_argument("--pids-limit", type=int, default=64, help="processes + threads per container")
    srv.add_argument("--output-limit-bytes", type=int, default=4 << 20, help="largest stdout per case")
    srv.add_argument("--max-queue", type=int, default=4096, help="runs waiting before requests are refused")
    srv.add_argument(
        "--queue-timeout",
        type=float,
        default=10.0,
        help="seconds a /run_code run may wait to start (then 504)",
    )
    srv.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop each run at its first failing case (all-or-nothing rewards)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        commands = {"run": cmd_run, "check": cmd_check, "reap": cmd_reap, "serve": cmd_serve}
        return commands[args.cmd](args)
    except (SandboxError, BadTestSpec, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
