"""The visitor journey: what one widget visitor asks of the facade, from first config to a page
of history (`bench/facade.py --journey`).

Per visitor, the shipped documents of queries/: `livechatConfig` with the visitor's token (as
the example widget asks it), `registerLivechatVisitor`, `openLivechatRoom`, then ten messages,
each typed (`setLivechatTyping` true, then false) and sent (`sendLivechatMessage`, the whole md
tree), and one `livechatMessages` page. N visitors at once, each starting a new journey when
one ends, through `serve --backend upstream` in front of a second server playing Rocket.Chat
(the in-process backend: every route the journey needs, its DDP included, durable writes).

A journey needs each visitor's own state (the room the open answered, then every later call
carries it) and a clock per step kind; wrk's Lua sees answers without the connection they came
on, so the journeys are driven from Python (aiohttp on uvloop, one keep-alive connection per
visitor), whose own CPU time is reported beside the servers'.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from functools import cache
from itertools import count
from typing import Any

import aiohttp
import operations
import orjson
import processes
import side_by_side
import uvloop

STEPS = ("config", "register", "open", "send", "typing", "history")
MESSAGES = 10


@cache
def document(operation: str) -> str:
    """queries/<operation>.graphql with the fragment files it spreads, as a client ships it
    (a fragment it does not use would fail validation)."""
    text = (operations.QUERIES / f"{operation}.graphql").read_text()
    files = {}
    for path in sorted((operations.QUERIES / "fragments").glob("*.graphql")):
        source = path.read_text()
        for name in re.findall(r"^fragment (\w+)", source, re.MULTILINE):
            files[name] = source
    included: set[str] = set()
    while wanted := {n for n in re.findall(r"\.\.\.(\w+)", text) if n in files} - included:
        for name in sorted(wanted):
            if name not in included:
                text += "\n" + files[name]
                included.update(re.findall(r"^fragment (\w+)", files[name], re.MULTILINE))
    return text


@dataclass
class Tally:
    seconds: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    non_2xx: int = 0
    errors: int = 0  # a GraphQL error, or an answer other than the step's success type
    journeys: int = 0

    @property
    def requests(self) -> int:
        return sum(len(times) for times in self.seconds.values())


class Visitor:
    def __init__(self, session: aiohttp.ClientSession, url: str, tally: Tally) -> None:
        self.session, self.url, self.tally = session, url, tally

    async def call(
        self, step: str, operation: str, variables: dict[str, Any]
    ) -> dict[str, Any] | None:
        """One operation; its answer's result, or None (counted) if it is not a success."""
        field_name = operation[0].lower() + operation[1:]
        body = {"query": document(field_name), "variables": variables}
        began = time.perf_counter()
        async with self.session.post(self.url, data=orjson.dumps(body), headers=JSON) as answer:
            payload = await answer.read()
        self.tally.seconds[step].append(time.perf_counter() - began)
        if not 200 <= answer.status < 300:
            self.tally.non_2xx += 1
            return None
        parsed = orjson.loads(payload)
        result = (parsed.get("data") or {}).get(field_name) or {}
        if parsed.get("errors") or not result.get("__typename", "").endswith("Success"):
            self.tally.errors += 1
            return None
        return dict(result)

    async def journey(self, token: str) -> None:
        await self.call("config", "LivechatConfig", {"token": token})
        visitor = {"token": token, "name": "Journey visitor"}
        await self.call("register", "RegisterLivechatVisitor", {"input": visitor})
        opened = await self.call("open", "OpenLivechatRoom", {"input": {"token": token}})
        if opened is None:
            return
        rid = opened["room"]["id"]
        for _ in range(MESSAGES):
            for typing in (True, False):
                typed = {"token": token, "rid": rid, "typing": typing}
                await self.call("typing", "SetLivechatTyping", {"input": typed})
            message = {"token": token, "rid": rid, "msg": operations.MESSAGE}
            await self.call("send", "SendLivechatMessage", {"input": message})
        await self.call("history", "LivechatMessages", {"token": token, "rid": rid, "limit": 20})
        self.tally.journeys += 1


JSON = {"Content-Type": "application/json"}


async def journeys(
    url: str, visitors: int, total: int, prefix: str, headers: dict[str, str]
) -> tuple[Tally, float]:
    """`total` journeys, `visitors` at a time, each request with `headers`; the tally and the
    seconds they took."""
    tally = Tally()
    numbers = count()
    connector = aiohttp.TCPConnector(limit=visitors)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        visitor = Visitor(session, f"{url}/graphql", tally)

        async def one_after_another() -> None:
            while (number := next(numbers)) < total:
                await visitor.journey(f"{prefix}-{number}")

        began = time.perf_counter()
        await asyncio.gather(*(one_after_another() for _ in range(visitors)))
        return tally, time.perf_counter() - began


def ms(values: list[float], quantile: float = 0.5) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0] * 1000:.2f}"
    return f"{statistics.quantiles(values, n=100)[round(quantile * 100) - 1] * 1000:.2f}"


def facades(
    upstream: str, counts: list[int]
) -> Iterator[tuple[str, AbstractContextManager[processes.Server], dict[str, str]]]:
    """Each facade to walk the journeys through, bare and as deployed (bench/side_by_side.py),
    and the headers its visitors send."""
    serve = ["--backend", "upstream", "--upstream-url", upstream]
    info = {"LIVECHAT_GRAPHQL_LOG_LEVEL": "INFO"}  # the default, as served
    for workers in counts:
        served = [*serve, "--workers", str(workers)]
        yield f"ours {workers}w", processes.livechat_graphql(*served, env=info), {}
        deployed = {**info, **side_by_side.deployed_environment()}
        yield (
            f"deployed {workers}w",
            processes.livechat_graphql(*served, env=deployed),
            {"Origin": side_by_side.ORIGIN},
        )


def measure(
    facade: processes.Server,
    rocketchat: processes.Server,
    headers: dict[str, str],
    visitors: int,
    total: int,
    prefix: str,
) -> list[str]:
    """One row: `total` journeys, `visitors` at a time."""
    servers = (facade, rocketchat)
    cpu = [server.cpu_seconds() for server in servers]
    client = time.process_time()
    tally, seconds = uvloop.run(journeys(facade.url, visitors, total, prefix, headers))
    done = max(1, tally.journeys)
    per_journey = [
        1000 * (server.cpu_seconds() - before) / done
        for server, before in zip(servers, cpu, strict=True)
    ]
    client_ms = 1000 * (time.process_time() - client) / done
    return [
        str(tally.journeys), f"{tally.journeys / seconds:.1f}", f"{tally.requests / seconds:.0f}",
        *(ms(tally.seconds[step]) for step in STEPS), ms(tally.seconds["send"], 0.99),
        *(f"{value:.1f}" for value in per_journey), f"{client_ms:.1f}",
        str(tally.non_2xx), str(tally.errors),
    ]  # fmt: skip


def run(arguments: argparse.Namespace) -> None:
    header = ["visitors", "facade", "journeys", "journeys/s", "req/s",
              *(f"p50 ms {step}" for step in STEPS), "p99 ms send",
              "CPU ms/journey facade", "CPU ms/journey upstream", "CPU ms/journey client",
              "non-2xx", "GraphQL errors"]  # fmt: skip
    rows = []
    run_id = os.urandom(4).hex()
    print(f"load before: {os.getloadavg()}", flush=True)
    with (
        tempfile.TemporaryDirectory() as scratch,
        processes.livechat_graphql("--database", f"{scratch}/rocketchat.db") as rocketchat,
    ):
        for name, starting, headers in facades(rocketchat.url, arguments.processes):
            with ExitStack() as stack:
                try:
                    facade = stack.enter_context(starting)
                except processes.NotServing as refusal:
                    reason = side_by_side.refused_because(str(refusal))
                    for visitors in arguments.visitors:
                        rows.append([str(visitors), name, f"refused: {reason}", *["-"] * 14])
                    continue
                # warm up: each document parsed, the upstream's pool and DDP path opened
                uvloop.run(journeys(facade.url, 2, 2, f"warm-{run_id}-{name}", headers))
                for visitors in arguments.visitors:
                    prefix = f"{run_id}-{name}-{visitors}"
                    row = measure(facade, rocketchat, headers, visitors, arguments.journeys, prefix)
                    rows.append([str(visitors), name, *row])
                    print(" | ".join(rows[-1]), flush=True)
    print()
    print(operations.markdown_table(header, rows))
    print()
    print(f"load after: {os.getloadavg()}", flush=True)
