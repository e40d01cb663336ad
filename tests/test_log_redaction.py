"""No visitor's token reaches a log line or /metrics, at DEBUG, on any path a token travels.

Real `livechat-graphql serve` processes write their logs to files: one in-process (the front
door, Rocket.Chat's REST routes, DDP), one in upstream mode in front of it (metrics on, so
FastAPI and Strawberry serve everything; its DDP client to the in-process one), one in upstream
mode in front of a Rocket.Chat that answers records it cannot read. Each path gets a token of
its own, so a leak names the path; every line of every log and every metric is searched for
every token, and the lines each path must have written are checked to be there.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import websockets
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.helpers import operation
from tests.servers import free_port, serving

ROOM_EVENTS = operation("livechatRoomEvents")
HISTORY = operation("livechatMessages")
REGISTER = operation("registerLivechatVisitor")
OPEN_ROOM = operation("openLivechatRoom")
SEND = operation("sendLivechatMessage")


def planted(path: str) -> str:
    """A token no log line could contain by chance."""
    return f"{path}-{secrets.token_hex(8)}"


class Served:
    """`livechat-graphql serve` at DEBUG with JSON logs into a file."""

    def __init__(self, log: Path, *arguments: str, metrics: bool = False) -> None:
        self.log = log
        self.port = free_port()
        environment = {
            **os.environ,
            "LIVECHAT_GRAPHQL_LOG_LEVEL": "DEBUG",
            "LIVECHAT_GRAPHQL_LOG_FORMAT": "json",
            "LIVECHAT_GRAPHQL_LOG_ACCESS_EVERY": "1",
            "LIVECHAT_GRAPHQL_METRICS": "true" if metrics else "false",
        }
        self._written = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port), *arguments],
            cwd=log.parent,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=self._written,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> list[str]:
        """Stop it and answer every line it wrote."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self._written.close()
        return self.log.read_text().splitlines()


@contextmanager
def served(log: Path, *arguments: str, metrics: bool = False) -> Iterator[Served]:
    server = Served(log, *arguments, metrics=metrics)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def unreadable_rocketchat(token: str) -> FastAPI:
    """A Rocket.Chat whose visitor record lacks `username` (the upstream logs the record it
    cannot read) and whose room answer is not JSON (the upstream logs the body)."""
    app = FastAPI()

    @app.get("/api/info")
    async def info() -> JSONResponse:
        return JSONResponse({"version": "7.0.0", "success": True})

    @app.post("/api/v1/livechat/visitor")
    async def visitor(request: Request) -> JSONResponse:
        return JSONResponse({"success": True, "visitor": {"_id": "v1", "token": token}})

    @app.get("/api/v1/livechat/room")
    async def room(request: Request) -> Response:
        echoed = json.dumps({"token": request.query_params.get("token")})
        return Response(f"<html>{echoed[:-1]}", media_type="text/html")

    return app


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], **extra: Any
) -> Any:
    answer = await client.post("/graphql", json={"query": query, "variables": variables, **extra})
    return answer.json()


async def visitor_with_room(client: httpx.AsyncClient, token: str) -> str:
    await post(client, REGISTER, {"input": {"token": token}})
    room = await post(client, OPEN_ROOM, {"input": {"token": token}})
    return str(room["data"]["openLivechatRoom"]["room"]["id"])


@asynccontextmanager
async def graphql_ws(url: str, auth_token: str) -> AsyncIterator[websockets.ClientConnection]:
    address = url.replace("http", "ws", 1) + "/graphql"
    protocol = websockets.Subprotocol("graphql-transport-ws")
    async with websockets.connect(address, subprotocols=[protocol]) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"authToken": auth_token}})
        )
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        yield socket


async def frame(socket: websockets.ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(socket.recv(), 20))


async def first_event(
    socket: websockets.ClientConnection, send: Callable[[], Awaitable[object]]
) -> Any:
    """Send until the subscription delivers: a subscription is live upstream only once its
    DDP socket has subscribed, which the client is not told."""
    for _ in range(40):
        await send()
        try:
            return json.loads(await asyncio.wait_for(socket.recv(), 1))
        except TimeoutError:
            continue
    raise AssertionError("the subscription delivered nothing")


async def plant_graphql(url: str, tokens: dict[str, str], kind: str) -> None:
    """Every GraphQL path a token travels on, against one server."""
    headers = {"X-Auth-Token": tokens[f"{kind}-header"], "X-User-Id": tokens[f"{kind}-user"]}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        token = tokens[f"{kind}-post"]
        rid = await visitor_with_room(client, token)
        await post(client, SEND, {"input": {"token": token, "rid": rid, "msg": "hi"}})
        # A refused token, a document that quotes one, a bug's worth of bad input.
        await post(client, HISTORY, {"token": tokens[f"{kind}-refused"], "rid": rid})
        inline = tokens[f"{kind}-inline"]
        await post(client, f'{{ livechatMessages(token: "{inline}", rid: "{rid}") {{ x }} }}', {})
        # GET with the variables in the query string, as useGETForHashedQueries sends them.
        get_token = tokens[f"{kind}-get"]
        await post(client, REGISTER, {"input": {"token": get_token}})
        variables = json.dumps({"token": get_token, "rid": rid})
        answer = await client.get("/graphql", params={"query": HISTORY, "variables": variables})
        assert answer.status_code == 200
        # Automatic persisted queries, over GET (hash only, then text) and POST.
        apq_token = tokens[f"{kind}-apq"]
        digest = hashlib.sha256(HISTORY.encode()).hexdigest()
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        hashed = {"extensions": json.dumps(extensions)}
        apq_variables = json.dumps({"token": apq_token, "rid": rid})
        await client.get("/graphql", params={**hashed, "variables": apq_variables})
        await post(client, HISTORY, {"token": apq_token, "rid": rid}, extensions=extensions)
        await client.get("/graphql", params={**hashed, "variables": apq_variables})
        await client.post(
            "/graphql",
            json={"variables": {"token": apq_token, "rid": rid}, "extensions": extensions},
        )
        # graphql-transport-ws: a token in connection_init, another in a subscription.
        ws_token = tokens[f"{kind}-ws"]
        ws_rid = await visitor_with_room(client, ws_token)
        async with graphql_ws(url, tokens[f"{kind}-ws-init"]) as socket:
            subscribe = {"query": ROOM_EVENTS, "variables": {"token": ws_token, "rid": ws_rid}}
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
            send = {"input": {"token": ws_token, "rid": ws_rid, "msg": "ws"}}
            event = await first_event(socket, lambda: post(client, SEND, send))
            assert event["type"] == "next", event
            await socket.send(json.dumps({"id": "1", "type": "complete"}))


async def plant_rocketchat(url: str, tokens: dict[str, str]) -> None:
    """Rocket.Chat's REST routes and DDP, on the in-process server."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        token = tokens["rest"]
        await client.post("/api/v1/livechat/visitor", json={"visitor": {"token": token}})
        room = await client.get("/api/v1/livechat/room", params={"token": token})
        rid = room.json()["room"]["_id"]
        await client.post("/api/v1/livechat/message", json={"token": token, "rid": rid, "msg": "x"})
        await client.get(f"/api/v1/livechat/messages.history/{rid}", params={"token": token})
        refused = await client.get(
            "/api/v1/livechat/room", params={"token": tokens["rest-refused"]}
        )
        assert refused.status_code >= 400  # a failure: its access line is always written
        ddp_token = tokens["ddp"]
        await client.post("/api/v1/livechat/visitor", json={"visitor": {"token": ddp_token}})
        room = await client.get("/api/v1/livechat/room", params={"token": ddp_token})
        ddp_rid = room.json()["room"]["_id"]
    address = url.replace("http", "ws", 1) + "/websocket"
    async with websockets.connect(address) as socket:
        await frame(socket)
        await socket.send(json.dumps({"msg": "connect", "version": "1", "support": ["1"]}))
        await frame(socket)
        credentials = {"token": ddp_token, "visitorToken": ddp_token}
        params = [ddp_rid, {"useCollection": False, "args": [credentials]}]
        sub = {"msg": "sub", "id": "s1", "name": "stream-room-messages", "params": params}
        await socket.send(json.dumps(sub))
        assert (await frame(socket))["msg"] == "ready"


async def plant_unreadable(url: str, tokens: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        visitor = await post(client, REGISTER, {"input": {"token": tokens["unreadable-record"]}})
        room = await post(client, OPEN_ROOM, {"input": {"token": tokens["unreadable-body"]}})
    assert visitor["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"
    assert room["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"


def leaks(lines: list[str], tokens: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path, token in tokens.items():
        hits = [line for line in lines if token in line]
        if hits:
            found[path] = hits
    return found


def messages(lines: list[str]) -> list[str]:
    return [json.loads(line)["message"] for line in lines]


def test_no_planted_token_reaches_a_log_line_or_a_metric(tmp_path: Path) -> None:
    paths = [
        *(
            f"{kind}-{path}"
            for kind in ("inprocess", "upstream")
            for path in ("header", "user", "post", "refused", "inline", "get", "apq", "ws")
        ),
        *(f"{kind}-ws-init" for kind in ("inprocess", "upstream")),
        *("rest", "rest-refused", "ddp", "unreadable-record", "unreadable-body"),
    ]
    tokens = {path: planted(path) for path in paths}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "d").mkdir()
    with (
        serving(unreadable_rocketchat(tokens["unreadable-record"])) as broken_url,
        served(tmp_path / "a" / "inprocess.log", "--database", "a.db") as inprocess,
        served(
            tmp_path / "b" / "upstream.log",
            *("--backend", "upstream", "--upstream-url", inprocess.url),
            metrics=True,
        ) as upstream,
        served(
            tmp_path / "d" / "unreadable.log",
            *("--backend", "upstream", "--upstream-url", broken_url),
            metrics=True,
        ) as unreadable,
    ):

        async def plant() -> None:
            await plant_graphql(inprocess.url, tokens, "inprocess")
            await plant_graphql(upstream.url, tokens, "upstream")
            await plant_rocketchat(inprocess.url, tokens)
            await plant_unreadable(unreadable.url, tokens)

        asyncio.run(plant())
        metrics = [httpx.get(f"{server.url}/metrics").text for server in (upstream, unreadable)]
        logs = {server.log.name: server.stop() for server in (inprocess, upstream, unreadable)}
    every_line = [line for lines in logs.values() for line in lines]
    assert leaks(every_line, tokens) == {}
    assert leaks(metrics, tokens) == {}
    # The lines that carried the tokens were written, redacted.
    inprocess_lines = messages(logs["inprocess.log"])
    assert any(
        "GET /graphql?" in line and "variables=[REDACTED]" in line for line in inprocess_lines
    )
    assert any("/api/v1/livechat/room?token=[REDACTED]" in line for line in inprocess_lines)
    assert any("authToken" in line and "[REDACTED]" in line for line in inprocess_lines)
    assert any(line.startswith('< TEXT \'{"msg":"sub"') for line in inprocess_lines)
    upstream_lines = messages(logs["upstream.log"])
    assert any("GET /graphql?" in line for line in upstream_lines)
    assert any(line.startswith("> TEXT") and "[REDACTED]" in line for line in upstream_lines)
    unreadable_lines = messages(logs["unreadable.log"])
    assert any(
        line.startswith("upstream sent an unreadable record") and "'token': '[REDACTED]'" in line
        for line in unreadable_lines
    )
    assert any("is not Rocket.Chat's JSON" in line for line in unreadable_lines)
