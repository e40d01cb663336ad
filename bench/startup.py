"""Startup and memory: time to the first answer, and resident memory after 10,000 sends.

    python bench/startup.py [--sends 10000] [--starts 3]

For the in-process backend (a fresh SQLite file) and the upstream backend (in front of
bench/fixed_upstream.py, with its default worker processes): the time from spawning
`livechat-graphql serve` to its first GraphQL answer (median of --starts), then resident
memory (server and workers) once it answers, and again after --sends sends of the shipped
operation through GraphQL (wrk, 8 connections).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import loadgen
import operations
import processes

MIB = 1024 * 1024
TOKEN = "bench"


def first_answer(server: processes.Server) -> float:
    """Seconds from spawn until GraphQL itself answers (not only /healthz)."""
    answer = httpx.post(f"{server.url}/graphql", json={"query": "{ __typename }"})
    assert answer.json() == {"data": {"__typename": "Query"}}, answer.text
    return time.perf_counter() - server.spawned_at


Start = Callable[[], AbstractContextManager[processes.Server]]


def measure(
    label: str, start: Start, room: Callable[[str], str], sends: int, starts: int
) -> list[str]:
    """`room` gives the room id to send to, from the server's URL."""
    times = []
    for _ in range(starts):
        with start() as server:
            times.append(first_answer(server))
    with start() as server:
        idle = server.resident_bytes()
        result = loadgen.post(
            f"{server.url}/graphql",
            operations.graphql_send(TOKEN, room(server.url)),
            expect=operations.GRAPHQL_SUCCESS,
            connections=8,
            requests=sends,
        )
        loaded = server.resident_bytes()
    row = [
        label, f"{statistics.median(times):.2f}", f"{idle / MIB:.0f}",
        f"{loaded / MIB:.0f}", str(result.requests), str(result.failures),
    ]  # fmt: skip
    print(" | ".join(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=10_000)
    parser.add_argument("--starts", type=int, default=3)
    arguments = parser.parse_args()
    loadgen.require_wrk()
    with tempfile.TemporaryDirectory() as scratch, processes.fixed_upstream() as fixed:
        databases = (Path(scratch) / f"bench-{n}.db" for n in range(arguments.starts + 1))
        rows = [
            measure(
                "in-process",
                lambda: processes.livechat_graphql("--database", str(next(databases))),
                lambda url: operations.open_room(url, TOKEN),
                arguments.sends,
                arguments.starts,
            ),
            measure(
                "upstream",
                lambda: processes.livechat_graphql(
                    "--backend", "upstream", "--upstream-url", fixed.url
                ),
                lambda url: operations.FIXED_UPSTREAM_ROOM,
                arguments.sends,
                arguments.starts,
            ),
        ]
    header = ["backend", "first answer s", "RSS idle MiB", "RSS after sends MiB", "sends",
              "failed"]  # fmt: skip
    print()
    print(operations.markdown_table(header, rows))


if __name__ == "__main__":
    main()
