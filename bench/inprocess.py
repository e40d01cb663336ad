"""In-process throughput: durable sends per second through GraphQL and through the REST route.

    python bench/inprocess.py [--requests 4000] [--concurrency 1 8 32] [--baseline CHECKOUT]

Starts `livechat-graphql serve` (in-process, a fresh SQLite file), opens a room, then sends
with wrk over keep-alive connections: the shipped GraphQL operation (whole md tree selected)
and Rocket.Chat's REST route, at each concurrency. Every send is answered only after its
commit is on disk (WAL, synchronous=FULL), so these are durable sends. The mean group size is
how many sends each commit carried (from the store's figures on /healthz).

With `--baseline CHECKOUT` (another checkout of this project, e.g. a `git worktree` of an older
commit) each measurement runs on both servers, one after the other, so that the ratio between
them is measured under the same load on the machine; both are sent the baseline's operation,
which both schemas answer, so that both do the same work.
"""

from __future__ import annotations

import argparse
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx
import loadgen
import operations
import processes


def store_figures(url: str) -> tuple[int, int] | None:
    """(commits, writes) so far, or None when the server does not report them."""
    store = httpx.get(f"{url}/healthz").json().get("store")
    return (store["commits"], store["writes"]) if store else None


def mean_group(before: tuple[int, int] | None, after: tuple[int, int] | None) -> str:
    if before is None or after is None or after[0] == before[0]:
        return "n/a"
    return f"{(after[1] - before[1]) / (after[0] - before[0]):.1f}"


def main() -> None:
    def baseline(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--baseline", type=Path, help="a checkout to measure alongside")

    arguments = loadgen.arguments(__doc__, baseline)
    builds = {**({"baseline": arguments.baseline} if arguments.baseline else {}), "this": None}
    document = operations.send_document(arguments.baseline or operations.ROOT)
    rows = []
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as servers:
        rooms = {}
        for name, source in builds.items():
            server = servers.enter_context(
                processes.livechat_graphql(
                    "--database", str(Path(scratch) / f"{name}.db"), source=source
                )
            )
            rooms[name] = (server.url, operations.open_room(server.url, "bench"))
        for connections in arguments.concurrency:
            for path in ("GraphQL", "REST"):
                for name, (base_url, rid) in rooms.items():
                    if path == "GraphQL":
                        url = f"{base_url}/graphql"
                        body = operations.graphql_send("bench", rid, document)
                        expect = operations.GRAPHQL_SUCCESS
                    else:
                        url = f"{base_url}/api/v1/livechat/message"
                        body, expect = operations.rest_send("bench", rid), operations.REST_SUCCESS
                    before = store_figures(base_url)
                    result = loadgen.post(
                        url, body, expect=expect, connections=connections,
                        requests=arguments.requests,
                    )  # fmt: skip
                    rows.append([
                        path, str(connections), name, f"{result.per_second:.0f}",
                        f"{result.p50_ms:.2f}", f"{result.p99_ms:.2f}",
                        mean_group(before, store_figures(base_url)), str(result.failures),
                    ])  # fmt: skip
                    print(" | ".join(rows[-1]), flush=True)
    header = ["path", "conc.", "build", "durable sends/s", "p50 ms", "p99 ms", "mean group",
              "failed"]  # fmt: skip
    print()
    print(operations.markdown_table(header, rows))


if __name__ == "__main__":
    main()
