"""Our facade bare and as deployed, beside GraphQL Mesh and a hand-written GraphQL Yoga facade,
all in front of one fixed-answer upstream, in one run (`bench/facade.py --against-mesh
--against-yoga`).

The cells run interleaved, every round in the same order, so a noisy machine weighs on all
alike. Each server runs with its default logging. For each cell: requests/s, p50 and p99 (wrk),
the CPU time of the server's processes over the cell per request (which other load on the
machine does not inflate the way it inflates latency), and the peak resident memory of its
processes so far. Then the ratios: per round, their median over the rounds, and pooled
("all": each cell's requests over its seconds in every round).

On a host with steal time the machine's speed changes within seconds, so two cells run one
after the other can differ by a fifth with nothing changed between them. Many short rounds
(`--rounds 12 --requests 1000`) spread both sides of a ratio over the same bursts, and the
pooled ratio then settles where a median of a few long rounds still swings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import loadgen
import operations
import peers
import processes

# The widget's site, allowed by CORS and sent by every request of the deployed cells.
ORIGIN = "https://widget.example.com"

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


def ours_body(workload: str) -> dict[str, Any]:
    """Our schema's send (also Yoga's): `full` is the shipped operation with its fragments, the
    whole md tree; `flat` the message's fields without md."""
    body = operations.graphql_send("bench", operations.FIXED_UPSTREAM_ROOM)
    if workload == "flat":
        body["query"] = FLAT_DOCUMENT
    return body


def rest_body(workload: str) -> dict[str, Any]:
    return operations.rest_send("bench", operations.FIXED_UPSTREAM_ROOM)


def deployed_environment() -> dict[str, str]:
    """As compose.yaml deploys it (metrics on, production mode), with CORS open to the widget's
    site and tracing configured as a collector would be, the default sampler deciding "not
    sampled" (an OTLP endpoint nobody listens on, so a sampled span would show as a failed
    export, not as a collector's cost)."""
    return {
        "LIVECHAT_GRAPHQL_METRICS": "true",
        "LIVECHAT_GRAPHQL_PRODUCTION": "true",
        "LIVECHAT_GRAPHQL_CORS_ORIGINS": json.dumps([ORIGIN]),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{processes.free_port()}",
        "OTEL_TRACES_SAMPLER": "parentbased_always_off",
    }


@dataclass
class Cell:
    name: str
    kind: str  # ours, deployed, Mesh, Yoga, REST
    count: int  # workers or forks
    server: processes.Server | None  # None: refused to start
    body: Callable[[str], dict[str, Any]]
    expect: str
    path: str = "/graphql"
    headers: dict[str, str] = field(default_factory=dict)
    refused: str = ""


@dataclass(frozen=True)
class Measured:
    load: loadgen.LoadResult
    cpu_ms: float
    peak_mib: float


def check_deployed(server: processes.Server) -> None:
    """The deployed cell is what it says: metrics answer, and a send with `Origin` comes back
    with the CORS header (else its figures would be the bare ones under another name)."""
    metrics = httpx.get(f"{server.url}/metrics")
    answer = httpx.post(f"{server.url}/graphql", json=ours_body("flat"), headers={"Origin": ORIGIN})
    allowed = answer.headers.get("access-control-allow-origin")
    if metrics.status_code != 200 or allowed != ORIGIN or "errors" in answer.json():
        raise SystemExit(
            f"the deployed cell is not deployed: /metrics {metrics.status_code}, CORS {allowed!r}"
        )


def refused_because(failure: str) -> str:
    """The server's own reason, without the URL, pydantic's prefix and its input dump."""
    reason = failure.split(" did not come up: ", 1)[-1].split(" [type=", 1)[0]
    return reason.removeprefix("Value error, ")


def check_same_answers(cells: list[Cell], workloads: tuple[str, ...]) -> None:
    """Every cell that serves our schema answers each workload as our bare facade does, so
    their figures compare the same work."""
    reference = next(cell for cell in cells if cell.kind == "ours")
    for workload in workloads:
        expected = answer(reference, workload)
        for cell in cells:
            ours_schema = cell.kind in ("deployed", "Yoga") and cell.server is not None
            if ours_schema and answer(cell, workload) != expected:
                raise SystemExit(f"{cell.name} answers {workload} unlike {reference.name}")


def answer(cell: Cell, workload: str) -> Any:
    assert cell.server is not None
    url = cell.server.url + cell.path
    return httpx.post(url, json=cell.body(workload), headers=cell.headers).json()


def start_cells(stack: ExitStack, arguments: argparse.Namespace, upstream: str) -> list[Cell]:
    scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    serve = ["--backend", "upstream", "--upstream-url", upstream]
    info = {"LIVECHAT_GRAPHQL_LOG_LEVEL": "INFO"}  # the default, as served
    graphql = operations.GRAPHQL_SUCCESS
    cells = []
    for count in arguments.processes:
        workers = ["--workers", str(count)]
        bare = stack.enter_context(processes.livechat_graphql(*serve, *workers, env=info))
        cells.append(Cell(f"ours {count}w", "ours", count, bare, ours_body, graphql))
        deployed = Cell(f"deployed {count}w", "deployed", count, None, ours_body, graphql,
                        headers={"Origin": ORIGIN})  # fmt: skip
        try:
            deployed.server = stack.enter_context(
                processes.livechat_graphql(*serve, *workers, env={**info, **deployed_environment()})
            )
            check_deployed(deployed.server)
        except processes.NotServing as refusal:
            deployed.refused = refused_because(str(refusal))
        cells.append(deployed)
    for count in arguments.processes:
        if arguments.against_mesh:
            server = stack.enter_context(peers.mesh(upstream, count, scratch))
            cells.append(Cell(f"Mesh {count}", "Mesh", count, server, peers.mesh_body,
                              peers.MESH_SUCCESS))  # fmt: skip
        if arguments.against_yoga:
            server = stack.enter_context(peers.yoga(upstream, count))
            cells.append(Cell(f"Yoga {count}", "Yoga", count, server, ours_body, graphql))
    return cells


def measure(cell: Cell, workload: str, connections: int, requests: int) -> Measured:
    assert cell.server is not None
    cpu_before = cell.server.cpu_seconds()
    load = loadgen.post(
        cell.server.url + cell.path,
        cell.body(workload),
        expect=cell.expect,
        connections=connections,
        requests=requests,
        headers=cell.headers,
    )
    cpu_ms = 1000 * (cell.server.cpu_seconds() - cpu_before) / max(1, load.requests)
    return Measured(load, cpu_ms, cell.server.peak_resident_bytes() / 2**20)


# (title, numerator kind, denominator kind, processes (None: each count; 0: the best of
# each side), CPU per request instead of req/s)
RATIOS = [
    ("deployed/bare {n}", "deployed", "ours", None, False),
    ("ours/Yoga {n}", "ours", "Yoga", None, False),
    ("ours/Yoga best", "ours", "Yoga", 0, False),
    ("CPU/req ours/Yoga {n}", "ours", "Yoga", None, True),
    ("deployed/Yoga {n}", "deployed", "Yoga", None, False),
    ("ours/Mesh {n}", "ours", "Mesh", None, False),
    ("ours/Mesh best", "ours", "Mesh", 0, False),
]


@dataclass(frozen=True)
class Ratio:
    title: str
    above: list[str]  # cell names: the best (highest req/s) of each side is taken
    below: list[str]
    cpu: bool

    def of(self, measured: dict[str, Measured]) -> str:
        def best(names: list[str]) -> Measured:
            return max((measured[name] for name in names), key=lambda m: m.load.per_second)

        top, bottom = best(self.above), best(self.below)
        if self.cpu:
            return f"{top.cpu_ms / bottom.cpu_ms:.2f}"
        return f"{top.load.per_second / bottom.load.per_second:.2f}"


def ratios_of(cells: list[Cell], counts: list[int]) -> list[Ratio]:
    """Each ratio whose two sides both run."""

    def serving(kind: str, count: int) -> list[str]:
        return [c.name for c in cells if c.kind == kind and c.server and count in (0, c.count)]

    ratios = []
    for title, top, bottom, only, cpu in RATIOS:
        for count in [only] if only is not None else counts:
            above, below = serving(top, count), serving(bottom, count)
            if above and below:
                ratios.append(Ratio(title.format(n=count), above, below, cpu))
    return ratios


def pooled(rounds: list[Measured]) -> Measured:
    """A cell's rounds as one measurement: all its requests over all its seconds (so a round
    caught in a burst of steal time weighs as the seconds it took, not as a whole vote), CPU
    per request over all of them, the median round's p50 and p99, the last peak."""
    requests = sum(m.load.requests for m in rounds)
    load = loadgen.LoadResult(
        requests=requests,
        seconds=sum(m.load.seconds for m in rounds),
        p50_ms=statistics.median(m.load.p50_ms for m in rounds),
        p99_ms=statistics.median(m.load.p99_ms for m in rounds),
        failures=sum(m.load.failures for m in rounds),
        graphql_errors=sum(m.load.graphql_errors for m in rounds),
    )
    cpu_ms = sum(m.cpu_ms * m.load.requests for m in rounds) / max(1, requests)
    return Measured(load, cpu_ms, rounds[-1].peak_mib)


def medians(ratio_rows: list[list[str]]) -> list[list[str]]:
    """Per workload and concurrency, the median of each ratio over the rounds (with three or
    more): on a host with steal time a single round can land in a burst."""
    by_place: dict[tuple[str, str], list[list[str]]] = {}
    for row in ratio_rows:
        by_place.setdefault((row[1], row[2]), []).append(row[3:])
    return [
        ["median", workload, connections,
         *(f"{statistics.median(float(r[i]) for r in rounds):.2f}" for i in range(len(rounds[0])))]
        for (workload, connections), rounds in by_place.items()
        if len(rounds) >= 3
    ]  # fmt: skip


def cell_row(place: list[str], name: str, got: Measured) -> list[str]:
    return [
        *place, name, f"{got.load.per_second:.0f}", f"{got.load.p50_ms:.2f}",
        f"{got.load.p99_ms:.2f}", f"{got.cpu_ms:.3f}", f"{got.peak_mib:.0f}",
        str(got.load.failures), str(got.load.graphql_errors),
    ]  # fmt: skip


def run(arguments: argparse.Namespace) -> None:
    print(f"load before: {os.getloadavg()}", flush=True)
    workloads = ("flat", "full")
    with ExitStack() as stack:
        fixed = stack.enter_context(processes.fixed_upstream())
        cells = start_cells(stack, arguments, fixed.url)
        cells.append(Cell("REST", "REST", 1, fixed, rest_body, operations.REST_SUCCESS,
                          path="/api/v1/livechat/message"))  # fmt: skip
        check_same_answers(cells, workloads)
        for cell in cells:  # warm up: Node's JIT, Python's caches
            for workload in workloads if cell.server and cell.kind != "REST" else ():
                warm_up = max(min(200, arguments.requests), arguments.requests // 4)
                measure(cell, workload, 8, warm_up)
        header = ["round", "workload", "conc.", "cell", "req/s", "p50 ms", "p99 ms", "CPU ms/req",
                  "peak RSS MiB", "non-2xx or unexpected", "GraphQL errors"]  # fmt: skip
        rows: list[list[str]] = []
        ratios = ratios_of(cells, arguments.processes)
        ratio_rows: list[list[str]] = []
        # Every round's measurement of each cell, by (workload, concurrency), to pool.
        every_round: dict[tuple[str, str], dict[str, list[Measured]]] = {}
        for round_number in range(1, arguments.rounds + 1):
            for workload in workloads:
                for connections in arguments.concurrency:
                    place = [str(round_number), workload, str(connections)]
                    measured: dict[str, Measured] = {}
                    # The order alternates, so that neither side always runs first after
                    # a change of workload (the host's bursts of steal time last seconds).
                    for cell in cells if round_number % 2 else cells[::-1]:
                        if cell.server is None:
                            rows.append([*place, cell.name, f"refused: {cell.refused}",
                                         *["-"] * 6])  # fmt: skip
                            print(" | ".join(rows[-1]), flush=True)
                            continue
                        got = measure(cell, workload, connections, arguments.requests)
                        measured[cell.name] = got
                        every_round.setdefault((workload, str(connections)), {}).setdefault(
                            cell.name, []
                        ).append(got)
                        rows.append(cell_row(place, cell.name, got))
                        print(" | ".join(rows[-1]), flush=True)
                    ratio_rows.append([*place, *(ratio.of(measured) for ratio in ratios)])
        pooled_rows, pooled_ratio_rows = [], []
        for (workload, connections), by_cell in every_round.items():
            place = ["all", workload, connections]
            cells_pooled = {name: pooled(rounds) for name, rounds in by_cell.items()}
            pooled_rows += [cell_row(place, name, got) for name, got in cells_pooled.items()]
            pooled_ratio_rows.append([*place, *(ratio.of(cells_pooled) for ratio in ratios)])
        print()
        print(operations.markdown_table(header, rows + pooled_rows))
        print()
        ratio_header = ["round", "workload", "conc.", *(ratio.title for ratio in ratios)]
        print(operations.markdown_table(
            ratio_header, ratio_rows + medians(ratio_rows) + pooled_ratio_rows
        ))  # fmt: skip
        print()
    print(f"load after: {os.getloadavg()}", flush=True)
