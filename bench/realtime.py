"""Subscriptions at scale: delivery latency and memory while messages flow.

    python bench/realtime.py [--subscriptions 1000] [--rooms 100] [--rate 200] [--seconds 10]
                             [--upstream-subscriptions 200] [--compare-subscriptions 100]

On the in-process backend (`livechat-graphql serve`, a real process): --subscriptions
`livechatRoomEvents` subscriptions, each on its own graphql-transport-ws socket as a browser
tab would (opened by bench/subscribers.mjs in Node), spread evenly over --rooms rooms, with
the shipped subscription (queries/livechatRoomEvents.graphql: the Message fragment, markdown
included). Then --rate sends per second (the shipped send mutation, over HTTP, rooms in turn)
for --seconds. Latency is from the start of a send's request to each subscriber's event, and
from the send's answer to the event (0 when the event came first: the store tells subscribers
just before it acknowledges); memory is the server's resident set before and after the
subscriptions opened; CPU is the server's, and the load generator's (sender and subscribers),
in cores over the sending.

Rows:
- "shared": the subscribers of a room send the same document and variables, so each event is
  executed and serialised once for all of them (what Apollo clients of one visitor do).
- "distinct": each subscriber's document differs (an alias), so each event is executed once
  per subscriber: the cost without sharing, measured in the same run against a "shared" row of
  the same size (--compare-subscriptions; every distinct document is parsed and validated
  once, which is why this comparison is smaller).
- "upstream": the facade in upstream mode in front of the in-process server, one upstream DDP
  socket per visitor's room shared by its subscribers (--upstream-subscriptions of them, rooms
  and rate scaled down alike); memory is the facade's own, per 1,000 subscriptions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import operations
import orjson
import processes
import uvloop

MIB = 1024 * 1024
BENCH = Path(__file__).resolve().parent
FRAGMENTS = "\n".join(
    path.read_text() for path in sorted((operations.QUERIES / "fragments").glob("*.graphql"))
)
# The shipped subscription with every fragment file, as a client ships it.
SUBSCRIPTION = (operations.QUERIES / "livechatRoomEvents.graphql").read_text() + FRAGMENTS


@dataclass
class Run:
    asked: dict[str, float] = field(default_factory=dict)  # message id -> send started at
    answered: dict[str, float] = field(default_factory=dict)  # message id -> send answered at
    arrived: list[tuple[str, float]] = field(default_factory=list)  # message id, epoch ms
    received: int = 0
    failed_sends: int = 0


def node_flags() -> list[str]:
    """Node 22 has a WebSocket of its own; Node 20 behind a flag."""
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    return [] if major >= 22 else ["--experimental-websocket", "--no-warnings"]


def subscription(token: str, rid: str, distinct: int | None) -> dict[str, object]:
    """The shipped document; a distinct one has an alias of its own after `__typename`."""
    query = SUBSCRIPTION
    if distinct is not None:
        query = query.replace("__typename", f"__typename\n    s{distinct}: __typename", 1)
    return {"query": query, "variables": {"token": token, "rid": rid}}


async def send_at_rate(
    http: httpx.AsyncClient, rooms: list[tuple[str, str]], rate: float, seconds: float, run: Run
) -> None:
    document = operations.SEND_DOCUMENT
    began = time.perf_counter()
    total = int(rate * seconds)

    async def one(index: int) -> None:
        token, rid = rooms[index % len(rooms)]
        delay = began + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        variables = {"input": {"token": token, "rid": rid, "msg": operations.MESSAGE}}
        asked = time.time()
        try:
            answer = await http.post("/graphql", json={"query": document, "variables": variables})
        except httpx.TransportError:
            run.failed_sends += 1
            return
        answered = time.time()
        data = answer.json().get("data") or {}
        message = (data.get("sendLivechatMessage") or {}).get("message")
        if message is None:
            run.failed_sends += 1
            return
        run.asked[message["id"]] = asked
        run.answered[message["id"]] = answered

    await asyncio.gather(*(one(index) for index in range(total)))


def open_rooms(url: str, count: int, prefix: str) -> list[tuple[str, str]]:
    return [(f"{prefix}-{n}", operations.open_room(url, f"{prefix}-{n}")) for n in range(count)]


async def measure(
    label: str,
    server: processes.Server,
    graphql_url: str,
    rooms: list[tuple[str, str]],
    subscriptions: int,
    rate: float,
    seconds: float,
    *,
    distinct: bool,
) -> list[str]:
    run = Run()
    before = server.resident_bytes()
    subscribers = await asyncio.create_subprocess_exec(
        "node", *node_flags(), str(BENCH / "subscribers.mjs"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 28,
    )  # fmt: skip
    assert subscribers.stdin is not None and subscribers.stdout is not None
    specification = {
        "url": graphql_url.replace("http", "ws", 1) + "/graphql",
        "subscriptions": [
            subscription(*rooms[index % len(rooms)], index if distinct else None)
            for index in range(subscriptions)
        ],
    }
    subscribers.stdin.write(orjson.dumps(specification) + b"\n")
    assert await subscribers.stdout.readline() == b"ready\n"
    await asyncio.sleep(2)  # every subscription live before the first send
    opened = server.resident_bytes()
    async with httpx.AsyncClient(
        base_url=graphql_url,
        limits=httpx.Limits(max_connections=32, keepalive_expiry=1),
        timeout=30,
    ) as http:
        # One send before the figures: a document's first use parses, validates and plans it
        # (the shipped send and the subscription, with the markdown fragment, about 0.3 s each),
        # once per process; its events are expected but not measured.
        warm_up = Run()
        await send_at_rate(http, rooms[:1], 1, 1, warm_up)
        [(message_id, answered)] = warm_up.answered.items()
        print(f"warm-up send: {(answered - warm_up.asked[message_id]) * 1000:.0f} ms", flush=True)
        await asyncio.sleep(1)
        cpu_before = server.cpu_seconds()
        own_before, node_before = time.process_time(), processes.cpu_of(subscribers.pid)
        window = time.perf_counter()
        await send_at_rate(http, rooms, rate, seconds, run)
        window = time.perf_counter() - window
    server_cpu = (server.cpu_seconds() - cpu_before) / window
    client_cpu = time.process_time() - own_before + processes.cpu_of(subscribers.pid) - node_before
    expected = (len(run.answered) + len(warm_up.answered)) * (subscriptions // len(rooms))
    subscribers.stdin.write(orjson.dumps({"expect": expected}) + b"\n")
    run.arrived = [
        (message_id, at) for message_id, at in orjson.loads(await subscribers.stdout.readline())
    ]
    run.received = len(run.arrived)
    await subscribers.wait()
    from_send = sorted(
        arrived / 1000 - run.asked[message_id]
        for message_id, arrived in run.arrived
        if message_id in run.asked
    ) or [float("nan")]
    after_answer = sorted(
        max(0.0, arrived / 1000 - run.answered[message_id])
        for message_id, arrived in run.arrived
        if message_id in run.answered
    ) or [float("nan")]
    per_room = subscriptions // len(rooms)
    delivered = Counter(message_id for message_id, _ in run.arrived)
    lost = sum(max(0, per_room - delivered[message_id]) for message_id in run.answered)
    per_thousand = (opened - before) / subscriptions * 1000 / MIB
    row = [
        label, str(subscriptions), str(len(rooms)), f"{rate:g}",
        f"{statistics.median(from_send) * 1000:.1f}", f"{percentile(from_send, 99) * 1000:.1f}",
        f"{percentile(after_answer, 99) * 1000:.1f}",
        f"{server_cpu:.2f}", f"{client_cpu / window:.2f}",
        f"{before / MIB:.0f}", f"{opened / MIB:.0f}", f"{per_thousand:.0f}",
        str(run.received), str(run.failed_sends), str(lost),
    ]  # fmt: skip
    print(" | ".join(row), flush=True)
    return row


def percentile(ordered: list[float], rank: int) -> float:
    return ordered[min(len(ordered) - 1, len(ordered) * rank // 100)]


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200, help="sends per second")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--upstream-subscriptions", type=int, default=200)
    parser.add_argument(
        "--compare-subscriptions", type=int, default=100,
        help="subscriptions of the shared/distinct comparison (rooms and rate scaled alike)",
    )  # fmt: skip
    arguments = parser.parse_args()
    print(f"load average before: {load_average()} on {os.cpu_count()} cores", flush=True)
    rows = []
    compare = arguments.compare_subscriptions / arguments.subscriptions
    runs = [
        ("shared", arguments.subscriptions, arguments.rooms, arguments.rate, False),
        ("shared", arguments.compare_subscriptions, max(1, round(arguments.rooms * compare)),
         arguments.rate * compare, False),
        ("distinct", arguments.compare_subscriptions, max(1, round(arguments.rooms * compare)),
         arguments.rate * compare, True),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        for number, (label, subscriptions, room_count, rate, distinct) in enumerate(runs):
            database = str(Path(scratch) / f"run-{number}.db")
            with processes.livechat_graphql("--database", database) as server:
                rooms = open_rooms(server.url, room_count, label)
                rows.append(
                    await measure(
                        label,
                        server,
                        server.url,
                        rooms,
                        subscriptions,
                        rate,
                        arguments.seconds,
                        distinct=distinct,
                    )
                )
        database = str(Path(scratch) / "upstream.db")
        scale = arguments.upstream_subscriptions / arguments.subscriptions
        with (
            processes.livechat_graphql("--database", database) as rocketchat,
            processes.livechat_graphql(
                "--backend", "upstream", "--upstream-url", rocketchat.url, "--workers", "1"
            ) as facade,
        ):
            rooms = open_rooms(rocketchat.url, max(1, round(arguments.rooms * scale)), "up")
            rows.append(
                await measure(
                    "upstream",
                    facade,
                    facade.url,
                    rooms,
                    arguments.upstream_subscriptions,
                    arguments.rate * scale,
                    arguments.seconds,
                    distinct=False,
                )
            )
    print(f"load average after: {load_average()}")
    header = [
        "documents", "subscriptions", "rooms", "sends/s", "p50 ms from send",
        "p99 ms from send", "p99 ms after answer", "server CPU cores", "client CPU cores",
        "RSS before MiB", "RSS open MiB", "MiB per 1,000 subs", "events", "sends failed", "lost",
    ]  # fmt: skip
    print()
    print(operations.markdown_table(header, rows))


if __name__ == "__main__":
    uvloop.run(main())
