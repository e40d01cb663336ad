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

    python bench/facade.py --against-mesh --against-yoga [--requests 3000] [--concurrency 1 32]
                           [--rounds 2] [--processes 1 2]

Side by side (bench/side_by_side.py), either flag alone or both (`--side-by-side` for ours
alone): our facade bare and deployed
(metrics, CORS with `Origin`, tracing configured with the sampler off) with 1 and 2 workers,
GraphQL Mesh (bench/mesh/) and the hand-written GraphQL Yoga facade (bench/yoga/) with 1 and 2
forks, and the REST call itself, all against the same fixed upstream, on two workloads (flat:
the message's fields without md; full: the shipped operation, whole md tree), cells
interleaved round by round.

    python bench/facade.py --journey [--visitors 1 32] [--journeys 200] [--processes 1 2]

The visitor journey (bench/journey.py): config, register, open, 10 sends, 20 typing calls and
one history page per visitor, through the facade to a second server playing Rocket.Chat.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import journey
import loadgen
import operations
import processes
import side_by_side


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


def flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="ours bare and deployed (implied by --against-*)",
    )
    parser.add_argument("--against-mesh", action="store_true", help="side by side with Mesh")
    parser.add_argument("--against-yoga", action="store_true", help="side by side with Yoga")
    parser.add_argument("--rounds", type=int, default=2, help="side by side: interleaved rounds")
    parser.add_argument(
        "--processes", type=int, nargs="+", default=[1, 2], help="workers, or forks, per server"
    )
    parser.add_argument("--journey", action="store_true", help="the visitor journey")
    parser.add_argument("--visitors", type=int, nargs="+", default=[1, 32], help="journey")
    parser.add_argument("--journeys", type=int, default=200, help="journey: per measurement")


def main() -> None:
    arguments = loadgen.arguments(__doc__, flags)
    arguments.side_by_side |= arguments.against_mesh or arguments.against_yoga
    if arguments.side_by_side:
        side_by_side.run(arguments)
    if arguments.journey:
        journey.run(arguments)
    if arguments.side_by_side or arguments.journey:
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
