"""`livechatRoomEvents` over graphql-transport-ws on real sockets: Apollo Client's GraphQLWsLink
from Node (tests/clients/realtime, installed with `npm ci`), and a plain WebSocket client from
Python for what a test must count on the server side."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets
from fastapi import FastAPI

from app.backends.guarded import GuardedBackend
from app.backends.inprocess.service import InProcessBackend
from app.main import create_app
from app.settings import Settings
from tests.helpers import NPM, ROOT, npm_ci, operation
from tests.servers import serving

CLIENTS = ROOT / "tests" / "clients" / "realtime"

ROOM_EVENTS = """
subscription($token: String!, $rid: ID!) {
  livechatRoomEvents(token: $token, rid: $rid) {
    __typename
    ... on LivechatMessageEvent { message { id msg ts updatedAt } }
    ... on LivechatMessageDeleted { id rid }
    ... on LivechatError { code upstreamError }
  }
}"""


def run_node(test_file: str, server: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", "--test", test_file],
        cwd=npm_ci(CLIENTS), capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "SERVER_URL": server},
    )  # fmt: skip


def with_task_count(app: FastAPI) -> FastAPI:
    """The app plus a route answering how many asyncio tasks its loop runs (tests only)."""

    @app.get("/_tasks")
    async def tasks() -> dict[str, int]:
        return {"tasks": len(asyncio.all_tasks())}

    return app


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return with_task_count(create_app(Settings(database=tmp_path / "realtime.db")))


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serving(app) as url:
        yield url


def broker_subscribers(app: FastAPI) -> int:
    backend = app.state.backend
    assert isinstance(backend, GuardedBackend) and isinstance(backend.inner, InProcessBackend)
    return backend.inner.broker.subscriber_count


class Api:
    """Mutations over HTTP, subscriptions over one graphql-transport-ws socket."""

    def __init__(self, http: httpx.AsyncClient, socket: websockets.ClientConnection) -> None:
        self.http = http
        self.socket = socket
        self.next_id = 0

    async def mutate(self, query: str, **variables: Any) -> Any:
        answer = await self.http.post("/graphql", json={"query": query, "variables": variables})
        body = answer.json()
        assert "errors" not in body, body
        return next(iter(body["data"].values()))

    async def visitor_with_room(self, token: str) -> str:
        await self.mutate(
            "mutation($t: String!) { registerLivechatVisitor(input: {token: $t}) { __typename } }",
            t=token,
        )
        answer = await self.mutate(
            "mutation($t: String!) { openLivechatRoom(input: {token: $t}) "
            "{ ... on OpenLivechatRoomSuccess { room { id } } } }",
            t=token,
        )
        return str(answer["room"]["id"])

    async def send(self, token: str, rid: str, msg: str) -> str:
        answer = await self.mutate(
            "mutation($i: SendLivechatMessageInput!) { sendLivechatMessage(input: $i) "
            "{ ... on SendLivechatMessageSuccess { message { id } } } }",
            i={"token": token, "rid": rid, "msg": msg},
        )
        return str(answer["message"]["id"])

    async def subscribe(self, token: str, rid: str, query: str = ROOM_EVENTS) -> str:
        self.next_id += 1
        operation = str(self.next_id)
        payload = {"query": query, "variables": {"token": token, "rid": rid}}
        await self.socket.send(
            orjson.dumps({"type": "subscribe", "id": operation, "payload": payload}).decode()
        )
        return operation

    async def complete(self, operation: str) -> None:
        await self.socket.send(orjson.dumps({"type": "complete", "id": operation}).decode())

    async def frame(self, timeout: float = 10) -> Any:
        return orjson.loads(await asyncio.wait_for(self.socket.recv(), timeout))


@asynccontextmanager
async def api(server: str) -> AsyncIterator[Api]:
    async with (
        httpx.AsyncClient(base_url=server) as http,
        websockets.connect(
            server.replace("http", "ws", 1) + "/graphql",
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        ) as socket,
    ):
        await socket.send('{"type":"connection_init"}')
        assert orjson.loads(await socket.recv()) == {"type": "connection_ack"}
        yield Api(http, socket)


async def eventually(condition: Any, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


async def live_subscriptions(app: FastAPI, count: int) -> bool:
    return broker_subscribers(app) == count


@pytest.mark.skipif(
    shutil.which("node") is None or NPM is None, reason="needs Node 20 and npm on PATH"
)
def test_apollo_client_subscribes_over_graphql_ws(server: str) -> None:
    done = run_node("subscription.test.mjs", server)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# pass 3" in done.stdout


async def test_every_stored_message_once_in_order_to_every_subscriber(
    app: FastAPI, server: str
) -> None:
    async with api(server) as client:
        rid = await client.visitor_with_room("ordered")
        operations = [await client.subscribe("ordered", rid) for _ in range(3)]
        await eventually(lambda: live_subscriptions(app, 3))
        sent = [await client.send("ordered", rid, f"number {index}") for index in range(30)]
        received: dict[str, list[str]] = {operation: [] for operation in operations}
        while any(len(ids) < len(sent) for ids in received.values()):
            frame = await client.frame()
            assert frame["type"] == "next", frame
            event = frame["payload"]["data"]["livechatRoomEvents"]
            received[frame["id"]].append(event["message"]["id"])
        assert all(ids == sent for ids in received.values())
        for operation in operations:
            await client.complete(operation)
        await eventually(lambda: live_subscriptions(app, 0))


async def test_refusals_are_one_error_event_then_complete(server: str) -> None:
    async with api(server) as client:
        rid = await client.visitor_with_room("owner")
        await client.visitor_with_room("stranger")
        for token, code in (("nobody", "INVALID_TOKEN"), ("stranger", "INVALID_ROOM")):
            operation = await client.subscribe(token, rid)
            error = await client.frame()
            assert error["id"] == operation
            assert error["payload"]["data"]["livechatRoomEvents"]["code"] == code
            assert await client.frame() == {"id": operation, "type": "complete"}


async def test_nothing_is_left_running_after_100_subscribe_unsubscribe_cycles(
    app: FastAPI, server: str
) -> None:
    async def tasks(http: httpx.AsyncClient) -> int:
        return int((await http.get("/_tasks")).json()["tasks"])

    async with api(server) as client:
        rid = await client.visitor_with_room("cycles")
        baseline = await tasks(client.http)
        for _ in range(100):
            operation = await client.subscribe("cycles", rid)
            await eventually(lambda: live_subscriptions(app, 1))
            await client.complete(operation)
            await eventually(lambda: live_subscriptions(app, 0))
        # A last subscription still receives: the cycles broke nothing.
        operation = await client.subscribe("cycles", rid)
        await eventually(lambda: live_subscriptions(app, 1))
        sent = await client.send("cycles", rid, "still here")
        frame = await client.frame()
        assert frame["payload"]["data"]["livechatRoomEvents"]["message"]["id"] == sent
        await client.complete(operation)
        await eventually(lambda: live_subscriptions(app, 0))

        async def back_to_baseline() -> bool:
            return await tasks(client.http) <= baseline

        await eventually(back_to_baseline)


def copies_held(marker: str, longer_than: int) -> int:
    """How many distinct strings or byte strings longer than `longer_than` that contain
    `marker` are held by objects of this process (the test's server runs in a thread)."""
    wanted: dict[type, Any] = {str: marker, bytes: marker.encode(), bytearray: marker.encode()}
    found: set[int] = set()
    for holder in gc.get_objects():
        for value in gc.get_referents(holder):
            for item in value if type(value) is tuple else (value,):
                needle = wanted.get(type(item))
                if needle is not None and len(item) > longer_than and needle in item:
                    found.add(id(item))
    return len(found)


async def test_tabs_share_one_copy_of_the_shipped_document_and_get_what_the_query_reads(
    app: FastAPI, server: str
) -> None:
    """The shipped subscription (queries/), from five sockets as five browser tabs: each gets
    the message as the shipped livechatMessage query reads it, and the server keeps no copy
    of the 12 KB document per subscriber (it kept three: the last frame, the received text
    and the decoded document, 37 KB of the 102 MiB that 1,000 subscriptions held)."""
    document = operation("livechatRoomEvents")
    marker = "subscription LivechatRoomEvents("
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(api(server))
        rid = await first.visitor_with_room("tabs")
        await first.subscribe("tabs", rid, document)
        await eventually(lambda: live_subscriptions(app, 1))
        held = copies_held(marker, len(document) // 2)
        tabs = [first]
        for _ in range(4):
            tab = await stack.enter_async_context(api(server))
            await tab.subscribe("tabs", rid, document)
            tabs.append(tab)
        await eventually(lambda: live_subscriptions(app, 5))
        assert copies_held(marker, len(document) // 2) == held
        sent = await first.send("tabs", rid, "**bold** :smile: see https://rocket.chat")
        read = await first.mutate(operation("livechatMessage"), token="tabs", rid=rid, id=sent)
        for tab in tabs:
            frame = await tab.frame()
            assert frame["payload"]["data"]["livechatRoomEvents"] == {
                "__typename": "LivechatMessageEvent",
                "message": read["message"],
            }
            assert frame["payload"]["data"]["livechatRoomEvents"]["message"]["md"]


@pytest.mark.skipif(
    shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
    reason="needs Chromium (Debian's chromium package; .ci/run installs it)",
)
async def test_graphiql_runs_a_subscription_in_a_real_browser(app: FastAPI, server: str) -> None:
    """GraphiQL's own graphql-ws client, offline assets: run the subscription, see a send."""
    from playwright.async_api import async_playwright

    from tests.test_graphiql import CHROMIUM, CHROMIUM_FLAGS, response_json

    async with httpx.AsyncClient(base_url=server) as http:
        await http.post("/api/v1/livechat/visitor", json={"visitor": {"token": "ide"}})
        room = (await http.get("/api/v1/livechat/room", params={"token": "ide"})).json()
        rid = room["room"]["_id"]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
            )
            page = await browser.new_page()
            await page.goto(f"{server}/graphql", wait_until="networkidle")
            editor = page.locator(".graphiql-query-editor .CodeMirror").first
            await editor.wait_for(timeout=20_000)
            await page.evaluate(
                """([text, variables]) => {
                    const editor = (selector) => document.querySelector(selector).CodeMirror;
                    editor('.graphiql-query-editor .CodeMirror').setValue(text);
                    editor('.graphiql-editor-tool .CodeMirror').setValue(variables);
                }""",
                [ROOM_EVENTS, orjson.dumps({"token": "ide", "rid": rid}).decode()],
            )
            await editor.get_by_text("livechatRoomEvents").first.wait_for(timeout=20_000)
            await asyncio.sleep(0.5)  # GraphiQL takes the editor's text on its next render
            await page.locator(".graphiql-execute-button").click()
            await eventually(lambda: live_subscriptions(app, 1), timeout=60)
            await http.post(
                "/api/v1/livechat/message", json={"token": "ide", "rid": rid, "msg": "seen"}
            )

            async def shown() -> bool:
                return '"msg": "seen"' in await response_json(page)

            await eventually(shown, timeout=30)
            answer = orjson.loads(await response_json(page))
            await browser.close()
    event = answer["data"]["livechatRoomEvents"]
    assert event["__typename"] == "LivechatMessageEvent"
    assert event["message"]["msg"] == "seen"


async def test_open_subscriptions_are_counted_while_they_last(tmp_path: Path) -> None:
    """`subscriptions_open` is what an operator reads to size the realtime side: it follows
    each subscription from its start to its completion, and to its socket's close."""
    app = create_app(Settings(database=tmp_path / "counted.db", metrics=True))

    def open_now(url: str) -> float:
        exposition = httpx.get(f"{url}/metrics").text
        found = [
            line.split()[-1]
            for line in exposition.splitlines()
            if line.startswith("livechat_graphql_subscriptions_open ")
        ]
        return float(found[0])

    with serving(app) as url:
        async with api(url) as first:
            rid = await first.visitor_with_room("counted")
            one = await first.subscribe("counted", rid)
            await first.subscribe("counted", rid)  # ends with its socket
            await eventually(lambda: live_subscriptions(app, 2))
            assert open_now(url) == 2
            await first.complete(one)
            await eventually(lambda: live_subscriptions(app, 1))
            assert open_now(url) == 1
        await eventually(lambda: live_subscriptions(app, 0))
        assert open_now(url) == 0
