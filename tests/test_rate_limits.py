"""Rate limits: each visitor on their own.

Rocket.Chat limits its REST API per client address, route and method (10 calls a minute, 5 for
registering and for opening a room). The facade tells it who each visitor is, so that visitors
do not share one address's calls; the in-process backend with `rate_limit=rocketchat` limits
exactly as Rocket.Chat does, and serves here as that Rocket.Chat, behind a recorder of the
headers each request brings it. Everything crosses real loopback sockets, each visitor from an
address of its own (127.0.0.0/8 is all loopback).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from app.backends.base import LivechatBackend
from app.backends.inprocess.limits import (
    API,
    OPERATION_ROUTES,
    RateLimitedBackend,
    RocketChatLimiter,
    Rule,
    meteor_address,
    rocketchat_address,
)
from app.backends.inprocess.rest import routes
from app.backends.inprocess.widget_rest import routes as widget_routes
from app.main import create_app
from app.settings import Settings
from tests.servers import serving

SEND = """mutation($input: SendLivechatMessageInput!) { sendLivechatMessage(input: $input) {
  __typename ... on SendLivechatMessageSuccess { message { id msg } }
  ... on LivechatError { code reason } } }"""
REGISTER = """mutation($input: RegisterLivechatVisitorInput!) {
  registerLivechatVisitor(input: $input) { __typename ... on LivechatError { code } } }"""
OPEN = """mutation($input: OpenLivechatRoomInput!) { openLivechatRoom(input: $input) {
  __typename ... on OpenLivechatRoomSuccess { room { id } } ... on LivechatError { code } } }"""
SUBSCRIBE = """subscription($token: String!, $rid: ID!) {
  livechatRoomEvents(token: $token, rid: $rid) { __typename } }"""
MESSAGE_ROUTE = f"{API}/message"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


# ---- the limiter, as Rocket.Chat's reference describes it ----


def test_the_eleventh_call_in_a_window_is_refused_and_the_headers_count_down() -> None:
    clock = Clock()
    limiter = RocketChatLimiter(clock=clock)
    verdicts = [limiter.hit("POST", MESSAGE_ROUTE, "198.51.100.1") for _ in range(11)]
    assert [verdict.allowed for verdict in verdicts if verdict] == [True] * 10 + [False]
    assert [verdict.remaining for verdict in verdicts if verdict] == [*range(9, -1, -1), 0]
    first = verdicts[0]
    assert first is not None
    assert first.headers(clock()) == {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "9",
        "X-RateLimit-Reset": str(int((clock() + 60) * 1000)),
    }
    refused = verdicts[-1]
    assert refused is not None
    assert refused.message() == (
        "Error, too many requests. Please slow down. You must wait 60 seconds before trying"
        " this endpoint again. [error-too-many-requests]"
    )


def test_counters_are_per_address_per_route_and_per_method() -> None:
    limiter = RocketChatLimiter(clock=Clock())
    for _ in range(10):
        limiter.hit("POST", MESSAGE_ROUTE, "198.51.100.1")
    assert not _allowed(limiter.hit("POST", MESSAGE_ROUTE, "198.51.100.1"))
    assert _allowed(limiter.hit("POST", MESSAGE_ROUTE, "198.51.100.2"))
    assert _allowed(limiter.hit("GET", f"{API}/message/{{message_id}}", "198.51.100.1"))
    assert _allowed(limiter.hit("POST", f"{API}/room.close", "198.51.100.1"))


def test_registering_and_opening_a_room_allow_five_a_minute() -> None:
    limiter = RocketChatLimiter(clock=Clock())
    for method, route in (("POST", f"{API}/visitor"), ("GET", f"{API}/room")):
        allowed = [_allowed(limiter.hit(method, route, "198.51.100.1")) for _ in range(6)]
        assert allowed == [True] * 5 + [False]


def test_a_window_starts_again_for_every_address_at_once_after_it_has_passed() -> None:
    clock = Clock()
    limiter = RocketChatLimiter({}, clock=clock)
    clock.now += 30
    for address in ("198.51.100.1", "198.51.100.2"):
        for _ in range(10):
            limiter.hit("POST", MESSAGE_ROUTE, address)
    clock.now += 30  # the window (from the limiter's start) ends now, not after
    refused = limiter.hit("POST", MESSAGE_ROUTE, "198.51.100.1")
    assert refused is not None and not refused.allowed and refused.wait == 0
    clock.now += 0.001
    again = limiter.hit("POST", MESSAGE_ROUTE, "198.51.100.2")
    assert again is not None and again.allowed and again.remaining == 9 and again.wait == 60
    assert limiter.addresses("POST", MESSAGE_ROUTE) == {"198.51.100.2": 1}


def test_a_call_from_an_unknown_address_is_not_limited() -> None:
    limiter = RocketChatLimiter({("POST", MESSAGE_ROUTE): Rule(calls=1, window=60)}, Clock())
    assert [limiter.hit("POST", MESSAGE_ROUTE, None) for _ in range(3)] == [None] * 3


@pytest.mark.parametrize(
    ("headers", "peer", "count", "expected"),
    [
        ({}, "10.0.0.1", 1, "10.0.0.1"),
        ({b"x-real-ip": b"192.0.2.7"}, "10.0.0.1", 1, "192.0.2.7"),
        ({b"x-forwarded-for": b"192.0.2.1, 192.0.2.2"}, "10.0.0.1", 1, "192.0.2.2"),
        ({b"x-forwarded-for": b"192.0.2.1, 192.0.2.2"}, "10.0.0.1", 2, "192.0.2.1"),
        ({b"x-forwarded-for": b"192.0.2.1"}, "10.0.0.1", 2, "10.0.0.1"),
        ({b"x-forwarded-for": b"192.0.2.1"}, "10.0.0.1", 0, "10.0.0.1"),
        ({b"x-forwarded-for": b"192.0.2.1", b"x-real-ip": b"192.0.2.7"}, None, 1, "192.0.2.1"),
    ],
)
def test_the_address_rocketchat_derives_for_a_rest_call(
    headers: dict[bytes, bytes], peer: str | None, count: int, expected: str
) -> None:
    assert rocketchat_address(headers.items(), peer, count) == expected


def test_the_address_meteor_derives_for_a_ddp_connection() -> None:
    forwarded = [(b"x-forwarded-for", b"192.0.2.1, 192.0.2.2"), (b"x-real-ip", b"192.0.2.7")]
    assert meteor_address(forwarded, "10.0.0.1") == "192.0.2.2"
    assert meteor_address(forwarded, "10.0.0.1", forwarded_count=0) == "10.0.0.1"
    assert meteor_address([(b"x-real-ip", b"192.0.2.7")], "10.0.0.1") is None


def test_every_operation_counts_against_a_route_rocketchat_serves() -> None:
    served = {
        (method, route.path)
        for route in [*routes, *widget_routes]
        for method in route.methods or ()
    }
    operations = {name for name in dir(LivechatBackend) if not name.startswith("_")} - {
        "subscribe_room",
        "set_typing",  # a DDP method, as the subscription is: no REST route's limit
        "readiness",
        "aclose",
        "open_file",  # a download is not a REST API call: Rocket.Chat's limiter never sees it
    }
    assert set(OPERATION_ROUTES) == operations
    assert set(OPERATION_ROUTES.values()) <= served
    for name in operations:  # each wrapper counts its own operation
        assert f'self._count("{name}")' in inspect.getsource(getattr(RateLimitedBackend, name))


def _allowed(verdict: Any) -> bool:
    return bool(verdict.allowed)


# ---- over real HTTP ----


@dataclass
class Recorder:
    """The headers every request and WebSocket upgrade brings the app it wraps."""

    app: FastAPI
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = {name.decode(): value.decode() for name, value in scope["headers"]}
            self.seen.append((scope["type"], scope["path"], headers))
        await self.app(scope, receive, send)

    def limiter(self) -> RocketChatLimiter:
        limiter: RocketChatLimiter = self.app.state.backend.inner.rate_limiter
        return limiter


@contextmanager
def rocketchat(tmp_path: Path) -> Iterator[tuple[Recorder, str]]:
    """Our in-process backend as a Rocket.Chat that limits like one."""
    settings = Settings(database=tmp_path / "rocketchat.db", rate_limit="rocketchat")
    recorder = Recorder(create_app(settings))
    with serving(cast(FastAPI, recorder)) as url:
        yield recorder, url


@contextmanager
def facade(upstream: str, tmp_path: Path, **options: Any) -> Iterator[str]:
    settings = Settings(
        backend="upstream", upstream_url=upstream, database=tmp_path / "unused.db", **options
    )
    with serving(create_app(settings)) as url:
        yield url


@asynccontextmanager
async def visitor_client(
    url: str, address: str, **headers: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose connections come from `address`."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(transport=transport, base_url=url, headers=headers) as client:
        yield client


async def post(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def open_room(client: httpx.AsyncClient, token: str) -> str:
    registered = await post(client, REGISTER, {"input": {"token": token, "name": token}})
    assert registered["data"]["registerLivechatVisitor"]["__typename"] != "LivechatError"
    opened = await post(client, OPEN, {"input": {"token": token}})
    rid: str = opened["data"]["openLivechatRoom"]["room"]["id"]
    return rid


async def sends(
    client: httpx.AsyncClient, token: str, rid: str, count: int
) -> list[dict[str, Any]]:
    return [
        await post(client, SEND, {"input": {"token": token, "rid": rid, "msg": f"message {n}"}})
        for n in range(count)
    ]


def stored(database: Path, rid: str) -> list[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT document FROM messages WHERE rid = ?", (rid,))
        documents = [json.loads(row[0]) for row in rows.fetchall()]
    return [document["msg"] for document in documents if not document.get("t")]


async def test_thirty_visitors_from_thirty_addresses_each_send_eight_in_one_window(
    tmp_path: Path,
) -> None:
    with rocketchat(tmp_path) as (recorder, upstream), facade(upstream, tmp_path) as url:
        started = time.monotonic()

        async def one_visitor(n: int) -> list[dict[str, Any]]:
            address = f"127.0.0.{n + 2}"
            async with visitor_client(url, address, **{"User-Agent": f"widget/{n}"}) as client:
                rid = await open_room(client, f"visitor-{n}")
                return await sends(client, f"visitor-{n}", rid, 8)

        answers = await asyncio.gather(*(one_visitor(n) for n in range(30)))
        assert time.monotonic() - started < 60  # one window: else the test proves nothing
        refused = [a for visitor in answers for a in visitor if "errors" in a]
        assert refused == []
        sent = [a["data"]["sendLivechatMessage"]["__typename"] for v in answers for a in v]
        assert sent == ["SendLivechatMessageSuccess"] * 240
        assert recorder.limiter().addresses("POST", MESSAGE_ROUTE) == {
            f"127.0.0.{n + 2}": 8 for n in range(30)
        }
        messages = [h for kind, path, h in recorder.seen if path == MESSAGE_ROUTE]
        assert len(messages) == 240
        agents = {(h["x-forwarded-for"], h["x-real-ip"], h["user-agent"]) for h in messages}
        assert agents == {(f"127.0.0.{n + 2}",) * 2 + (f"widget/{n}",) for n in range(30)}


async def test_one_visitor_sending_twelve_gets_ten_stored_then_rate_limited(
    tmp_path: Path,
) -> None:
    with rocketchat(tmp_path) as (recorder, upstream), facade(upstream, tmp_path) as url:
        async with visitor_client(url, "127.0.0.2") as client:
            rid = await open_room(client, "eager")
            answers = await sends(client, "eager", rid, 12)
    assert all("errors" not in answer for answer in answers[:10])
    for answer in answers[10:]:
        assert answer["data"] is None
        [error] = answer["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert 0 < error["extensions"]["retryAfter"] <= 60
    assert sorted(stored(tmp_path / "rocketchat.db", rid)) == sorted(
        f"message {n}" for n in range(10)
    )
    # Refused at once: a wait past UPSTREAM_RETRY_AFTER_CAP is not waited out.
    assert len([1 for _, path, _ in recorder.seen if path == MESSAGE_ROUTE]) == 12


async def test_a_client_that_is_not_a_trusted_proxy_cannot_choose_its_address(
    tmp_path: Path,
) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}
    with rocketchat(tmp_path) as (recorder, upstream), facade(upstream, tmp_path) as url:
        async with visitor_client(url, "127.0.0.3", **spoofed) as client:
            await open_room(client, "spoofer")
    calls = [h for kind, path, h in recorder.seen if kind == "http"]
    assert {(h["x-forwarded-for"], h["x-real-ip"]) for h in calls} == {("127.0.0.3",) * 2}
    assert recorder.limiter().addresses("POST", f"{API}/visitor") == {"127.0.0.3": 1}


async def test_a_trusted_proxy_names_the_visitor_right_most_untrusted_first(
    tmp_path: Path,
) -> None:
    chain = {"X-Forwarded-For": "203.0.113.66, 198.51.100.7, 10.1.2.3"}
    with (
        rocketchat(tmp_path) as (recorder, upstream),
        facade(upstream, tmp_path, trusted_proxies=["127.0.0.4", "10.0.0.0/8"]) as url,
    ):
        async with visitor_client(url, "127.0.0.4", **chain) as client:
            await open_room(client, "proxied")
    calls = [h for kind, path, h in recorder.seen if kind == "http"]
    assert {(h["x-forwarded-for"], h["x-real-ip"]) for h in calls} == {("198.51.100.7",) * 2}


async def test_the_ddp_upgrade_carries_the_visitors_address(tmp_path: Path) -> None:
    with rocketchat(tmp_path) as (recorder, upstream), facade(upstream, tmp_path) as url:
        async with visitor_client(url, "127.0.0.5", **{"User-Agent": "widget/ws"}) as client:
            rid = await open_room(client, "watcher")
        ws_url = url.replace("http", "ws", 1) + "/graphql"
        async with connect(
            ws_url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            additional_headers={"X-Forwarded-For": "203.0.113.9"},
            user_agent_header="widget/ws",
        ) as socket:
            await socket.send('{"type": "connection_init"}')
            assert '"connection_ack"' in await socket.recv()
            subscribe = {"query": SUBSCRIBE, "variables": {"token": "watcher", "rid": rid}}
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
            ddp = recorder.app.state.ddp
            deadline = time.monotonic() + 10
            while ddp.subscription_count < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            [session] = ddp.sessions
            upgrades = [h for kind, path, h in recorder.seen if path == "/websocket"]
    assert session.client_address == "127.0.0.1"  # the socket comes from 127.0.0.1 here
    [upgrade] = upgrades
    assert upgrade["x-forwarded-for"] == upgrade["x-real-ip"] == "127.0.0.1"
    assert upgrade["user-agent"] == "widget/ws"


async def test_in_process_rest_routes_answer_rocketchats_429(tmp_path: Path) -> None:
    with rocketchat(tmp_path) as (_, url):
        async with visitor_client(url, "127.0.0.6") as client:
            body = {"visitor": {"token": "rest-visitor"}}
            answers = [await client.post(f"{API}/visitor", json=body) for _ in range(5)]
            bad = await client.post(f"{API}/visitor", content=b"not json")
            other = await client.post(
                f"{API}/visitor", json=body, headers={"X-Forwarded-For": "192.0.2.44"}
            )
    assert [answer.status_code for answer in answers] == [200] * 5
    assert [answer.headers["x-ratelimit-remaining"] for answer in answers] == list("43210")
    assert bad.status_code == 429  # counted before its body is read, as Rocket.Chat does
    assert "retry-after" not in bad.headers
    assert bad.headers["x-ratelimit-limit"] == "5"
    assert int(bad.headers["x-ratelimit-reset"]) > time.time() * 1000
    assert bad.json() == {
        "success": False,
        "error": bad.json()["error"],
    } and bad.json()["error"].endswith(
        "before trying this endpoint again. [error-too-many-requests]"
    )
    # Rocket.Chat believes X-Forwarded-For as sent: another address, another counter.
    assert other.status_code == 200


async def test_in_process_graphql_operations_share_the_routes_counters(tmp_path: Path) -> None:
    settings = Settings(database=tmp_path / "limited.db", rate_limit="rocketchat")
    with serving(create_app(settings)) as url:
        async with visitor_client(url, "127.0.0.7") as client:
            rid = await open_room(client, "local")
            answers = await sends(client, "local", rid, 11)
            rest = await client.post(
                f"{API}/message", json={"token": "local", "rid": rid, "msg": "over REST"}
            )
    assert all("errors" not in answer for answer in answers[:10])
    [error] = answers[10]["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 0 < error["extensions"]["retryAfter"] <= 60
    assert rest.status_code == 429
    assert len(stored(tmp_path / "limited.db", rid)) == 10


async def test_rate_limits_are_off_by_default(tmp_path: Path) -> None:
    with serving(create_app(Settings(database=tmp_path / "free.db"))) as url:
        async with visitor_client(url, "127.0.0.8") as client:
            rid = await open_room(client, "free")
            answers = await sends(client, "free", rid, 12)
    assert all("errors" not in answer for answer in answers)


TYPING = """
mutation Typing($input: SetLivechatTypingInput!) {
  setLivechatTyping(input: $input) { __typename }
}
"""


async def ddp_session(url: str) -> Any:
    """A DDP connection to `url`'s /websocket, past its handshake."""
    from tests.test_agents import AgentDdp

    socket = await connect(url.replace("http", "ws", 1) + "/websocket")
    session = AgentDdp(socket)
    assert await session.frame() == {"server_id": "0"}
    await session.send({"msg": "connect", "version": "1", "support": ["1"]})
    assert (await session.frame())["msg"] == "connected"
    return session


async def test_ddp_methods_are_limited_per_connection_and_method_as_rocketchat_does(
    tmp_path: Path,
) -> None:
    """40 calls of a `stream-*` method a 40 s window, 10 of any other a 10 s one, counted per
    connection: the next is refused with Meteor's `too-many-requests` and its wait."""
    with rocketchat(tmp_path) as (_, url):
        async with visitor_client(url, "127.0.0.9") as client:
            rid = await open_room(client, "typist")
        typing = [f"{rid}/user-activity", "guest", ["user-typing"], {"token": "typist"}]
        session = await ddp_session(url)
        other = await ddp_session(url)
        try:
            answers = [await session.call("stream-notify-room", *typing) for _ in range(41)]
            assert all("error" not in answer for answer in answers[:40]), answers
            refused = answers[40]["error"]
            assert refused["error"] == "too-many-requests"
            assert refused["reason"].startswith("Error, too many requests. Please slow down.")
            assert 0 < refused["details"]["timeToReset"] <= 40_000
            # Another method on the same connection has its own count (and limit: 10).
            logins = [await session.call("login", {"resume": "nobody"}) for _ in range(11)]
            assert [a["error"]["error"] for a in logins] == [403] * 10 + ["too-many-requests"]
            # Another connection has its own.
            assert "error" not in await other.call("stream-notify-room", *typing)
        finally:
            await session.socket.close()
            await other.socket.close()


async def test_typing_past_rocketchats_limit_is_rate_limited_not_a_success(
    tmp_path: Path,
) -> None:
    """Through the facade, a visitor typing with no subscription: the 41st call in Rocket.Chat's
    window on the visitor's kept socket is refused, and the client is told so."""
    with rocketchat(tmp_path) as (_, upstream), facade(upstream, tmp_path) as url:
        async with visitor_client(url, "127.0.0.10") as client:
            rid = await open_room(client, "eager-typist")
            answers = [
                await post(
                    client,
                    TYPING,
                    {"input": {"token": "eager-typist", "rid": rid, "typing": n % 2 == 0}},
                )
                for n in range(41)
            ]
    typed = [answer["data"]["setLivechatTyping"]["__typename"] for answer in answers[:40]]
    assert typed == ["SetLivechatTypingSuccess"] * 40
    assert answers[40]["data"] is None
    [error] = answers[40]["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 0 < error["extensions"]["retryAfter"] <= 40


async def test_ddp_methods_are_not_limited_by_default(tmp_path: Path) -> None:
    with serving(create_app(Settings(database=tmp_path / "free.db"))) as url:
        async with visitor_client(url, "127.0.0.11") as client:
            rid = await open_room(client, "free-typist")
        typing = [f"{rid}/user-activity", "guest", ["user-typing"], {"token": "free-typist"}]
        session = await ddp_session(url)
        try:
            answers = [await session.call("stream-notify-room", *typing) for _ in range(45)]
        finally:
            await session.socket.close()
    assert all("error" not in answer for answer in answers)
