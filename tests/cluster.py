"""Replicas as they run in production: one upstream, several facade processes in upstream mode
in front of it, and a load balancer that routes round-robin among those whose `/readyz` says
200 (checked every 0.1 s, as a load balancer's health check would)."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx

from tests.running import ServerProcess

HEALTH_INTERVAL = 0.1


class Cluster:
    def __init__(self, upstream: ServerProcess, replicas: list[ServerProcess]) -> None:
        self.upstream = upstream
        self.replicas = replicas

    def stored_ids(self) -> list[str]:
        """Message ids in the upstream's store, duplicates included."""
        with sqlite3.connect(self.upstream.database) as connection:
            return [row[0] for row in connection.execute("SELECT id FROM messages")]


@contextmanager
def cluster(directory: Path, replicas: int = 2, drain: float = 0.0) -> Iterator[Cluster]:
    upstream = ServerProcess(directory / "rocketchat.db").start()
    started: list[ServerProcess] = []
    try:
        for index in range(replicas):
            replica = ServerProcess(
                directory / f"replica-{index}.db",
                "--backend", "upstream", "--upstream-url", upstream.url, "--workers", "1",
                environment={"LIVECHAT_GRAPHQL_SHUTDOWN_DRAIN": str(drain)},
            )  # fmt: skip
            started.append(replica.start())
        yield Cluster(upstream, started)
    finally:
        for server in [*started, upstream]:
            server.stop()


class LoadBalancer:
    """Round-robin over the replicas that pass their health check; one pool per replica."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.healthy = set(urls)
        self.clients = {url: httpx.AsyncClient(base_url=url, timeout=30) for url in urls}
        self.served: dict[str, int] = dict.fromkeys(urls, 0)
        self._turn = itertools.count()

    def pick(self) -> httpx.AsyncClient:
        candidates = [url for url in self.urls if url in self.healthy]
        url = candidates[next(self._turn) % len(candidates)]
        self.served[url] += 1
        return self.clients[url]

    async def check(self) -> None:
        while True:
            for url in self.urls:
                try:
                    answer = await self.clients[url].get("/readyz")
                    up = answer.status_code == 200
                except httpx.TransportError:
                    up = False
                if not up:
                    self.healthy.discard(url)
            await asyncio.sleep(HEALTH_INTERVAL)


@asynccontextmanager
async def balancing(urls: list[str]) -> AsyncIterator[LoadBalancer]:
    balancer = LoadBalancer(urls)
    checking = asyncio.create_task(balancer.check())
    try:
        yield balancer
    finally:
        checking.cancel()
        for client in balancer.clients.values():
            await client.aclose()
