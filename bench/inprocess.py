"""In-process throughput: durable sends per second through GraphQL and through the REST route.

    python bench/inprocess.py [--sends 2000] [--concurrency 1 8 32]

Starts `livechat-graphql serve` on a loopback port with a fresh SQLite file, opens one room per
client, then sends messages over real HTTP (keep-alive connections, one per client) and prints
sends/s, p50 and p99 latency for each path and concurrency. Every send is acknowledged only
after its commit is on disk (WAL, synchronous=FULL), so these are durable sends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MESSAGE = "Hello **world** :smile: see https://rocket.chat and `code` for @ann"
SEND = (ROOT / "queries" / "sendLivechatMessage.graphql").read_text() + "\n".join(
    path.read_text() for path in sorted((ROOT / "queries" / "fragments").glob("*.graphql"))
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def open_room(client: httpx.AsyncClient, token: str) -> str:
    await client.post("/api/v1/livechat/visitor", json={"visitor": {"token": token, "name": token}})
    room = await client.get("/api/v1/livechat/room", params={"token": token})
    return str(room.json()["room"]["_id"])


async def graphql_send(client: httpx.AsyncClient, token: str, rid: str) -> None:
    variables = {"input": {"token": token, "rid": rid, "msg": MESSAGE}}
    answer = await client.post("/graphql", json={"query": SEND, "variables": variables})
    assert (
        answer.json()["data"]["sendLivechatMessage"]["__typename"] == "SendLivechatMessageSuccess"
    )


async def rest_send(client: httpx.AsyncClient, token: str, rid: str) -> None:
    answer = await client.post(
        "/api/v1/livechat/message", json={"token": token, "rid": rid, "msg": MESSAGE}
    )
    assert answer.json()["success"] is True


Sender = Callable[[httpx.AsyncClient, str, str], Awaitable[None]]


async def run(base_url: str, send: Sender, sends: int, concurrency: int, tag: str) -> list[float]:
    latencies: list[float] = []
    per_client = sends // concurrency

    async def client_loop(index: int) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            token = f"{tag}-{concurrency}-{index}"
            rid = await open_room(client, token)
            for _ in range(per_client):
                began = time.perf_counter()
                await send(client, token, rid)
                latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(client_loop(i) for i in range(concurrency)))
    return latencies


def report(label: str, latencies: list[float], seconds: float) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{label:22} {len(ordered) / seconds:10.0f} {statistics.median(ordered) * 1000:9.2f}"
        f" {p99 * 1000:9.2f}",
        flush=True,
    )


async def bench(base_url: str, sends: int, levels: list[int]) -> None:
    print(f"{'path, concurrency':22} {'sends/s':>10} {'p50 ms':>9} {'p99 ms':>9}")
    for concurrency in levels:
        for name, send in (("graphql", graphql_send), ("rest", rest_send)):
            began = time.perf_counter()
            latencies = await run(base_url, send, sends, concurrency, name)
            report(f"{name}, c={concurrency}", latencies, time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    arguments = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port),
             "--database", os.path.join(scratch, "bench.db")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base_url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    if httpx.get(f"{base_url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            asyncio.run(bench(base_url, arguments.sends, arguments.concurrency))
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
