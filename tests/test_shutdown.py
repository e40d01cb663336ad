"""SIGTERM to one of two replicas under load, behind a load balancer: it drains (health 503,
connections closed after each answer), finishes what it had begun, closes WebSockets with 1012
(service restart) and exits 0; no acknowledged send is lost and no request sees its connection
reset or refused."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import httpx
import websockets

from tests.cluster import LoadBalancer, balancing, cluster
from tests.helpers import operation

CLIENTS = 16
DRAIN = 1.0
SEND = operation("sendLivechatMessage")


async def open_rooms(balancer: LoadBalancer) -> list[tuple[str, str]]:
    rooms = []
    for index in range(CLIENTS):
        token = f"shutdown-{index}"
        register = {"input": {"token": token}}
        await balancer.pick().post(
            "/graphql", json={"query": operation("registerLivechatVisitor"), "variables": register}
        )
        room = await balancer.pick().post(
            "/graphql", json={"query": operation("openLivechatRoom"), "variables": register}
        )
        rooms.append((token, room.json()["data"]["openLivechatRoom"]["room"]["id"]))
    return rooms


async def load(
    balancer: LoadBalancer,
    rooms: list[tuple[str, str]],
    stop: asyncio.Event,
    acked: set[str],
    endings: Counter[str],
) -> None:
    """Clients send through the balancer until told to stop; every ending is counted."""

    async def client(index: int) -> None:
        token, rid = rooms[index]
        for n in range(100_000):
            if stop.is_set():
                return
            message_id = f"sd-c{index}-n{n}"
            variables = {"input": {"token": token, "rid": rid, "msg": f"{n}", "id": message_id}}
            try:
                answer = await balancer.pick().post(
                    "/graphql", json={"query": SEND, "variables": variables}
                )
            except httpx.TransportError as error:
                endings[f"transport error: {type(error).__name__}"] += 1
                continue
            endings[str(answer.status_code)] += 1
            sent = answer.json()["data"]["sendLivechatMessage"]
            if sent["__typename"] == "SendLivechatMessageSuccess":
                assert sent["message"]["id"] == message_id
                acked.add(message_id)

    await asyncio.gather(*(client(index) for index in range(CLIENTS)))


async def open_socket(url: str) -> websockets.ClientConnection:
    socket = await websockets.connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
    )
    await socket.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    return socket


async def test_sigterm_under_load_drains_finishes_and_exits_0(tmp_path: Path) -> None:
    with cluster(tmp_path, replicas=2, drain=DRAIN) as replicas:
        leaving, staying = replicas.replicas
        async with balancing([leaving.url, staying.url]) as balancer:
            rooms = await open_rooms(balancer)
            socket = await open_socket(leaving.url)
            acked: set[str] = set()
            endings: Counter[str] = Counter()
            stop = asyncio.Event()
            running = asyncio.create_task(load(balancer, rooms, stop, acked, endings))
            await asyncio.sleep(1.0)
            before = dict(balancer.served)
            status = await asyncio.to_thread(leaving.terminate)
            await asyncio.sleep(0.5)
            stop.set()
            await running
            await socket.wait_closed()
        stored = replicas.stored_ids()

    after = {url: balancer.served[url] - before[url] for url in balancer.served}
    print(
        f"\nSIGTERM to one of 2 replicas under {CLIENTS} clients: exit {status};"
        f" endings {dict(endings)}; {len(acked)} acked, {len(stored)} stored;"
        f" requests before SIGTERM {before}, from SIGTERM on {after}"
    )
    assert status == 0
    assert socket.close_code == 1012
    assert set(endings) == {"200"}, endings
    assert after[staying.url] > 0 and before[leaving.url] > 0
    assert len(stored) == len(set(stored)), "a message is stored twice"
    assert acked <= set(stored), f"{len(acked - set(stored))} acknowledged sends were lost"
