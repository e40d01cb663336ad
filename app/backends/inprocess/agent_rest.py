"""Rocket.Chat's agent REST API, served in-process: how an agent logs in, answers, edits,
deletes, closes, changes status and lists rooms (agents.py does the work).

Bodies are Rocket.Chat's: `POST /api/v1/login {"user", "password"}` answers
`{"status": "success", "data": {"authToken", "userId", "me"}}` (a wrong password: 401
`{"status": "error", "error": "Unauthorized", "message": "Unauthorized"}`); every other route
wants the headers `X-Auth-Token` and `X-User-Id` (else 401 `{"status": "error", "message":
"You must be logged in to do this."}`) and answers `{..., "success": true}`, or 400 with the
failure's body as the visitor routes do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.backends.base import BackendFailure, InvalidParams, JsonObject, LivechatFailure
from app.backends.inprocess.agents import AgentAccount, AgentDesk, Unauthorized
from app.backends.inprocess.ddp import agent_desk
from app.backends.rocketchat_json import format_datetime, message_to_json, room_to_json

API = "/api/v1"
NOT_LOGGED_IN = {"status": "error", "message": "You must be logged in to do this."}

routes: list[Route] = []
Work = Callable[[AgentDesk, AgentAccount, JsonObject], Awaitable[JsonObject]]


def _json(body: JsonObject, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


def _desk(request: Request) -> AgentDesk:
    desk = agent_desk(request.app.state.backend)
    if desk is None:  # pragma: no cover - these routes exist only with the in-process backend
        raise RuntimeError("the agent API needs the in-process backend")
    return desk


async def _body(request: Request) -> JsonObject:
    if request.method == "GET":
        return dict(request.query_params)
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        raise InvalidParams("body must be JSON") from None
    if not isinstance(body, dict):
        raise InvalidParams("body must be object")
    return body


def _text(source: Any, name: str, *, required: bool = True) -> str:
    value = source.get(name) if isinstance(source, dict) else None
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidParams(f"Match error: Missing key '{name}'")
    return value


def _agent_route(method: str, path: str) -> Callable[[Work], Work]:
    """A route for a logged-in agent: the headers checked, then `work(desk, agent, body)`."""

    def add(work: Work) -> Work:
        async def endpoint(request: Request) -> Response:
            desk = _desk(request)
            try:
                account = desk.resume(
                    request.headers.get("x-auth-token", ""), request.headers.get("x-user-id", "")
                )
            except Unauthorized:
                return _json(NOT_LOGGED_IN, 401)
            try:
                answer = await work(desk, account, await _body(request))
            except LivechatFailure as failure:
                return _json(failure.body(), 400)
            except BackendFailure as failure:
                error = failure.code.lower().replace("_", "-")
                return _json({"success": False, "error": error, "errorType": failure.code}, 503)
            return _json({**answer, "success": True})

        routes.append(Route(API + path, endpoint, methods=[method]))
        return work

    return add


def _me(account: AgentAccount, status: str | None) -> JsonObject:
    return {
        "_id": account.id,
        "username": account.username,
        "name": account.name,
        "status": status,
        "roles": ["user", "livechat-agent"],
        "emails": [{"address": account.email, "verified": True}] if account.email else [],
    }


async def login(request: Request) -> Response:
    try:
        body = await _body(request)
        user = body.get("user", body.get("username"))
        password = body.get("password")
        if not isinstance(user, str) or not isinstance(password, str):
            raise Unauthorized
        desk = _desk(request)
        token, account = desk.login(user, password)
    except (Unauthorized, InvalidParams):
        return _json({"status": "error", "error": "Unauthorized", "message": "Unauthorized"}, 401)
    agent = desk.agent(account.id)
    data = {
        "authToken": token,
        "userId": account.id,
        "me": _me(account, agent.status if agent else None),
    }
    return _json({"status": "success", "data": data})


async def logout(request: Request) -> Response:
    desk = _desk(request)
    token = request.headers.get("x-auth-token", "")
    try:
        desk.resume(token, request.headers.get("x-user-id", ""))
    except Unauthorized:
        return _json(NOT_LOGGED_IN, 401)
    desk.logout(token)
    return _json({"status": "success", "data": {"message": "You've been logged out!"}})


routes.append(Route(API + "/login", login, methods=["POST"]))
routes.append(Route(API + "/logout", logout, methods=["POST"]))


@_agent_route("POST", "/chat.sendMessage")
async def send_message(desk: AgentDesk, account: AgentAccount, body: JsonObject) -> JsonObject:
    message = body.get("message")
    if not isinstance(message, dict):
        raise InvalidParams("The 'message' param is required")
    sent = await desk.send(account, _text(message, "rid"), _text(message, "msg"))
    return {"message": message_to_json(sent)}


@_agent_route("POST", "/chat.update")
async def update_message(desk: AgentDesk, account: AgentAccount, body: JsonObject) -> JsonObject:
    edited = await desk.update(
        account, _text(body, "roomId"), _text(body, "msgId"), _text(body, "text")
    )
    return {"message": message_to_json(edited)}


@_agent_route("POST", "/chat.delete")
async def delete_message(desk: AgentDesk, account: AgentAccount, body: JsonObject) -> JsonObject:
    rid, message_id = _text(body, "roomId"), _text(body, "msgId")
    deleted = await desk.delete(account, rid, message_id)
    author = {"_id": account.id, "username": account.username}
    return {
        "_id": deleted.id,
        "ts": format_datetime(deleted.ts),
        "message": {"_id": deleted.id, "rid": rid, "u": author},
    }


@_agent_route("POST", "/livechat/room.closeByUser")
async def close_room(desk: AgentDesk, account: AgentAccount, body: JsonObject) -> JsonObject:
    await desk.close(account, _text(body, "rid"), _text(body, "comment", required=False))
    return {}


@_agent_route("POST", "/users.setStatus")
async def set_status(desk: AgentDesk, account: AgentAccount, body: JsonObject) -> JsonObject:
    await desk.set_status(account, _text(body, "status"))
    return {}


@_agent_route("GET", "/livechat/rooms")
async def rooms(desk: AgentDesk, account: AgentAccount, body: JsonObject) -> JsonObject:
    """The rooms the agent serves (open first) and the queue, with each visitor's token, as
    Rocket.Chat's room documents carry it (`v.token`)."""
    found = [room_to_json(room) for room in await desk.rooms(account)]
    return {"rooms": found, "count": len(found), "offset": 0, "total": len(found)}
