"""A visitor's typing with no subscription in this process (upstream backend): one DDP socket
per visitor carries a burst of typing calls, over real sockets to the in-process server playing
Rocket.Chat, and is closed after it (`app.backends.upstream.typing_sockets`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.backends.base import UpstreamUnavailable
from app.backends.upstream.ddp import DdpTiming
from app.backends.upstream.typing_sockets import TypingSockets
from app.main import create_app
from tests.proxy import CuttableProxy
from tests.servers import free_port, serving
from tests.test_agents import (
    AgentDdp,
    Served,
    agent,
    agent_ddp,
    facade_settings,
    graphql,
    rocketchat_settings,
)
from tests.test_subscriptions import api, eventually


@pytest.fixture
def rocketchat(tmp_path: Path) -> Iterator[Served]:
    """The in-process server playing Rocket.Chat, its agents online."""
    app = create_app(rocketchat_settings(tmp_path))
    with serving(app) as url:
        yield Served(url, app)


@asynccontextmanager
async def agent_hearing_typing(rocketchat: Served, rid: str) -> AsyncIterator[AgentDdp]:
    """Ann, who serves the room, subscribed to its typing."""
    async with agent(rocketchat.url) as ann, agent_ddp(rocketchat.url, ann.token) as ddp:
        params = [f"{rid}/user-activity", {"useCollection": False, "args": [{}]}]
        await ddp.send({"msg": "sub", "id": "t", "name": "stream-notify-room", "params": params})
        assert await ddp.frame() == {"msg": "ready", "subs": ["t"]}
        yield ddp


async def heard(ddp: AgentDdp) -> list[Any]:
    frame = await ddp.frame()
    assert frame["collection"] == "stream-notify-room", frame
    args: list[Any] = frame["fields"]["args"]
    return args


def typing_params(rid: str, token: str, on: bool = True) -> list[Any]:
    return [
        f"{rid}/user-activity",
        f"guest-{token}",
        ["user-typing"] if on else [],
        {"token": token},
    ]


async def test_a_burst_of_typing_without_a_subscription_goes_over_one_socket(
    rocketchat: Served, tmp_path: Path
) -> None:
    port = int(rocketchat.url.rsplit(":", 1)[1])
    async with CuttableProxy(port) as proxy:
        realtime = f"ws://127.0.0.1:{proxy.port}/websocket"
        facade = create_app(
            facade_settings(rocketchat.url, tmp_path, upstream_realtime_url=realtime)
        )
        with serving(facade) as facade_url:
            async with httpx.AsyncClient(base_url=facade_url) as http:
                await graphql(http, "registerLivechatVisitor", {"input": {"token": "burst"}})
                opened = await graphql(http, "openLivechatRoom", {"input": {"token": "burst"}})
                rid = opened["openLivechatRoom"]["room"]["id"]

                async def typing(on: bool) -> None:
                    done = await graphql(
                        http, "setLivechatTyping",
                        {"input": {"token": "burst", "rid": rid, "typing": on}},
                    )  # fmt: skip
                    assert done["setLivechatTyping"]["__typename"] == "SetLivechatTypingSuccess"

                async with agent_hearing_typing(rocketchat, rid) as ddp:
                    names = set()
                    for on in (True, False) * 3:
                        await typing(on)
                        name, activity, *_ = await heard(ddp)
                        names.add(name)
                        assert activity == (["user-typing"] if on else [])
                    assert len(names) == 1 and proxy.connections == 1
                    # Rocket.Chat drops the idle socket: the next call is made on a new one.
                    proxy.cut()
                    await typing(True)
                    assert (await heard(ddp))[1] == ["user-typing"]
                    assert proxy.connections == 2 and proxy.carrying == 1
        # The facade stopped: its kept socket with it.

        async def closed() -> bool:
            return proxy.carrying == 0

        await eventually(closed, timeout=5)


async def test_a_kept_socket_is_closed_after_its_burst(rocketchat: Served) -> None:
    sessions = rocketchat.app.state.ddp.sessions
    async with api(rocketchat.url) as client:
        rid = await client.visitor_with_room("idle")
    url = rocketchat.url.replace("http", "ws", 1) + "/websocket"
    sockets = TypingSockets(url, DdpTiming(), kept_for=0.3)
    async with agent_hearing_typing(rocketchat, rid) as ddp:
        await sockets.call("idle", {}, "stream-notify-room", typing_params(rid, "idle"))
        assert (await heard(ddp))[1] == ["user-typing"]
        assert sockets.kept == 1 and len(sessions) == 2  # the agent's and the kept one

        async def closed() -> bool:
            return sockets.kept == 0 and len(sessions) == 1

        await eventually(closed, timeout=5)
        await sockets.call("idle", {}, "stream-notify-room", typing_params(rid, "idle", False))
        assert (await heard(ddp))[1] == []
        await sockets.aclose()
        await eventually(closed, timeout=5)


async def test_one_socket_per_visitor_and_address_at_most_so_many(rocketchat: Served) -> None:
    sessions = rocketchat.app.state.ddp.sessions
    rooms = {}
    async with api(rocketchat.url) as client:
        for token in ("v1", "v2", "v3"):
            rooms[token] = await client.visitor_with_room(token)
    url = rocketchat.url.replace("http", "ws", 1) + "/websocket"
    sockets = TypingSockets(url, DdpTiming(), most=2)
    try:
        # One visitor's calls at once take turns on one socket.
        await asyncio.gather(*(
            sockets.call("v1", {}, "stream-notify-room", typing_params(rooms["v1"], "v1", on))
            for on in (True, False) * 3
        ))  # fmt: skip
        assert sockets.kept == 1 and len(sessions) == 1
        # Another address is another socket: Rocket.Chat counts each address's calls.
        elsewhere = {"x-forwarded-for": "203.0.113.7"}
        await sockets.call("v1", elsewhere, "stream-notify-room", typing_params(rooms["v1"], "v1"))
        assert sockets.kept == 2
        first = set(sessions)
        # A third: the one idle longest (v1 with no address) is closed.
        await sockets.call("v2", {}, "stream-notify-room", typing_params(rooms["v2"], "v2"))

        async def two_open() -> bool:
            return sockets.kept == 2 and len(sessions) == 2

        await eventually(two_open, timeout=5)
        kept = set(sessions)
        assert len(kept & first) == 1  # the one from elsewhere stayed: it is used again
        await sockets.call("v1", elsewhere, "stream-notify-room", typing_params(rooms["v1"], "v1"))
        assert set(sessions) == kept
        await sockets.call("v3", {}, "stream-notify-room", typing_params(rooms["v3"], "v3"))
        await eventually(two_open, timeout=5)
    finally:
        await sockets.aclose()

    async def none_open() -> bool:
        return not sessions

    await eventually(none_open, timeout=5)
    # Closed: no call opens another socket.
    with pytest.raises(UpstreamUnavailable, match="closed"):
        await sockets.call("v1", {}, "stream-notify-room", typing_params(rooms["v1"], "v1"))
    assert sockets.kept == 0 and not sessions


async def test_an_unreachable_realtime_server_is_unavailable_and_nothing_is_kept() -> None:
    sockets = TypingSockets(f"ws://127.0.0.1:{free_port()}/websocket", DdpTiming(connect_timeout=1))
    with pytest.raises(UpstreamUnavailable, match="unreachable"):
        await sockets.call("nobody", {}, "stream-notify-room", typing_params("r", "nobody"))
    assert sockets.kept == 0
    await sockets.aclose()
