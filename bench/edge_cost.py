"""What the deployed configuration costs a request over the bare one, in instructions.

    python bench/edge_cost.py [--workload flat|full] [--requests 400] [--configurations ...]

On a host with steal time, CPU seconds per request swing by a tenth from one run to the next,
as much as the difference being measured. Instructions do not: each configuration's app runs in
a process of its own under valgrind's callgrind (which counts every instruction executed), the
send of `bench/side_by_side.py` posted to it as an ASGI call (no server, no socket on the way
in), its upstream the fixed one over loopback. A process sends 200 requests to warm up and then
either 10 or 10 + --requests; the difference between the two counts, divided by --requests, is
a request's cost, with start-up and warm-up cancelled out. Needs valgrind on PATH.

Configurations: bare (defaults), metrics, cors (CORS_ORIGINS and `Origin` on every request),
tracing (an OTLP endpoint, `parentbased_always_off`) and deployed (all of them, in production
mode), as the side by side's `deployed` cell runs them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import operations
import processes
from side_by_side import ORIGIN, ours_body
from starlette.types import Message

CONFIGURATIONS = ("bare", "metrics", "cors", "tracing", "deployed")
WARM_UP = 200
BASE = 10


def drive(configuration: str, requests: int, upstream: str, workload: str) -> None:
    """Run in the measured process: build the app as configured and send `requests`."""
    import uvloop

    from app.main import create_app
    from app.observability.tracing import provider_from_environment
    from app.settings import Settings

    options: dict[str, Any] = {"backend": "upstream", "upstream_url": upstream}
    headers = [(b"host", b"bench"), (b"content-type", b"application/json")]
    if configuration in ("metrics", "deployed"):
        options["metrics"] = True
    if configuration in ("cors", "deployed"):
        options["cors_origins"] = [ORIGIN]
        headers.append((b"origin", ORIGIN.encode()))
    if configuration == "deployed":
        options["production"] = True
    provider = None
    if configuration in ("tracing", "deployed"):
        from opentelemetry import trace

        os.environ["OTEL_TRACES_SAMPLER"] = "parentbased_always_off"
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{processes.free_port()}"
        provider = provider_from_environment("otlp", "bench")
        trace.set_tracer_provider(provider)
    app = create_app(Settings(**options), tracer_provider=provider)
    body = json.dumps(ours_body(workload)).encode()
    success = operations.GRAPHQL_SUCCESS.encode()
    headers.append((b"content-length", str(len(body)).encode()))

    async def send_one() -> None:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/graphql", "raw_path": b"/graphql",
            "query_string": b"", "root_path": "", "headers": headers, "state": {},
            "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip
        await app(scope, receive, send)
        # A search, not a parse: what the client does is not the server's cost.
        answer = sent[-1]["body"]
        assert sent[0]["status"] == 200 and success in answer and b'"errors"' not in answer, answer

    async def main() -> None:
        async with app.router.lifespan_context(app):
            for _ in range(WARM_UP + requests):
                await send_one()

    uvloop.run(main())


def instructions(configuration: str, requests: int, upstream: str, workload: str) -> int:
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--cache-sim=no",
        sys.executable, __file__, "--drive", configuration, str(requests), upstream, workload,
    ]  # fmt: skip
    # One hash seed for every process: dict and set layouts then match from run to run.
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    finished = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    counted = re.search(r"Collected : (\d+)", finished.stderr)
    if finished.returncode or counted is None:
        raise SystemExit(f"{configuration}: callgrind failed\n{finished.stderr[-3000:]}")
    return int(counted.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=("flat", "full"), default="flat")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--configurations", nargs="+", choices=CONFIGURATIONS,
                        default=list(CONFIGURATIONS))  # fmt: skip
    parser.add_argument("--drive", nargs=4, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.drive:
        configuration, requests, upstream, workload = arguments.drive
        drive(configuration, int(requests), upstream, workload)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed (apt install valgrind)")
    configurations: list[str] = arguments.configurations
    if "bare" not in configurations:
        configurations.insert(0, "bare")
    with processes.fixed_upstream() as upstream, ThreadPoolExecutor(os.cpu_count()) as pool:
        runs = {
            (name, count): pool.submit(instructions, name, count, upstream.url, arguments.workload)
            for name in configurations
            for count in (BASE, BASE + arguments.requests)
        }
        per_request = {
            name: (runs[(name, BASE + arguments.requests)].result() - runs[(name, BASE)].result())
            / arguments.requests
            for name in configurations
        }
    bare = per_request["bare"]
    rows = [
        [name, f"{cost:,.0f}", f"{cost - bare:+,.0f}", f"{cost / bare:.3f}"]
        for name, cost in per_request.items()
    ]
    print(f"workload {arguments.workload}, {arguments.requests} requests a configuration")
    print(operations.markdown_table(
        ["configuration", "instructions/request", "over bare", "ratio to bare"], rows
    ))  # fmt: skip


if __name__ == "__main__":
    main()
