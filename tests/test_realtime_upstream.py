"""The upstream backend's subscriptions over real sockets: facade(upstream) subscribing over DDP
to the in-process server's /websocket, against the in-process facade directly; and the same
stream kept whole while the upstream DDP connection is cut again and again."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.backends.base import Agent, Message, NoAgent
from app.backends.guarded import GuardedBackend
from app.backends.upstream.client import UpstreamBackend
from app.backends.upstream.ddp import DdpTiming
from app.backends.upstream.realtime import UpstreamRoomEvents
from app.main import create_app
from app.settings import Settings
from tests.proxy import CuttableProxy
from tests.servers import serving
from tests.test_subscriptions import Api, api, eventually, with_task_count

EVENTS = """
subscription($token: String!, $rid: ID!) {
  livechatRoomEvents(token: $token, rid: $rid) {
    __typename
    ... on LivechatMessageEvent {
      message { id rid msg t ts updatedAt editedAt editedBy { id username } urls { url } mdJson }
    }
    ... on LivechatMessageDeleted { id rid }
    ... on LivechatError { code upstreamError }
  }
}"""


@dataclass
class Served:
    app: FastAPI
    url: str


@pytest.fixture
def rocketchat(tmp_path: Path) -> Iterator[Served]:
    """The in-process server: Rocket.Chat's REST routes and /websocket."""
    app = create_app(Settings(database=tmp_path / "rocketchat.db"))
    with serving(app) as url:
        yield Served(app, url)


def facade_settings(tmp_path: Path, rocketchat: Served, **overrides: Any) -> Settings:
    return Settings(
        backend="upstream",
        upstream_url=rocketchat.url,
        database=tmp_path / "unused.db",
        upstream_ddp_backoff_base=0.02,
        upstream_ddp_backoff_cap=0.3,
        **overrides,
    )


@pytest.fixture
def facade(tmp_path: Path, rocketchat: Served) -> Iterator[Served]:
    app = with_task_count(create_app(facade_settings(tmp_path, rocketchat)))
    with serving(app) as url:
        yield Served(app, url)


def upstream_of(app: FastAPI) -> UpstreamBackend:
    backend = app.state.backend
    assert isinstance(backend, GuardedBackend) and isinstance(backend.inner, UpstreamBackend)
    return backend.inner


async def events_until(client: Api, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while len(events) < count:
        frame = await client.frame(timeout)
        assert frame["type"] == "next", frame
        events.append(frame["payload"]["data"]["livechatRoomEvents"])
    return events


async def rest(http: httpx.AsyncClient, method: str, path: str, **body: Any) -> dict[str, Any]:
    answer = await http.request(method, f"/api/v1/livechat/{path}", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_upstream_subscription_gives_the_events_in_process_gives(
    rocketchat: Served, facade: Served
) -> None:
    async with api(rocketchat.url) as direct, api(facade.url) as forwarded:
        rid = await direct.visitor_with_room("same-events")
        direct_operation = await direct.subscribe("same-events", rid, EVENTS)
        await forwarded.subscribe("same-events", rid, EVENTS)
        await eventually(lambda: live(rocketchat.app, 5))  # 1 broker + 4 DDP streams

        http = direct.http
        first = await direct.send("same-events", rid, "first **one**")
        await direct.send("same-events", rid, "second https://rocket.chat")
        await rest(http, "PUT", f"message/{first}", token="same-events", rid=rid, msg="edited")
        await rest(http, "DELETE", f"message/{first}", token="same-events", rid=rid)
        await rest(http, "POST", "room.close", token="same-events", rid=rid)

        expected = await events_until(direct, 5)
        assert [event["__typename"] for event in expected] == [
            "LivechatMessageEvent",
            "LivechatMessageEvent",
            "LivechatMessageEvent",
            "LivechatMessageDeleted",
            "LivechatMessageEvent",
        ]
        assert expected[2]["message"]["id"] == first and expected[2]["message"]["editedAt"]
        assert expected[4]["message"]["t"] == "livechat-close"
        assert await events_until(forwarded, 5) == expected
        await direct.complete(direct_operation)


async def live(app: FastAPI, count: int) -> bool:
    """Live subscriptions on the in-process server: its broker's and its DDP streams."""
    backend = app.state.backend
    return int(backend.inner.broker.subscriber_count) == count


async def test_refusals_over_ddp_are_precise(rocketchat: Served, facade: Served) -> None:
    async with api(facade.url) as client:
        rid = await client.visitor_with_room("owner")
        await client.visitor_with_room("stranger")
        closed = await client.visitor_with_room("closer")
        await client.mutate(
            "mutation($t: String!, $r: ID!) { closeLivechatRoom(input: {token: $t, rid: $r}) "
            "{ __typename } }",
            t="closer",
            r=closed,
        )
        for token, room, code in (
            ("nobody", rid, "INVALID_TOKEN"),
            ("stranger", rid, "INVALID_ROOM"),
            ("closer", closed, "INVALID_ROOM"),
        ):
            operation = await client.subscribe(token, room)
            [error] = await events_until(client, 1)
            assert error["code"] == code, (token, error)
            assert await client.frame() == {"id": operation, "type": "complete"}
    assert not upstream_of(facade.app).live_subscriptions


async def test_nothing_is_left_running_upstream_after_100_cycles(
    rocketchat: Served, facade: Served
) -> None:
    upstream = upstream_of(facade.app)
    ddp = rocketchat.app.state.ddp

    async def tasks() -> int:
        return int((await client.http.get("/_tasks")).json()["tasks"])

    async with api(facade.url) as client:
        rid = await client.visitor_with_room("cycles")
        baseline = await tasks()
        for _ in range(100):
            operation = await client.subscribe("cycles", rid)

            async def subscribed() -> bool:
                return len(upstream.live_subscriptions) == 1 and ddp.subscription_count == 4

            await eventually(subscribed)
            await client.complete(operation)

            async def released() -> bool:
                return not upstream.live_subscriptions and ddp.subscription_count == 0

            await eventually(released)

        async def quiet() -> bool:
            return not ddp.sessions and await tasks() <= baseline

        await eventually(quiet)


class EmptyRoom:
    """The REST side of a room with no messages and no agent yet (a RoomReader)."""

    async def message_history(
        self, token: str, rid: str, limit: int = 20, before: datetime | None = None
    ) -> list[Message]:
        return []

    async def open_room(
        self, token: str, rid: str | None = None, agent_id: str | None = None
    ) -> Any:
        raise AssertionError("the room was not refused")

    async def agent_info(self, token: str, rid: str) -> tuple[Agent | None, bool]:
        raise NoAgent()


async def test_a_room_closed_the_moment_it_started_leaves_no_socket_upstream(
    rocketchat: Served,
) -> None:
    """Closed with no step in between: the task that would read the socket never ran, so
    closing the socket cannot be left to it."""
    ddp = rocketchat.app.state.ddp
    async with api(rocketchat.url) as client:
        rid = await client.visitor_with_room("at-once")
    for _ in range(5):
        events = UpstreamRoomEvents(
            rocketchat.url.replace("http", "ws", 1) + "/websocket",
            "at-once",
            rid,
            {},
            EmptyRoom(),
            lambda document: pytest.fail(f"no message was expected: {document}"),
            DdpTiming(),
        )
        await events.start()
        assert ddp.subscription_count == 4
        await events.aclose()

        async def released() -> bool:
            return not ddp.sessions

        await eventually(released, timeout=5)


async def test_every_message_once_in_order_while_the_upstream_socket_is_cut(
    tmp_path: Path, rocketchat: Served
) -> None:
    """1,000 messages; the upstream DDP connection cut at random moments, at least 5 times."""
    rocketchat_port = int(rocketchat.url.rsplit(":", 1)[1])
    async with CuttableProxy(rocketchat_port) as proxy:
        settings = facade_settings(
            tmp_path, rocketchat, upstream_realtime_url=f"ws://127.0.0.1:{proxy.port}/websocket"
        )
        facade_app = create_app(settings)
        with serving(facade_app) as facade_url:
            async with (
                api(facade_url) as client,
                httpx.AsyncClient(base_url=rocketchat.url) as http,
            ):
                rid = await client.visitor_with_room("faults")
                await client.subscribe("faults", rid, EVENTS)
                await eventually(lambda: live(rocketchat.app, 4))
                count = 1000
                cut_at = set(random.sample(range(50, count - 50), 6))
                sent: list[str] = []
                for index in range(count):
                    if index in cut_at:
                        await proxy.cut_when_connected()
                    body = await rest(
                        http, "POST", "message", token="faults", rid=rid, msg=f"m{index}"
                    )
                    sent.append(body["message"]["_id"])
                events = await events_until(client, count, timeout=30)
                with pytest.raises(TimeoutError):
                    await client.frame(timeout=1)  # and nothing more
                received = [event["message"]["id"] for event in events]
                [subscription] = upstream_of(facade_app).live_subscriptions
                duplicates = len(received) - len(set(received))
                lost = len(set(sent) - set(received))
                print(  # the figures for the record (pytest -s)
                    f"\nfault test: {count} messages, {proxy.cuts} cuts, "
                    f"{proxy.connections} upstream connections, {subscription.reconnects} "
                    f"reconnects, {subscription.back_filled} back-filled, "
                    f"{duplicates} duplicates, {lost} lost"
                )
                assert proxy.cuts >= 5
                # A cut can land on a reconnect still subscribing: then one reconnect covers
                # two cuts.
                assert subscription.reconnects >= 5
                assert proxy.connections > proxy.cuts
                assert subscription.back_filled > 0, "no message was sent during a gap"
                assert duplicates == 0 and lost == 0
                assert received == sent


async def test_keepalive_answers_the_servers_pings_and_drops_a_silent_server(
    tmp_path: Path,
) -> None:
    """The server pings every 0.2 s of silence and would close an unanswering client; the
    facade pings only after 0.8 s and drops the socket after 1.6 s of silence."""
    server_app = create_app(Settings(database=tmp_path / "rocketchat.db", ddp_heartbeat=0.2))
    with serving(server_app) as server_url:
        rocketchat = Served(server_app, server_url)
        async with CuttableProxy(int(server_url.rsplit(":", 1)[1])) as proxy:
            settings = facade_settings(
                tmp_path,
                rocketchat,
                upstream_realtime_url=f"ws://127.0.0.1:{proxy.port}/websocket",
                upstream_ddp_ping_after=0.8,
                upstream_ddp_drop_after=1.6,
            )
            with serving(create_app(settings)) as facade_url:
                async with api(facade_url) as client:
                    rid = await client.visitor_with_room("keepalive")
                    await client.subscribe("keepalive", rid, EVENTS)
                    await eventually(lambda: live(server_app, 4))
                    await asyncio.sleep(1.5)  # many server pings, each answered
                    assert proxy.connections == 1

                    proxy.freeze()  # the server goes silent, the socket stays open
                    frozen_at = asyncio.get_running_loop().time()
                    sent = await client.send("keepalive", rid, "sent while silent")
                    [event] = await events_until(client, 1, timeout=10)
                    assert event["message"]["id"] == sent
                    waited = asyncio.get_running_loop().time() - frozen_at
                    assert waited >= 1.5, "dropped at drop_after, not before"
                    assert proxy.connections == 2, "dropped the silent socket, reconnected"


async def test_a_visitors_subscriptions_share_one_upstream_socket(
    rocketchat: Served, facade: Served
) -> None:
    upstream = upstream_of(facade.app)
    ddp = rocketchat.app.state.ddp
    async with api(facade.url) as client:
        rid = await client.visitor_with_room("tabs")
        first = await client.subscribe("tabs", rid, EVENTS)
        second = await client.subscribe("tabs", rid, EVENTS)

        async def one_socket_two_subscribers() -> bool:
            return len(upstream.live_subscriptions) == 1 and ddp.subscription_count == 4

        await eventually(one_socket_two_subscribers)
        assert len(ddp.sessions) == 1
        sent = await client.send("tabs", rid, "to both tabs")
        frames = [await client.frame(), await client.frame()]
        assert sorted(frame["id"] for frame in frames) == sorted([first, second])
        assert {
            frame["payload"]["data"]["livechatRoomEvents"]["message"]["id"] for frame in frames
        } == {sent}

        await client.complete(first)
        sent = await client.send("tabs", rid, "to the tab left")
        frame = await client.frame()
        assert frame["id"] == second
        assert frame["payload"]["data"]["livechatRoomEvents"]["message"]["id"] == sent

        # A subscriber joining after the room closed is refused, as a new DDP subscription is.
        await client.mutate(
            "mutation($t: String!, $r: ID!) { closeLivechatRoom(input: {token: $t, rid: $r}) "
            "{ __typename } }",
            t="tabs",
            r=rid,
        )
        close = await client.frame()
        assert close["payload"]["data"]["livechatRoomEvents"]["message"]["t"] == "livechat-close"
        late = await client.subscribe("tabs", rid, EVENTS)
        refused = await client.frame()
        assert refused["id"] == late
        assert refused["payload"]["data"]["livechatRoomEvents"]["code"] == "INVALID_ROOM"
        await client.complete(second)

        async def released() -> bool:
            return not upstream.live_subscriptions and ddp.subscription_count == 0

        await eventually(released)
