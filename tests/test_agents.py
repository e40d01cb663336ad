"""Agents on both backends: the in-process server with `AGENTS`, driven through Rocket.Chat's
agent API (REST and DDP) over real sockets, and what the visitor sees of them through the GraphQL
API, served by that server itself (in-process) or by the facade in front of it (upstream)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from app.main import create_app
from app.settings import AgentSetting, DepartmentSetting, Settings
from tests.helpers import npm_ci, operation
from tests.proxy import CuttableProxy
from tests.servers import serving
from tests.test_subscriptions import CLIENTS, Api, api, eventually

ANN = AgentSetting(username="ann", password="ann-secret", name="Ann Agent", email="ann@example.com")
SALES = DepartmentSetting(id="sales", name="Sales")
BOB = AgentSetting(username="bob", password="bob-secret", name="Bob", departments=["sales"])


@dataclass(frozen=True)
class Served:
    url: str
    app: Any


def rocketchat_settings(tmp_path: Path, **overrides: Any) -> Settings:
    defaults: dict[str, Any] = {"agents": [ANN, BOB], "departments": [SALES]}
    return Settings(database=tmp_path / "rocketchat.db", **(defaults | overrides))


def facade_settings(rocketchat: str, tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        backend="upstream",
        upstream_url=rocketchat,
        database=tmp_path / "unused.db",
        upstream_ddp_backoff_base=0.02,
        upstream_ddp_backoff_cap=0.3,
        **overrides,
    )


@pytest.fixture
def rocketchat(tmp_path: Path) -> Iterator[Served]:
    """The in-process server with two agents: ann (any department) and bob (sales)."""
    app = create_app(rocketchat_settings(tmp_path))
    with serving(app) as url:
        yield Served(url, app)


@pytest.fixture(params=["in-process", "upstream"])
def graphql_url(
    request: pytest.FixtureRequest, rocketchat: Served, tmp_path: Path
) -> Iterator[str]:
    """The GraphQL API the visitor uses: the in-process server's own, or the facade's."""
    if request.param == "in-process":
        yield rocketchat.url
        return
    with serving(create_app(facade_settings(rocketchat.url, tmp_path))) as url:
        yield url


class Agent:
    """An agent using Rocket.Chat's agent API: REST with X-Auth-Token and X-User-Id, DDP after
    `login` with the same token."""

    def __init__(self, http: httpx.AsyncClient, token: str, user_id: str) -> None:
        self.http = http
        self.headers = {"X-Auth-Token": token, "X-User-Id": user_id}
        self.token = token
        self.id = user_id

    async def post(self, path: str, **body: Any) -> httpx.Response:
        return await self.http.post(f"/api/v1/{path}", json=body, headers=self.headers)

    async def ok(self, path: str, **body: Any) -> dict[str, Any]:
        answer = await self.post(path, **body)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        assert found["success"] is True
        return found


@asynccontextmanager
async def agent(
    server: str, user: str = "ann", password: str = "ann-secret"
) -> AsyncIterator[Agent]:
    async with httpx.AsyncClient(base_url=server) as http:
        login = await http.post("/api/v1/login", json={"user": user, "password": password})
        assert login.status_code == 200, login.text
        data = login.json()["data"]
        yield Agent(http, data["authToken"], data["userId"])


class AgentDdp:
    """The agent's DDP session on /websocket, logged in with `resume`."""

    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.calls = 0

    async def send(self, frame: dict[str, Any]) -> None:
        await self.socket.send(orjson.dumps(frame).decode())

    async def frame(self, timeout: float = 5) -> Any:
        while True:
            frame = orjson.loads(await asyncio.wait_for(self.socket.recv(), timeout))
            if frame.get("msg") == "ping":
                await self.send({"msg": "pong"})
                continue
            return frame

    async def call(self, method: str, *params: Any) -> Any:
        self.calls += 1
        call_id = f"c{self.calls}"
        await self.send({"msg": "method", "id": call_id, "method": method, "params": list(params)})
        while True:
            frame = await self.frame()
            if frame.get("msg") == "result" and frame.get("id") == call_id:
                await self.frame()  # `updated`
                return frame

    async def typing(self, rid: str, username: str, on: bool) -> None:
        await self.call(
            "stream-notify-room",
            f"{rid}/user-activity",
            username,
            ["user-typing"] if on else [],
            {},
        )


@asynccontextmanager
async def agent_ddp(server: str, token: str) -> AsyncIterator[AgentDdp]:
    async with websockets.connect(server.replace("http", "ws", 1) + "/websocket") as socket:
        session = AgentDdp(socket)
        assert await session.frame() == {"server_id": "0"}
        await session.send({"msg": "connect", "version": "1", "support": ["1"]})
        assert (await session.frame())["msg"] == "connected"
        login = await session.call("login", {"resume": token})
        assert login["result"]["token"] == token, login
        yield session


async def event(client: Api, timeout: float = 10) -> dict[str, Any]:
    frame = await client.frame(timeout)
    assert frame["type"] == "next", frame
    found: dict[str, Any] = frame["payload"]["data"]["livechatRoomEvents"]
    return found


async def room_events(client: Api, token: str, rid: str, rocketchat: Served) -> None:
    """Subscribe with the shipped document, wait until the server behind has the room's
    subscriptions (the facade's four DDP streams, or the GraphQL one), and see the visitor's
    own send echoed."""
    await client.subscribe(token, rid, operation("livechatRoomEvents"))
    broker = rocketchat.app.state.backend.inner.broker
    direct = str(client.http.base_url).rstrip("/") == rocketchat.url

    async def live() -> bool:
        return bool(broker.subscriber_count == (1 if direct else 4))

    await eventually(live)
    await client.send(token, rid, "anyone there?")
    assert (await event(client))["message"]["msg"] == "anyone there?"


async def test_an_agent_types_answers_changes_status_and_closes(
    rocketchat: Served, graphql_url: str
) -> None:
    async with api(graphql_url) as visitor, agent(rocketchat.url) as ann:
        rid = await visitor.visitor_with_room("agent-visitor")
        await room_events(visitor, "agent-visitor", rid, rocketchat)
        async with agent_ddp(rocketchat.url, ann.token) as ddp:
            await ddp.typing(rid, "ann", True)
            assert await event(visitor) == {
                "__typename": "LivechatTyping", "rid": rid, "username": "ann", "typing": True
            }  # fmt: skip
            sent = await ann.ok(
                "chat.sendMessage", message={"rid": rid, "msg": "Hello, *how* can I help?"}
            )
            reply = (await event(visitor))["message"]
            assert reply["id"] == sent["message"]["_id"]
            assert reply["u"] == {"id": ann.id, "username": "ann", "name": "Ann Agent"}
            assert reply["md"][0]["children"][1]["__typename"] == "Bold"  # Rocket.Chat's *bold*
            await ddp.typing(rid, "ann", False)
            assert (await event(visitor))["typing"] is False
            await ddp.typing(rid, "somebody-else", True)  # not the agent's name: dropped

        edited = await ann.ok("chat.update", roomId=rid, msgId=reply["id"], text="How can I help?")
        assert (await event(visitor))["message"]["msg"] == edited["message"]["msg"]
        await ann.ok("chat.delete", roomId=rid, msgId=reply["id"])
        assert await event(visitor) == {
            "__typename": "LivechatMessageDeleted", "id": reply["id"], "rid": rid
        }  # fmt: skip
        await ann.ok("users.setStatus", status="busy")
        assert await event(visitor) == {
            "__typename": "LivechatAgentStatusChanged", "rid": rid, "status": "busy"
        }  # fmt: skip
        await ann.ok("livechat/room.closeByUser", rid=rid, comment="All done")
        close = (await event(visitor))["message"]
        assert (close["t"], close["msg"], close["u"]["username"]) == (
            "livechat-close",
            "All done",
            "ann",
        )

        answer = await visitor.http.post(
            "/graphql",
            json={
                "query": operation("livechatAgent"),
                "variables": {"token": "agent-visitor", "rid": rid},
            },
        )
        assert answer.json()["data"]["livechatAgent"] == {
            "__typename": "LivechatAgentSuccess",
            "agent": {
                "id": ann.id, "username": "ann", "name": "Ann Agent", "status": "busy",
                "emails": ["ann@example.com"], "phone": None,
            },
            "hidden": False,
        }  # fmt: skip


async def graphql(http: httpx.AsyncClient, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    answer = await http.post("/graphql", json={"query": operation(name), "variables": variables})
    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


async def test_the_visitors_typing_reaches_the_agent_not_the_visitor(
    rocketchat: Served, graphql_url: str
) -> None:
    async with api(graphql_url) as visitor, agent(rocketchat.url) as ann:
        rid = await visitor.visitor_with_room("typist")
        await room_events(visitor, "typist", rid, rocketchat)
        async with agent_ddp(rocketchat.url, ann.token) as ddp:
            params = [f"{rid}/user-activity", {"useCollection": False, "args": [{}]}]
            await ddp.send(
                {"msg": "sub", "id": "t", "name": "stream-notify-room", "params": params}
            )
            assert await ddp.frame() == {"msg": "ready", "subs": ["t"]}
            for typing in (True, False):
                done = await graphql(
                    visitor.http, "setLivechatTyping",
                    {"input": {"token": "typist", "rid": rid, "typing": typing}},
                )  # fmt: skip
                assert done["setLivechatTyping"] == {
                    "__typename": "SetLivechatTypingSuccess", "rid": rid, "typing": typing
                }  # fmt: skip
                heard = await ddp.frame()
                assert heard["collection"] == "stream-notify-room"
                assert heard["fields"]["eventName"] == f"{rid}/user-activity"
                assert heard["fields"]["args"][:2] == ["guest-1", ["user-typing"] if typing else []]
            await ann.ok("chat.sendMessage", message={"rid": rid, "msg": "I saw you typing"})
            # The next event is the agent's message: the visitor's own typing never came back.
            assert (await event(visitor))["message"]["msg"] == "I saw you typing"

        refused = await graphql(
            visitor.http,
            "setLivechatTyping",
            {"input": {"token": "nobody", "rid": rid, "typing": True}},
        )
        assert refused["setLivechatTyping"]["upstreamError"] == "invalid-token"


async def test_rooms_go_to_the_least_busy_online_agent_of_the_department(
    rocketchat: Served, graphql_url: str
) -> None:
    async with httpx.AsyncClient(base_url=graphql_url) as http:
        served = []
        for number, department in enumerate([None, None, "sales", None, "sales"]):
            token = f"routed-{number}"
            fields = {"token": token, **({"department": department} if department else {})}
            await graphql(http, "registerLivechatVisitor", {"input": fields})
            room = await graphql(http, "openLivechatRoom", {"input": {"token": token}})
            rid = room["openLivechatRoom"]["room"]["id"]
            info = await graphql(http, "livechatAgent", {"token": token, "rid": rid})
            served.append(info["livechatAgent"]["agent"]["username"])
        # ann (0), bob (0: listed second) → ann; sales → bob only; then the least busy.
        assert served == ["ann", "bob", "bob", "ann", "bob"]


async def test_with_nobody_online_a_room_waits_and_is_served_when_an_agent_comes_online(
    rocketchat: Served, graphql_url: str
) -> None:
    async with agent(rocketchat.url) as ann, agent(rocketchat.url, "bob", "bob-secret") as bob:
        for someone in (ann, bob):
            await someone.ok("users.setStatus", status="offline")
        async with api(graphql_url) as visitor:
            first = await visitor.visitor_with_room("waiting-1")
            second = await visitor.visitor_with_room("waiting-2")
            info = await graphql(
                visitor.http, "livechatAgent", {"token": "waiting-2", "rid": second}
            )
            assert info["livechatAgent"]["code"] == "NO_AGENT"
            assert info["livechatAgent"]["upstreamError"] == "invalid-agent"
            await room_events(visitor, "waiting-2", second, rocketchat)
            await graphql(  # the room ahead leaves the queue
                visitor.http, "closeLivechatRoom", {"input": {"token": "waiting-1", "rid": first}}
            )
            assert await event(visitor) == {
                "__typename": "LivechatQueuePosition", "rid": second, "position": 1,
                "estimatedWaitTimeSeconds": None,
            }  # fmt: skip
            await ann.ok("users.setStatus", status="online")
            changed = await event(visitor)
            assert changed["__typename"] == "LivechatAgentChanged"
            assert (changed["agent"]["username"], changed["hidden"]) == ("ann", False)


async def test_no_agent_online_refuses_a_room_when_rooms_may_not_wait(tmp_path: Path) -> None:
    offline = ANN.model_copy(update={"status": "offline"})
    app = create_app(
        rocketchat_settings(tmp_path, agents=[offline], accept_chats_with_no_agents=False)
    )
    with serving(app) as server, serving(create_app(facade_settings(server, tmp_path))) as facade:
        answers: list[dict[str, Any]] = []
        for url in (server, facade):
            async with httpx.AsyncClient(base_url=url) as http:
                token = f"refused-{len(answers)}"
                await graphql(http, "registerLivechatVisitor", {"input": {"token": token}})
                answers.append(await graphql(http, "openLivechatRoom", {"input": {"token": token}}))
        assert answers[0] == answers[1]
        assert answers[0]["openLivechatRoom"] == {
            "__typename": "LivechatError", "code": "NO_AGENT_ONLINE",
            "reason": "Sorry, no online agents", "upstreamError": "no-agent-online",
        }  # fmt: skip


async def test_hidden_agent_info(tmp_path: Path) -> None:
    app = create_app(rocketchat_settings(tmp_path, show_agent_info=False))
    with serving(app) as server, serving(create_app(facade_settings(server, tmp_path))) as facade:
        for url in (server, facade):
            async with httpx.AsyncClient(base_url=url) as http:
                token = f"hidden-{url[-5:]}"
                await graphql(http, "registerLivechatVisitor", {"input": {"token": token}})
                room = await graphql(http, "openLivechatRoom", {"input": {"token": token}})
                rid = room["openLivechatRoom"]["room"]["id"]
                info = await graphql(http, "livechatAgent", {"token": token, "rid": rid})
                assert info["livechatAgent"] == {
                    "__typename": "LivechatAgentSuccess", "agent": None, "hidden": True
                }  # fmt: skip


async def test_the_agent_api_refuses_as_rocket_chat_does(rocketchat: Served) -> None:
    async with httpx.AsyncClient(base_url=rocketchat.url) as http:
        wrong = await http.post("/api/v1/login", json={"user": "ann", "password": "nope"})
        assert (wrong.status_code, wrong.json()) == (
            401, {"status": "error", "error": "Unauthorized", "message": "Unauthorized"}
        )  # fmt: skip
        anonymous = await http.post("/api/v1/chat.sendMessage", json={"message": {}})
        assert (anonymous.status_code, anonymous.json()) == (
            401, {"status": "error", "message": "You must be logged in to do this."}
        )  # fmt: skip
        rid = await Api(http, None).visitor_with_room("not-bobs")  # type: ignore[arg-type]
    async with agent(rocketchat.url, "bob", "bob-secret") as bob:
        refused = await bob.post("chat.sendMessage", message={"rid": rid, "msg": "hi"})
        assert (refused.status_code, refused.json()["errorType"]) == (400, "error-not-allowed")
        bad = await bob.post("users.setStatus", status="sleeping")
        assert (bad.status_code, bad.json()["errorType"]) == (400, "invalid-params")
    async with agent(rocketchat.url) as ann:
        await ann.ok("livechat/room.closeByUser", rid=rid, comment="")
        again = await ann.post("livechat/room.closeByUser", rid=rid, comment="")
        assert again.json() == {"success": False, "error": "error-room-already-closed"}
        rooms = (await ann.http.get("/api/v1/livechat/rooms", headers=ann.headers)).json()
        assert [(room["_id"], room["open"]) for room in rooms["rooms"]] == [(rid, False)]


async def test_an_agent_change_during_an_upstream_gap_arrives_after_the_reconnect(
    rocketchat: Served, tmp_path: Path
) -> None:
    """The room waits; the facade's socket is cut; while it is down an agent comes online and
    takes the room: after the reconnect the facade re-reads agent.info and says so."""
    port = int(rocketchat.url.rsplit(":", 1)[1])
    async with (
        CuttableProxy(port) as proxy,
        agent(rocketchat.url) as ann,
        agent(rocketchat.url, "bob", "bob-secret") as bob,
    ):
        for someone in (ann, bob):
            await someone.ok("users.setStatus", status="offline")
        settings = facade_settings(
            rocketchat.url, tmp_path, upstream_realtime_url=f"ws://127.0.0.1:{proxy.port}/websocket"
        )
        facade = create_app(settings)
        with serving(facade) as facade_url:
            async with api(facade_url) as visitor:
                rid = await visitor.visitor_with_room("gap")
                await room_events(visitor, "gap", rid, rocketchat)
                proxy.freeze()  # the upstream socket is silent: nothing reaches the facade
                await ann.ok("users.setStatus", status="online")
                await asyncio.sleep(0.3)
                proxy.cut()
                changed = await event(visitor)
                assert changed["__typename"] == "LivechatAgentChanged"
                assert changed["agent"]["username"] == "ann"
                [room] = facade.state.backend.inner.live_subscriptions
                print(  # the figures for the record (pytest -s)
                    f"\nagent gap test: {proxy.cuts} cut, {proxy.connections} upstream connections,"
                    f" {room.reconnects} reconnects, {room.agents_reread} agent change re-read"
                )
                assert room.reconnects >= 1 and room.agents_reread == 1
                with pytest.raises(TimeoutError):
                    await visitor.frame(timeout=1)  # the change once, not twice


async def test_the_demo_agent_types_then_echoes_in_markdown(tmp_path: Path) -> None:
    app = create_app(Settings(database=tmp_path / "demo.db", demo_agent="echo"))
    with serving(app) as server:
        async with api(server) as visitor:
            rid = await visitor.visitor_with_room("demo")
            await visitor.subscribe("demo", rid, operation("livechatRoomEvents"))
            broker = app.state.backend.inner.broker

            async def live() -> bool:
                return bool(broker.subscriber_count == 1)

            await eventually(live)
            await visitor.send("demo", rid, "Is **anyone** there?")
            kinds = [await event(visitor) for _ in range(4)]
        assert kinds[0]["message"]["msg"] == "Is **anyone** there?"
        assert kinds[1] == {
            "__typename": "LivechatTyping",
            "rid": rid,
            "username": "demo",
            "typing": True,
        }
        assert kinds[2] == {
            "__typename": "LivechatTyping",
            "rid": rid,
            "username": "demo",
            "typing": False,
        }
        reply = kinds[3]["message"]
        assert reply["msg"] == "**You said:**\n> Is **anyone** there?"
        assert reply["u"]["username"] == "demo"
        assert [node["__typename"] for node in reply["md"]] == ["Paragraph", "Quote"]


def test_no_demo_agent_in_production() -> None:
    with pytest.raises(ValueError, match="DEMO_AGENT"):
        Settings(production=True, demo_agent="echo")


def test_widget_clients_see_the_agent(rocketchat: Served, graphql_url: str) -> None:
    """Apollo Client (GraphQLWsLink) on the API under test, and Rocket.Chat's widget library on
    the in-process server's DDP, with the agent driven through Rocket.Chat's agent API."""
    done = subprocess.run(
        ["node", "--test", "agent.test.mjs"],
        cwd=npm_ci(CLIENTS), capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "SERVER_URL": graphql_url, "ROCKETCHAT_URL": rocketchat.url,
             "AGENT_USER": "ann", "AGENT_PASSWORD": "ann-secret"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
