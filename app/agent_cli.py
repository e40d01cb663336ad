"""`livechat-graphql agent`: play the agent from a terminal, through Rocket.Chat's agent API.

Logs in (`POST /api/v1/login`) on every run and speaks only Rocket.Chat's own routes and DDP, so
it works against the in-process server (with `AGENTS` or `DEMO_AGENT`) and against a real
Rocket.Chat alike: `rooms` lists the agent's rooms and the queue (`GET livechat/rooms`),
`history` reads a room (`livechat/messages.history` with the room's visitor token), `reply`
(`chat.sendMessage`), `typing` (DDP `login` resume, then `stream-notify-room
<rid>/user-activity`), `close` (`livechat/room.closeByUser`), `status` (`users.setStatus`), and
`watch` prints a room's messages and the visitor's typing as they come (DDP streams).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence
from typing import Any

import httpx

from app.backends.rocketchat_json import parse_datetime

STATUSES = ("online", "away", "busy", "offline")


def add_parser(commands: Any) -> None:
    """The `agent` command and its actions, under the CLI's subcommands."""
    agent = commands.add_parser("agent", help="act as a livechat agent (Rocket.Chat's agent API)")
    agent.add_argument(
        "--server", default="http://127.0.0.1:8000", help="the server (default %(default)s)"
    )
    agent.add_argument("--user", required=True, help="the agent's username")
    agent.add_argument("--password", help="the agent's password (asked for when absent)")
    actions = agent.add_subparsers(dest="action", required=True)
    actions.add_parser("rooms", help="the rooms the agent serves, and the queue")
    history = actions.add_parser("history", help="a room's messages, oldest first")
    history.add_argument("rid")
    history.add_argument("--limit", type=int, default=20)
    reply = actions.add_parser("reply", help="send a message to a room the agent serves")
    reply.add_argument("rid")
    reply.add_argument("text")
    typing = actions.add_parser("typing", help="show the visitor that the agent types, or stops")
    typing.add_argument("rid")
    typing.add_argument("state", choices=("on", "off"))
    close = actions.add_parser("close", help="close a room the agent serves")
    close.add_argument("rid")
    close.add_argument("--comment", default="", help="the closing comment the visitor sees")
    status = actions.add_parser("status", help="change the agent's status")
    status.add_argument("status", choices=STATUSES)
    watch = actions.add_parser("watch", help="print a room's messages and typing until Ctrl-C")
    watch.add_argument("rid")


class AgentFailed(Exception):
    """Rocket.Chat refused; the message says what it answered."""


class AgentSession:
    """One logged-in agent: REST with X-Auth-Token and X-User-Id, DDP with `resume`."""

    def __init__(self, http: httpx.AsyncClient, token: str, user_id: str, username: str) -> None:
        self.http = http
        self.token = token
        self.user_id = user_id
        self.username = username

    @classmethod
    async def login(cls, http: httpx.AsyncClient, user: str, password: str) -> AgentSession:
        answer = await http.post("/api/v1/login", json={"user": user, "password": password})
        body = _json(answer)
        if answer.status_code != 200 or body.get("status") != "success":
            raise AgentFailed(f"login refused: {body.get('message') or answer.status_code}")
        data = body["data"]
        return cls(http, str(data["authToken"]), str(data["userId"]), user)

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"X-Auth-Token": self.token, "X-User-Id": self.user_id}
        answer = await self.http.request(method, f"/api/v1/{path}", headers=headers, **kwargs)
        body = _json(answer)
        if answer.status_code != 200 or body.get("success") is not True:
            error = body.get("errorType") or body.get("error") or body.get("message")
            raise AgentFailed(f"{path} refused: {error or answer.status_code}")
        return body

    async def room(self, rid: str) -> dict[str, Any]:
        for room in (await self.call("GET", "livechat/rooms"))["rooms"]:
            if room.get("_id") == rid:
                return dict(room)
        raise AgentFailed(f"no room {rid} among the agent's rooms")

    def realtime_url(self) -> str:
        return str(self.http.base_url).replace("http", "ws", 1).rstrip("/") + "/websocket"

    async def ddp(self) -> Any:
        """A DDP session logged in as the agent."""
        from app.backends.upstream.ddp import DdpConnection, DdpTiming

        connection = await DdpConnection.open(self.realtime_url(), DdpTiming())
        login = await connection.call("login", [{"resume": self.token}])
        if "error" in login:
            await connection.close()
            raise AgentFailed(f"DDP login refused: {login['error'].get('reason')}")
        return connection


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        raise AgentFailed(f"the server answered {answer.status_code}, not JSON") from None
    return body if isinstance(body, dict) else {}


def _line(message: dict[str, Any]) -> str:
    when = parse_datetime(message["ts"]).strftime("%H:%M:%S")
    who = (message.get("u") or {}).get("username", "?")
    kind = f" [{message['t']}]" if message.get("t") else ""
    return f"{when} {who}{kind}: {message.get('msg', '')}"


async def run(arguments: argparse.Namespace, out: Any = sys.stdout) -> None:
    password = arguments.password
    if password is None:
        password = getpass.getpass(f"password for {arguments.user}: ")
    async with httpx.AsyncClient(base_url=arguments.server, timeout=10) as http:
        session = await AgentSession.login(http, arguments.user, password)
        action = arguments.action
        if action == "rooms":
            for room in (await session.call("GET", "livechat/rooms"))["rooms"]:
                state = "open" if room.get("open") else "closed"
                served = "waiting" if not room.get("servedBy") else "served"
                visitor = (room.get("v") or {}).get("username", "")
                print(f"{room['_id']}  {state:6}  {served:7}  {visitor}", file=out)
        elif action == "history":
            room = await session.room(arguments.rid)
            params = {"token": room["v"]["token"], "limit": str(arguments.limit)}
            answer = await http.get(
                f"/api/v1/livechat/messages.history/{arguments.rid}", params=params
            )
            for message in reversed(_json(answer).get("messages") or []):
                print(_line(message), file=out)
        elif action == "reply":
            message = {"rid": arguments.rid, "msg": arguments.text}
            sent = await session.call("POST", "chat.sendMessage", json={"message": message})
            print(_line(sent["message"]), file=out)
        elif action == "typing":
            await typing(session, arguments.rid, arguments.state == "on")
        elif action == "close":
            body = {"rid": arguments.rid, "comment": arguments.comment}
            await session.call("POST", "livechat/room.closeByUser", json=body)
            print(f"closed {arguments.rid}", file=out)
        elif action == "status":
            await session.call("POST", "users.setStatus", json={"status": arguments.status})
            print(f"{session.username} is {arguments.status}", file=out)
        elif action == "watch":
            await watch(session, arguments.rid, out)


async def typing(session: AgentSession, rid: str, on: bool) -> None:
    connection = await session.ddp()
    try:
        params = [f"{rid}/user-activity", session.username, ["user-typing"] if on else [], {}]
        await connection.call("stream-notify-room", params)
    finally:
        await connection.close()


async def watch(session: AgentSession, rid: str, out: Any) -> None:
    connection = await session.ddp()
    options = {"useCollection": False, "args": [{}]}
    try:
        await connection.subscribe(
            {
                "m": ("stream-room-messages", [rid, options]),
                "t": ("stream-notify-room", [f"{rid}/user-activity", options]),
            }
        )
        print(f"watching {rid} (Ctrl-C to stop)", file=out, flush=True)
        while True:
            frame = await connection.receive()
            fields = frame.get("fields") or {}
            args = fields.get("args") or []
            if frame.get("msg") != "changed" or not args:
                continue
            if frame.get("collection") == "stream-room-messages":
                print(_line(args[0]), file=out, flush=True)
            elif len(args) > 1 and args[0] != session.username:
                state = "is typing" if "user-typing" in (args[1] or []) else "stopped typing"
                print(f"{args[0]} {state}", file=out, flush=True)
    finally:
        await connection.close()


def main(arguments: argparse.Namespace) -> int:
    try:
        asyncio.run(run(arguments))
    except AgentFailed as failure:
        print(f"livechat-graphql agent: {failure}", file=sys.stderr)
        return 1
    except httpx.HTTPError as error:
        print(f"livechat-graphql agent: cannot reach {arguments.server}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The `agent` command's arguments alone (for tests)."""
    main_parser = argparse.ArgumentParser(prog="livechat-graphql")
    add_parser(main_parser.add_subparsers(dest="command", required=True))
    return main_parser.parse_args(["agent", *argv])
