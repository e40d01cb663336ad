"""Clients that stop reading, on real sockets: graphql-transport-ws at /graphql and DDP at
/websocket are cut off once their outbox passes its bound, and what the server held for them is
let go; a reading subscriber of the same room misses nothing. And the cap on subscriptions per
connection, on both."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets
from fastapi import FastAPI

from app.main import create_app
from app.settings import Settings
from app.websocket_protocol import SLOW_CONSUMER, WebSocketProtocol
from tests.helpers import operation
from tests.servers import serving
from tests.test_ddp import Ddp
from tests.test_subscriptions import Api, broker_subscribers, eventually

OUTBOX = 65536
# Each mention is a markdown node: one event of the shipped subscription is some 360 KB, of
# DDP some 170 KB. The server's socket buffer takes a few MB before its outbox fills.
LONG_MESSAGE = "@a " * 1666
ROOM_EVENTS = operation("livechatRoomEvents")
CLOSE_REASON = f"slow consumer: more than {OUTBOX} bytes unread"
SENDS = 40  # at most, before a stalled client must have been cut off
CAP = 20  # subscriptions per connection


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = Settings(
        database=tmp_path / "slow.db",
        websocket_outbox_bytes=OUTBOX,
        max_subscriptions_per_connection=CAP,
    )
    return create_app(settings)


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serving(app, WebSocketProtocol.bounded(OUTBOX)) as url:
        yield url


def unsent_bytes(server: str) -> list[int]:
    """What each WebSocket still open on `server` has buffered and not sent (the test's server
    runs in a thread of this process)."""
    port = httpx.URL(server).port
    return [
        protocol.transport.get_write_buffer_size()
        for protocol in gc.get_objects()
        if isinstance(protocol, WebSocketProtocol)
        and protocol.server is not None
        and protocol.server[1] == port
        and not protocol.transport.is_closing()
    ]


async def live(app: FastAPI, count: int) -> bool:
    return broker_subscribers(app) == count


async def stalled(url: str, subprotocol: str | None = None) -> websockets.ClientConnection:
    """A client that reads only when asked to, with a small socket buffer: once one frame waits
    unread, it stops reading its socket, as a phone in a tunnel does."""
    address = httpx.URL(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (address.host, address.port))
    return await websockets.connect(
        url,
        sock=sock,
        max_queue=1,
        max_size=None,
        compression=None,  # the message repeats itself: deflated, it would hardly fill anything
        subprotocols=[websockets.Subprotocol(subprotocol)] if subprotocol else None,
    )


async def read_to_close(client: websockets.ClientConnection) -> tuple[int, str] | None:
    """Read what the server sent until it closed: the close code and reason, or None when
    the connection ended with no close frame."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(client.recv(), 30)
    close = closed.value.rcvd
    return None if close is None else (close.code, close.reason)


@asynccontextmanager
async def graphql_ws(server: str) -> AsyncIterator[websockets.ClientConnection]:
    client = await stalled(server.replace("http", "ws", 1) + "/graphql", "graphql-transport-ws")
    async with client:
        await client.send('{"type":"connection_init"}')
        assert orjson.loads(await client.recv()) == {"type": "connection_ack"}
        yield client


async def subscribe(client: websockets.ClientConnection, number: int, token: str, rid: str) -> None:
    payload = {"query": ROOM_EVENTS, "variables": {"token": token, "rid": rid}}
    message = {"type": "subscribe", "id": str(number), "payload": payload}
    await client.send(orjson.dumps(message).decode())


def server_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_stalled_graphql_ws_reader_is_cut_off_and_a_reading_one_gets_every_event(
    app: FastAPI, server: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two sockets of CAP subscriptions each stop reading: both are closed with 1008 once their
    outbox passes its bound, their subscriptions end at once, and their buffers go: one
    that reads again gets the close frame after what it had not read, the other is dropped
    after the closing timeout. A third socket, reading, gets every message in order."""
    async with (
        httpx.AsyncClient(base_url=server, timeout=60) as http,
        graphql_ws(server) as resumes,
        graphql_ws(server) as never_reads,
        graphql_ws(server) as reads,
    ):
        api = Api(http, reads)
        rid = await api.visitor_with_room("slow")
        for client in (resumes, never_reads):
            for number in range(CAP):
                await subscribe(client, number, "slow", rid)
        await subscribe(reads, 1, "slow", rid)
        await eventually(lambda: live(app, 2 * CAP + 1))
        sent: list[str] = []
        while broker_subscribers(app) > 1:
            assert len(sent) < SENDS, "the stalled sockets were never cut off"
            sent.append(await api.send("slow", rid, LONG_MESSAGE))
            frame = orjson.loads(await asyncio.wait_for(reads.recv(), 30))
            assert frame["payload"]["data"]["livechatRoomEvents"]["message"]["id"] == sent[-1]
        assert await read_to_close(resumes) == (SLOW_CONSUMER, CLOSE_REASON)

        async def only_the_reader_left() -> bool:
            return unsent_bytes(server) == [0]

        await eventually(only_the_reader_left, timeout=60)  # the closing timeout is 10 s
        assert await read_to_close(never_reads) is None  # dropped, with its close frame
        sent.append(await api.send("slow", rid, "still here"))
        frame = orjson.loads(await asyncio.wait_for(reads.recv(), 30))
        assert frame["payload"]["data"]["livechatRoomEvents"]["message"]["id"] == sent[-1]
    assert server_errors(caplog) == []


@asynccontextmanager
async def ddp(server: str) -> AsyncIterator[tuple[Ddp, websockets.ClientConnection]]:
    client = await stalled(server.replace("http", "ws", 1) + "/websocket")
    async with client:
        session = Ddp(client)
        assert (await session.frame())["server_id"] == "0"
        await session.connect()
        yield session, client


async def ready(session: Ddp, sub_id: str, token: str, rid: str) -> dict[str, Any]:
    await session.sub(sub_id, "stream-room-messages", rid, token)
    answer: dict[str, Any] = await session.frame()
    return answer


async def test_a_stalled_ddp_reader_is_cut_off_and_a_reading_one_gets_every_event(
    app: FastAPI, server: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        httpx.AsyncClient(base_url=server, timeout=60) as http,
        ddp(server) as (stalling, stalling_socket),
        ddp(server) as (reading, _),
    ):
        await http.post("/api/v1/livechat/visitor", json={"visitor": {"token": "slow"}})
        room = (await http.get("/api/v1/livechat/room", params={"token": "slow"})).json()
        rid = room["room"]["_id"]
        for number in range(CAP):
            assert await ready(stalling, str(number), "slow", rid) == {
                "msg": "ready",
                "subs": [str(number)],
            }
        assert (await ready(reading, "1", "slow", rid))["msg"] == "ready"
        assert app.state.ddp.subscription_count == CAP + 1
        sent: list[str] = []
        while app.state.ddp.subscription_count > 1:
            assert len(sent) < SENDS, "the stalled connection was never cut off"
            answer = await http.post(
                "/api/v1/livechat/message", json={"token": "slow", "rid": rid, "msg": LONG_MESSAGE}
            )
            sent.append(answer.json()["message"]["_id"])
            frame = await reading.frame(timeout=30)
            assert frame["msg"] == "changed" and frame["fields"]["args"][0]["_id"] == sent[-1]
        assert broker_subscribers(app) == 1
        assert await read_to_close(stalling_socket) == (SLOW_CONSUMER, CLOSE_REASON)

        async def only_the_reader_left() -> bool:
            return unsent_bytes(server) == [0]

        await eventually(only_the_reader_left, timeout=60)
    assert server_errors(caplog) == []


async def test_a_ddp_connection_holds_at_most_the_cap_of_subscriptions(
    app: FastAPI, server: str
) -> None:
    async with (
        httpx.AsyncClient(base_url=server) as http,
        ddp(server) as (session, _),
    ):
        await http.post("/api/v1/livechat/visitor", json={"visitor": {"token": "many"}})
        room = (await http.get("/api/v1/livechat/room", params={"token": "many"})).json()
        rid = room["room"]["_id"]
        for number in range(CAP):
            assert (await ready(session, str(number), "many", rid))["msg"] == "ready"
        refused = await ready(session, "extra", "many", rid)
        assert refused["msg"] == "nosub" and refused["id"] == "extra"
        assert refused["error"]["error"] == "too-many-subscriptions"
        assert refused["error"]["reason"] == (
            f"Too many subscriptions on one connection (at most {CAP})"
        )
        assert app.state.ddp.subscription_count == CAP
        await session.send({"msg": "unsub", "id": "0"})
        assert await session.frame() == {"msg": "nosub", "id": "0"}
        assert (await ready(session, "extra", "many", rid))["msg"] == "ready"


async def test_a_graphql_ws_socket_runs_at_most_the_cap_of_subscriptions(
    app: FastAPI, server: str
) -> None:
    async with httpx.AsyncClient(base_url=server) as http, graphql_ws(server) as client:
        rid = await Api(http, client).visitor_with_room("many")
        for number in range(CAP + 1):
            await subscribe(client, number, "many", rid)
        refused = orjson.loads(await asyncio.wait_for(client.recv(), 10))
        assert refused["id"] == str(CAP) and refused["type"] == "error"
        assert refused["payload"][0]["message"] == "Subscription limit reached"
        await eventually(lambda: live(app, CAP))
