"""In-process throughput: durable sends per second through GraphQL and through the REST route.

    python bench/inprocess.py [--requests 4000] [--concurrency 1 8 32]

Starts `livechat-graphql serve` (in-process, a fresh SQLite file), opens a room, then sends
with wrk over keep-alive connections: the shipped GraphQL operation (whole md tree selected)
and Rocket.Chat's REST route, at each concurrency. Every send is answered only after its
commit is on disk (WAL, synchronous=FULL), so these are durable sends.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import loadgen
import operations
import processes


def main() -> None:
    arguments = loadgen.arguments(__doc__)
    rows = []
    with (
        tempfile.TemporaryDirectory() as scratch,
        processes.livechat_graphql("--database", str(Path(scratch) / "bench.db")) as running,
    ):
        server = running.url
        rid = operations.open_room(server, "bench")
        for connections in arguments.concurrency:
            for path, url, body, expect in (
                ("GraphQL", f"{server}/graphql", operations.graphql_send("bench", rid),
                 operations.GRAPHQL_SUCCESS),
                ("REST", f"{server}/api/v1/livechat/message", operations.rest_send("bench", rid),
                 operations.REST_SUCCESS),
            ):  # fmt: skip
                result = loadgen.post(
                    url, body, expect=expect, connections=connections, requests=arguments.requests
                )
                rows.append([
                    path, str(connections), f"{result.per_second:.0f}",
                    f"{result.p50_ms:.2f}", f"{result.p99_ms:.2f}", str(result.failures),
                ])  # fmt: skip
                print(" | ".join(rows[-1]), flush=True)
    header = ["path", "conc.", "durable sends/s", "p50 ms", "p99 ms", "failed"]
    print()
    print(operations.markdown_table(header, rows))


if __name__ == "__main__":
    main()
