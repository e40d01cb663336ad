"""The in-process server's DDP endpoint at /websocket, frame by frame over a real socket, and
Rocket.Chat's own widget library (`@rocket.chat/ddp-client`, tests/clients/realtime) against it."""

from __future__ import annotations

import asyncio
import shutil
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
from tests.helpers import NPM
from tests.servers import serving
from tests.test_subscriptions import run_node


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(Settings(database=tmp_path / "ddp.db", ddp_heartbeat=0.5))


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serving(app) as url:
        yield url


class Ddp:
    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket

    async def send(self, frame: dict[str, Any]) -> None:
        await self.socket.send(orjson.dumps(frame).decode())

    async def frame(self, timeout: float = 5) -> Any:
        return orjson.loads(await asyncio.wait_for(self.socket.recv(), timeout))

    async def connect(self) -> None:
        await self.send({"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]})
        connected = await self.frame()
        assert connected["msg"] == "connected" and isinstance(connected["session"], str)

    async def sub(self, sub_id: str, name: str, event: str, token: str) -> None:
        credentials = {"token": token, "visitorToken": token}
        params = [event, {"useCollection": False, "args": [credentials]}]
        await self.send({"msg": "sub", "id": sub_id, "name": name, "params": params})


@asynccontextmanager
async def ddp(server: str) -> AsyncIterator[Ddp]:
    async with websockets.connect(server.replace("http", "ws", 1) + "/websocket") as socket:
        client = Ddp(socket)
        assert await client.frame() == {"server_id": "0"}
        yield client


async def visitor_with_room(http: httpx.AsyncClient, token: str) -> str:
    await http.post("/api/v1/livechat/visitor", json={"visitor": {"token": token}})
    room = (await http.get("/api/v1/livechat/room", params={"token": token})).json()
    return str(room["room"]["_id"])


async def send(http: httpx.AsyncClient, token: str, rid: str, msg: str) -> dict[str, Any]:
    answer = await http.post(
        "/api/v1/livechat/message", json={"token": token, "rid": rid, "msg": msg}
    )
    message: dict[str, Any] = answer.json()["message"]
    return message


async def test_handshake_ping_and_refusals_as_rocket_chat_frames_them(server: str) -> None:
    async with ddp(server) as client:
        await client.send({"msg": "ping"})
        assert await client.frame() == {"msg": "error", "reason": "Must connect first"}
        await client.connect()
        await client.send({"msg": "ping", "id": "p1"})
        assert await client.frame() == {"msg": "pong", "id": "p1"}
        await client.send({"msg": "ping"})
        assert await client.frame() == {"msg": "pong"}

        await client.sub("s1", "stream-room-messages", "no-such-room", "no-such-token")
        refused = await client.frame()
        assert refused["msg"] == "nosub" and refused["id"] == "s1"
        assert refused["error"]["error"] == "not-allowed"
        await client.sub("s2", "stream-room-messages", "", "x")
        assert (await client.frame())["error"]["error"] == "invalid-event-name"
        await client.sub("s3", "stream-nothing", "rid", "x")
        assert (await client.frame())["error"]["error"] == 404

    async with ddp(server) as client:
        await client.send({"msg": "connect", "version": "0.9"})
        assert await client.frame() == {"msg": "failed", "version": "1"}


async def test_a_visitors_streams_push_changed_frames_once_per_subscription_id(
    app: FastAPI, server: str
) -> None:
    async with httpx.AsyncClient(base_url=server) as http, ddp(server) as client:
        rid = await visitor_with_room(http, "ddp-visitor")
        await client.connect()
        await client.sub("m", "stream-room-messages", rid, "ddp-visitor")
        assert await client.frame() == {"msg": "ready", "subs": ["m"]}
        # The widget's library sends a queued subscription twice with the same id: a no-op.
        await client.sub("m", "stream-room-messages", rid, "ddp-visitor")
        await client.sub("d", "stream-notify-room", f"{rid}/deleteMessage", "ddp-visitor")
        assert await client.frame() == {"msg": "ready", "subs": ["d"]}
        assert app.state.ddp.subscription_count == 2

        stored = await send(http, "ddp-visitor", rid, "hello **there**")
        changed = await client.frame()
        assert changed["msg"] == "changed"
        assert changed["collection"] == "stream-room-messages"
        assert changed["id"] == "id"
        assert changed["fields"]["eventName"] == rid
        [message] = changed["fields"]["args"]
        assert message["_id"] == stored["_id"] and message["msg"] == "hello **there**"
        assert message["md"] == stored["md"]
        assert isinstance(message["ts"]["$date"], int)
        assert isinstance(message["_updatedAt"]["$date"], int)
        with pytest.raises(TimeoutError):
            await client.frame(timeout=0.3)  # once, although subscribed "twice"

        await client.send({"msg": "unsub", "id": "m"})
        assert await client.frame() == {"msg": "nosub", "id": "m"}
        assert app.state.ddp.subscription_count == 1
        await send(http, "ddp-visitor", rid, "unheard")
        with pytest.raises(TimeoutError):
            await client.frame(timeout=0.3)
    await asyncio.sleep(0.1)
    assert app.state.ddp.subscription_count == 0


async def test_a_subscription_dropped_at_once_leaves_no_listener(app: FastAPI, server: str) -> None:
    """`unsub` (or a dropped socket) right behind `sub`: the push task may not have taken a
    step yet, and the room's listener must go with it all the same."""
    broker = app.state.backend.inner.broker
    async with httpx.AsyncClient(base_url=server) as http:
        rid = await visitor_with_room(http, "ddp-at-once")
        for cycle in range(20):
            async with ddp(server) as client:
                await client.connect()
                await client.sub(f"m{cycle}", "stream-room-messages", rid, "ddp-at-once")
                await client.send({"msg": "unsub", "id": f"m{cycle}"})
                await client.sub(f"k{cycle}", "stream-room-messages", rid, "ddp-at-once")
                assert await client.frame() == {"msg": "ready", "subs": [f"m{cycle}"]}
            await asyncio.sleep(0.05)
            assert (app.state.ddp.subscription_count, broker.subscriber_count) == (0, 0)


async def test_the_server_pings_a_silent_client_and_drops_it_when_it_stays_silent(
    server: str,
) -> None:
    async with ddp(server) as client:
        await client.connect()
        assert await client.frame(timeout=2) == {"msg": "ping"}
        await client.send({"msg": "pong"})
        assert await client.frame(timeout=2) == {"msg": "ping"}
        with pytest.raises(websockets.ConnectionClosed):
            await client.frame(timeout=2)


@pytest.mark.skipif(
    shutil.which("node") is None or NPM is None, reason="needs Node 20 and npm on PATH"
)
def test_rocket_chats_widget_library_runs_the_widget_flow(server: str) -> None:
    done = run_node("widget.test.mjs", server)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# pass 1" in done.stdout
