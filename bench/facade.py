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
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import loadgen
import operations
import processes


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


def main() -> None:
    arguments = loadgen.arguments(__doc__)
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
