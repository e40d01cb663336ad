"""Facade overhead: the same send through our GraphQL (upstream backend) and straight to REST.

    python bench/facade.py [--requests 4000] [--concurrency 1 8 32]

For each upstream, the send is made both ways with wrk, at each concurrency, in the same run:
GraphQL through `livechat-graphql serve --backend upstream` (the shipped operation, whole md
tree selected) and the REST call straight to the upstream. Two upstreams:

- fixed: bench/fixed_upstream.py, a raw ASGI app answering Rocket.Chat's example body, so the
  upstream costs next to nothing and what remains is the facade;
- in-process: a second `livechat-graphql serve` playing Rocket.Chat through its REST routes
  (durable SQLite writes: closer to a real server's cost).

Prints a markdown table: requests/s, p50 and p99 both ways, the throughput ratio and the p50
latency the facade adds.

    python bench/facade.py --against-mesh [--requests 3000] [--concurrency 1 32] [--rounds 2]

Side by side with GraphQL Mesh (`@omnigraph/openapi` + Hive Gateway, installed from the
lockfile in bench/mesh/ with `npm ci`), what a team would use instead: our facade with 1 and 2
workers, Mesh with 1 and 2 forks, and the REST call itself, all against the same fixed
upstream, on two workloads (flat: the message's fields without md; full: the shipped operation,
whole md tree, against Mesh's `md { type value { type value } }`). The cells run interleaved,
every round in the same order, so a noisy machine weighs on all alike. Each server runs with
its default logging. Then: resident memory of each server, and how the 2-worker facade's CPU
time split between its workers (connections spread by SO_REUSEPORT).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import loadgen
import operations
import processes

MESH = Path(__file__).resolve().parent / "mesh"
FLAT_DOCUMENT = """
mutation Send($input: SendLivechatMessageInput!) {
  sendLivechatMessage(input: $input) {
    __typename
    ... on SendLivechatMessageSuccess {
      message { id rid msg token alias ts updatedAt u { id username name } urls { url }
                mentions { id } channels { id } }
    }
  }
}
"""
MESH_FIELDS = "_id rid msg token alias ts _updatedAt u { _id username name } urls mentions channels"
MESH_DOCUMENT = """
mutation Send($i: post_api_v1_livechat_message_request_Input) {
  post_api_v1_livechat_message(input: $i) {
    ... on post_api_v1_livechat_message_200_response { message { %s } }
  }
}
"""
MESH_SUCCESS = '"_id":"djsajdkscks787"'


def measure(
    label: str, facade: str, upstream: str, token: str, rid: str, levels: list[int], requests: int
) -> list[list[str]]:
    rows = []
    for connections in levels:
        through = loadgen.post(
            f"{facade}/graphql",
            operations.graphql_send(token, rid),
            expect=operations.GRAPHQL_SUCCESS,
            connections=connections,
            requests=requests,
        )
        direct = loadgen.post(
            f"{upstream}/api/v1/livechat/message",
            operations.rest_send(token, rid),
            expect=operations.REST_SUCCESS,
            connections=connections,
            requests=requests,
        )
        rows.append([
            label, str(connections),
            f"{through.per_second:.0f}", f"{through.p50_ms:.2f}", f"{through.p99_ms:.2f}",
            f"{direct.per_second:.0f}", f"{direct.p50_ms:.2f}", f"{direct.p99_ms:.2f}",
            f"{through.per_second / direct.per_second:.2f}",
            f"{through.p50_ms - direct.p50_ms:+.2f}",
            str(through.failures + direct.failures),
        ])  # fmt: skip
        print(" | ".join(rows[-1]), flush=True)
    return rows


def ours_body(workload: str) -> dict[str, Any]:
    body = operations.graphql_send("bench", operations.FIXED_UPSTREAM_ROOM)
    if workload == "flat":
        body["query"] = FLAT_DOCUMENT
    return body


def mesh_body(workload: str) -> dict[str, Any]:
    fields = MESH_FIELDS + (" md { type value { type value } }" if workload == "full" else "")
    variables = {"token": "bench", "rid": operations.FIXED_UPSTREAM_ROOM, "msg": operations.MESSAGE}
    return {"query": MESH_DOCUMENT % fields, "variables": {"i": variables}}


def install_mesh() -> str:
    """`npm ci` in bench/mesh (once), and the path of its Hive Gateway."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("--against-mesh needs Node.js and npm")
    gateway = MESH / "node_modules" / ".bin" / "hive-gateway"
    if not gateway.exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=MESH, check=True)
    return str(gateway)


@contextmanager
def mesh(gateway: str, upstream: str, forks: int, scratch: Path) -> Iterator[processes.Server]:
    """Hive Gateway serving Mesh's supergraph composed against `upstream`."""
    supergraph = scratch / f"supergraph-{forks}.graphql"
    env = {**os.environ, "MESH_UPSTREAM": upstream}
    subprocess.run(
        [str(MESH / "node_modules" / ".bin" / "mesh-compose"), "-o", str(supergraph)],
        cwd=MESH, env=env, check=True, capture_output=True,
    )  # fmt: skip
    command = [gateway, "supergraph", str(supergraph), "--fork", str(forks)]
    with processes.running(command, "/healthcheck", env={"MESH_UPSTREAM": upstream}) as server:
        yield server


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(server: processes.Server) -> float:
    """CPU time of the server and all its workers: a per-request cost that other load on the
    machine does not inflate the way it inflates latency."""
    pids = [server.process.pid, *processes._descendants(server.process.pid)]
    return sum(cpu_seconds(pid) for pid in pids)


def worker_split(server: processes.Server) -> list[float]:
    """CPU seconds of each worker process (the children that did work), largest first."""
    children = processes._descendants(server.process.pid)
    seconds = sorted((cpu_seconds(pid) for pid in children), reverse=True)
    return [value for value in seconds if value > 0.5]


def against_mesh(arguments: argparse.Namespace) -> None:
    gateway = install_mesh()
    info = {"LIVECHAT_GRAPHQL_LOG_LEVEL": "INFO"}  # the default, as served
    print(f"load before: {os.getloadavg()}", flush=True)
    with ExitStack() as stack, tempfile.TemporaryDirectory() as scratch:
        fixed = stack.enter_context(processes.fixed_upstream())
        upstream = ["--backend", "upstream", "--upstream-url", fixed.url]
        servers = {
            "ours 1w": stack.enter_context(
                processes.livechat_graphql(*upstream, "--workers", "1", env=info)
            ),
            "ours 2w": stack.enter_context(
                processes.livechat_graphql(*upstream, "--workers", "2", env=info)
            ),
            "Mesh 1": stack.enter_context(mesh(gateway, fixed.url, 1, Path(scratch))),
            "Mesh 2": stack.enter_context(mesh(gateway, fixed.url, 2, Path(scratch))),
        }
        header = ["round", "workload", "conc.", *(f"{name} req/s" for name in servers),
                  "REST req/s", "best ours / best Mesh", "ours 1w p50 +REST ms",
                  "Mesh 1 p50 +REST ms", "CPU ms/req ours 1w", "CPU ms/req Mesh 1",
                  "failed (ours, Mesh, REST)"]  # fmt: skip
        rows = []
        for name, server in servers.items():  # warm up: Node's JIT, Python's caches
            for workload in ("flat", "full"):
                ours = name.startswith("ours")
                loadgen.post(
                    f"{server.url}/graphql",
                    ours_body(workload) if ours else mesh_body(workload),
                    expect="",
                    connections=8,
                    requests=max(200, arguments.requests // 4),
                )
        for round_number in range(1, arguments.rounds + 1):
            for workload in ("flat", "full"):
                for connections in arguments.concurrency:
                    results = {}
                    cpu_ms = {}
                    for name, server in servers.items():
                        ours = name.startswith("ours")
                        cpu_before = tree_cpu_seconds(server)
                        results[name] = loadgen.post(
                            f"{server.url}/graphql",
                            ours_body(workload) if ours else mesh_body(workload),
                            expect=operations.GRAPHQL_SUCCESS if ours else MESH_SUCCESS,
                            connections=connections,
                            requests=arguments.requests,
                        )
                        spent = tree_cpu_seconds(server) - cpu_before
                        cpu_ms[name] = 1000 * spent / results[name].requests
                    rest = loadgen.post(
                        f"{fixed.url}/api/v1/livechat/message",
                        operations.rest_send("bench", operations.FIXED_UPSTREAM_ROOM),
                        expect=operations.REST_SUCCESS,
                        connections=connections,
                        requests=arguments.requests,
                    )
                    best_ours = max(results["ours 1w"].per_second, results["ours 2w"].per_second)
                    best_mesh = max(results["Mesh 1"].per_second, results["Mesh 2"].per_second)
                    rows.append([
                        str(round_number), workload, str(connections),
                        *(f"{result.per_second:.0f}" for result in results.values()),
                        f"{rest.per_second:.0f}", f"{best_ours / best_mesh:.2f}",
                        f"{results['ours 1w'].p50_ms - rest.p50_ms:+.2f}",
                        f"{results['Mesh 1'].p50_ms - rest.p50_ms:+.2f}",
                        f"{cpu_ms['ours 1w']:.2f}", f"{cpu_ms['Mesh 1']:.2f}",
                        "/".join(str(count) for count in (
                            results["ours 1w"].failures + results["ours 2w"].failures,
                            results["Mesh 1"].failures + results["Mesh 2"].failures,
                            rest.failures)),
                    ])  # fmt: skip
                    print(" | ".join(rows[-1]), flush=True)
        print()
        print(operations.markdown_table(header, rows))
        print()
        memory = {name: server.resident_bytes() / 2**20 for name, server in servers.items()}
        print("resident MiB: " + ", ".join(f"{name} {mib:.0f}" for name, mib in memory.items()))
        print(f"memory ours 1w / Mesh 1: {memory['ours 1w'] / memory['Mesh 1']:.2f}")
        split = worker_split(servers["ours 2w"])
        print(f"ours 2w, CPU seconds per worker: {json.dumps([round(s, 1) for s in split])}")
    print(f"load after: {os.getloadavg()}", flush=True)


def main() -> None:
    def mesh_flags(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--against-mesh", action="store_true", help="side by side with Mesh")
        parser.add_argument("--rounds", type=int, default=2, help="with --against-mesh")

    arguments = loadgen.arguments(__doc__, mesh_flags)
    if arguments.against_mesh:
        against_mesh(arguments)
        return
    rows = []
    with (
        processes.fixed_upstream() as fixed,
        processes.livechat_graphql("--backend", "upstream", "--upstream-url", fixed.url) as facade,
    ):
        rows += measure(
            "fixed", facade.url, fixed.url, "bench", operations.FIXED_UPSTREAM_ROOM,
            arguments.concurrency, arguments.requests,
        )  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        database = str(Path(scratch) / "upstream.db")
        with (
            processes.livechat_graphql("--database", database) as rocketchat,
            processes.livechat_graphql(
                "--backend", "upstream", "--upstream-url", rocketchat.url
            ) as facade,
        ):
            rid = operations.open_room(rocketchat.url, "bench")
            rows += measure(
                "in-process", facade.url, rocketchat.url, "bench", rid,
                arguments.concurrency, arguments.requests,
            )  # fmt: skip
    header = ["upstream", "conc.", "GraphQL req/s", "p50 ms", "p99 ms", "REST req/s",
              "p50 ms", "p99 ms", "GraphQL/REST", "added p50 ms", "failed"]  # fmt: skip
    print()
    print(operations.markdown_table(header, rows))


if __name__ == "__main__":
    main()
