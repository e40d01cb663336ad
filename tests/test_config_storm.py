"""A page-load storm that does not become a Rocket.Chat storm, and typing without REST calls.

The facade (upstream backend) in front of the in-process server, over loopback sockets; the
server counts what it is asked. Identical tokenless configs asked at once are one upstream call,
its answer is kept a second (a clock the test steps), a visitor's config is always asked, a
failure is never kept, and a visitor past their rate limit cannot refuse the config to others.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from app.backends import upstream_backend
from app.backends.base import LivechatBackend, RateLimited
from app.backends.upstream.coalesce import SharedCalls
from app.main import create_app
from app.settings import Settings
from tests.helpers import WIDGET_SETTINGS, operation
from tests.servers import serving

CONFIG = "/api/v1/livechat/config"
CONFIG_QUERY = operation("livechatConfig")


class ManualClock:
    """The facade's monotonic clock: still until the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Counting:
    """An app on a real port that records every HTTP request it is asked (method, path,
    query), and can hold or fail the config route's answers."""

    app: ASGIApp
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    going: threading.Event = field(default_factory=threading.Event)
    failing: bool = False

    def __post_init__(self) -> None:
        self.going.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.calls.append((scope["method"], scope["path"], scope["query_string"].decode()))
            if scope["path"] == CONFIG:
                while not self.going.is_set():
                    await asyncio.sleep(0.005)
                if self.failing:
                    await send({"type": "http.response.start", "status": 500, "headers": []})
                    await send({"type": "http.response.body", "body": b"Internal Server Error"})
                    return
        await self.app(scope, receive, send)

    def configs(self) -> list[str]:
        """The query strings of the config calls so far."""
        return [query for method, path, query in self.calls if (method, path) == ("GET", CONFIG)]


@dataclass
class Stack:
    rocketchat: Counting
    facade: Counting
    clock: ManualClock
    url: str
    rocketchat_url: str

    @asynccontextmanager
    async def client(self, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
        """A client whose connections come from `address` (each address is a visitor)."""
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(transport=transport, base_url=self.url) as client:
            yield client

    def rocketchat_client(self) -> httpx.AsyncClient:
        """Straight to Rocket.Chat (the in-process server), as a widget would go."""
        return httpx.AsyncClient(base_url=self.rocketchat_url)


@contextmanager
def stack(tmp_path: Path, **rocketchat_settings: Any) -> Iterator[Stack]:
    """The in-process server (counting), and the facade in front of it on a stepped clock."""
    settings = Settings(
        database=tmp_path / "rocketchat.db", **{**WIDGET_SETTINGS, **rocketchat_settings}
    )
    rocketchat = Counting(cast(ASGIApp, create_app(settings)))
    clock = ManualClock()

    async def factory(settings: Settings) -> LivechatBackend:
        return upstream_backend(settings, monotonic=clock)

    with serving(cast(FastAPI, rocketchat)) as rocketchat_url:
        facade_settings = Settings(
            backend="upstream", upstream_url=rocketchat_url, database=tmp_path / "unused.db"
        )
        facade = Counting(cast(ASGIApp, create_app(facade_settings, backend_factory=factory)))
        with serving(cast(FastAPI, facade)) as url:
            yield Stack(rocketchat, facade, clock, url, rocketchat_url)


async def ask_config(client: httpx.AsyncClient, **variables: str) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": CONFIG_QUERY, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def until(condition: Callable[[], bool]) -> None:
    """Wait (polling, bounded) until the servers' threads have got that far."""
    async with asyncio.timeout(20):
        while not condition():
            await asyncio.sleep(0.005)


async def burst(
    stack: Stack, count: int, client: httpx.AsyncClient, **variables: str
) -> list[dict[str, Any]]:
    """`count` identical config queries at once, the upstream's answer held until the facade
    has them all (those that come after it find the answer kept, which is one call all the
    same)."""
    stack.rocketchat.going.clear()
    before = len(stack.facade.calls)
    asked = [asyncio.create_task(ask_config(client, **variables)) for _ in range(count)]
    await until(lambda: len(stack.facade.calls) - before >= count)
    stack.rocketchat.going.set()
    return await asyncio.gather(*asked)


async def test_a_storm_of_tokenless_configs_is_one_upstream_call_kept_a_second(
    tmp_path: Path,
) -> None:
    with stack(tmp_path) as servers:
        async with servers.client() as client:
            answers = await burst(servers, 24, client)
            assert servers.rocketchat.configs() == [""]
            configs = [answer["data"]["livechatConfig"] for answer in answers]
            assert configs == [configs[0]] * 24
            assert configs[0]["config"]["enabled"] is True

            # Another burst within the second: the kept answer, no call.
            servers.clock.advance(0.99)
            assert await burst(servers, 24, client) == answers
            assert servers.rocketchat.configs() == [""]

            # A second after the answer came: asked again, once.
            servers.clock.advance(0.01)
            await burst(servers, 24, client)
            assert servers.rocketchat.configs() == ["", ""]

            # Another department is another question.
            sales = await burst(servers, 8, client, department="dep-sales")
            assert servers.rocketchat.configs() == ["", "", "department=dep-sales"]
            assert all("errors" not in answer for answer in sales)


async def test_a_visitors_config_is_always_asked_afresh(tmp_path: Path) -> None:
    with stack(tmp_path) as servers:
        async with servers.client() as client:
            answers = await burst(servers, 8, client, token="visitor-1")
            assert servers.rocketchat.configs() == ["token=visitor-1"] * 8
            assert all("errors" not in answer for answer in answers)
            # Not kept either: the visitor registers, and the next config says so.
            register = operation("registerLivechatVisitor")
            await client.post(
                "/graphql",
                json={"query": register, "variables": {"input": {"token": "visitor-1"}}},
            )
            again = await ask_config(client, token="visitor-1")
            assert again["data"]["livechatConfig"]["config"]["visitor"] is not None
            assert len(servers.rocketchat.configs()) == 9


async def test_a_failure_reaches_every_waiter_and_is_never_kept(tmp_path: Path) -> None:
    with stack(tmp_path) as servers:
        async with servers.client() as client:
            servers.rocketchat.failing = True
            failed = await burst(servers, 12, client)
            for answer in failed:
                [error] = answer["errors"]
                assert error["extensions"]["code"] == "UPSTREAM_ERROR"
            calls = len(servers.rocketchat.configs())
            assert calls >= 1

            # The clock has not moved: the next asker asks again, and gets the config.
            servers.rocketchat.failing = False
            answer = await ask_config(client)
            assert answer["data"]["livechatConfig"]["config"]["enabled"] is True
            assert len(servers.rocketchat.configs()) == calls + 1


async def test_a_visitor_past_their_limit_cannot_refuse_the_config_to_others(
    tmp_path: Path,
) -> None:
    """Rocket.Chat counts each config call against the address of the visitor who started it
    (10 a minute); the one whose limit is spent gets the 429, the others their config."""
    with stack(tmp_path, rate_limit="rocketchat") as servers:
        async with servers.client("127.0.0.2") as eager, servers.client("127.0.0.3") as other:
            for _ in range(10):
                servers.clock.advance(1)
                assert "errors" not in await ask_config(eager)
            servers.clock.advance(1)
            servers.rocketchat.going.clear()
            first = asyncio.create_task(ask_config(eager))
            await until(lambda: len(servers.rocketchat.configs()) == 11)
            second = asyncio.create_task(ask_config(other))
            await until(lambda: len(servers.facade.calls) == 12)
            servers.rocketchat.going.set()
            refused, served = await asyncio.gather(first, second)
        [error] = refused["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert served["data"]["livechatConfig"]["config"]["enabled"] is True


async def test_twenty_typing_calls_cost_no_rest_call_and_at_most_one_lookup(
    tmp_path: Path,
) -> None:
    """Typing goes over DDP. The visitor's username it needs is known from the room's opening
    through the facade; for a room opened elsewhere (another replica, the widget itself) it is
    looked up once."""
    with stack(tmp_path) as servers:
        async with servers.client() as client, servers.rocketchat_client() as rocketchat:

            async def run(name: str, variables: dict[str, Any]) -> dict[str, Any]:
                response = await client.post(
                    "/graphql", json={"query": operation(name), "variables": variables}
                )
                body: dict[str, Any] = response.json()
                assert "errors" not in body, body
                return body["data"]  # type: ignore[no-any-return]

            async def typing_calls(token: str, rid: str) -> int:
                """The REST calls Rocket.Chat is asked while the visitor types 20 times."""
                before = len(servers.rocketchat.calls)
                for n in range(20):
                    typed = await run(
                        "setLivechatTyping",
                        {"input": {"token": token, "rid": rid, "typing": n % 2 == 0}},
                    )
                    assert typed["setLivechatTyping"] == {
                        "__typename": "SetLivechatTypingSuccess",
                        "rid": rid,
                        "typing": n % 2 == 0,
                    }
                return len(servers.rocketchat.calls) - before

            await run("registerLivechatVisitor", {"input": {"token": "typist", "name": "Ty"}})
            opened = await run("openLivechatRoom", {"input": {"token": "typist"}})
            assert await typing_calls("typist", opened["openLivechatRoom"]["room"]["id"]) == 0

            visitor = {"visitor": {"token": "elsewhere", "name": "El"}}
            assert (await rocketchat.post("/api/v1/livechat/visitor", json=visitor)).is_success
            room = await rocketchat.get("/api/v1/livechat/room", params={"token": "elsewhere"})
            assert await typing_calls("elsewhere", room.json()["room"]["_id"]) == 1


# ---- SharedCalls on its own: one event loop, each step in a known order ----


async def test_askers_at_once_share_one_call_and_a_failure_is_not_kept() -> None:
    clock = ManualClock()
    shared: SharedCalls[str, int] = SharedCalls(1.0, clock=clock)
    started: list[int] = []
    answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def call() -> int:
        started.append(1)
        return await answer

    askers = [asyncio.create_task(shared.get("k", call)) for _ in range(10)]
    await asyncio.sleep(0)
    answer.set_exception(RuntimeError("down"))
    outcomes = await asyncio.gather(*askers, return_exceptions=True)
    assert len(started) == 1
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)

    async def works() -> int:
        started.append(2)
        return 7

    assert await shared.get("k", works) == 7
    assert await shared.get("k", works) == 7
    assert started == [1, 2]


async def test_an_asker_that_leaves_does_not_take_the_answer_from_the_others() -> None:
    shared: SharedCalls[str, int] = SharedCalls(1.0, clock=ManualClock())
    answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def call() -> int:
        return await answer

    starter = asyncio.create_task(shared.get("k", call))
    waiter = asyncio.create_task(shared.get("k", call))
    await asyncio.sleep(0)
    starter.cancel()
    answer.set_result(3)
    assert await waiter == 3
    with pytest.raises(asyncio.CancelledError):
        await starter


async def test_a_starters_own_failure_sends_the_others_to_ask_themselves() -> None:
    shared: SharedCalls[str, str] = SharedCalls(
        1.0, own_failures=(RateLimited,), clock=ManualClock()
    )
    answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def starters() -> str:
        return await answer

    async def others() -> str:
        return "their own"

    starter = asyncio.create_task(shared.get("k", starters))
    waiter = asyncio.create_task(shared.get("k", others))
    await asyncio.sleep(0)
    answer.set_exception(RateLimited("slow down", 30))
    with pytest.raises(RateLimited):
        await starter
    assert await waiter == "their own"
