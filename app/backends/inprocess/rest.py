"""Rocket.Chat's own REST routes for livechat, served from the same backend the resolvers use.

Bodies and errors are Rocket.Chat's: `{..., "success": true}` on success, HTTP 400 with the
failure's own body on a refusal (`{"success": false, "error": id}`, or for a Meteor error
`"Reason [id]"` with `errorType`, as `LivechatFailure.body` writes it). A Rocket.Chat client, or
our upstream backend, can talk to these unchanged. When the store could not keep a write (full,
unwritable), HTTP 503 with `errorType` STORAGE_FULL or STORAGE_UNAVAILABLE.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.backends.base import (
    AgentRef,
    BackendFailure,
    InvalidParams,
    JsonObject,
    LivechatBackend,
    LivechatFailure,
    OtherLivechatFailure,
    OutgoingMessage,
    TokenParamNotProvided,
    Unauthorized,
    UploadRequest,
    VisitorRegistration,
)
from app.backends.inprocess.limits import API, RocketChatLimiter, counted, rocketchat_address
from app.backends.inprocess.service import CLOSED_BY_VISITOR
from app.backends.rocketchat_json import (
    agent_to_json,
    format_datetime,
    message_to_json,
    parse_datetime,
    room_to_json,
    visitor_to_json,
)
from app.multipart import (
    LingeringResponse,
    MalformedMultipart,
    MultipartStream,
    StreamedFile,
    boundary_of,
)

PREFIX = API


def _json(body: JsonObject, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


async def _answer(work: Callable[[], Awaitable[JsonObject]]) -> Response:
    try:
        body = await work()
    except LivechatFailure as failure:
        return _json(failure.body(), failure.http_status)
    except BackendFailure as failure:
        # Nothing was stored, and a retry may succeed once the store can write again.
        error = failure.code.lower().replace("_", "-")
        return _json({"success": False, "error": error, "errorType": failure.code}, 503)
    return _json({**body, "success": True})


async def _body(request: Request) -> JsonObject:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise InvalidParams("body must be JSON") from None
    if not isinstance(body, dict):
        raise InvalidParams("body must be object")
    return body


def _string(source: JsonObject, name: str, *, required: bool = True) -> str | None:
    value = source.get(name)
    if value is None:
        if required:
            raise InvalidParams(f"must have required property '{name}'")
        return None
    if not isinstance(value, str):
        raise InvalidParams(f"/{name} must be string")
    return value


# Starlette routes, not FastAPI's: a send's request needs no dependency solving, and the app's
# front door (app/front.py) runs them without FastAPI's router in between.
routes: list[Route] = []
Endpoint = Callable[[Request], Awaitable[Response]]


def _route(method: str, path: str) -> Callable[[Endpoint], Endpoint]:
    def add(endpoint: Endpoint) -> Endpoint:
        routes.append(
            Route(PREFIX + path, _rate_limited(method, PREFIX + path, endpoint), methods=[method])
        )
        return endpoint

    return add


def _backend(request: Request) -> LivechatBackend:
    backend: LivechatBackend = request.app.state.backend
    return backend


def _limiter(request: Request) -> RocketChatLimiter | None:
    """The backend's rate limiter, when `RATE_LIMIT=rocketchat` gave it one (beneath the
    app's input guards)."""
    backend = _backend(request)
    inner = getattr(backend, "inner", backend)
    limiter: RocketChatLimiter | None = getattr(inner, "rate_limiter", None)
    return limiter


def _rate_limited(method: str, route: str, endpoint: Endpoint) -> Endpoint:
    """The endpoint behind Rocket.Chat's limiter, which counts a call before its parameters
    are read, from the address Rocket.Chat derives, and puts its headers on the answer."""

    async def limited(request: Request) -> Response:
        limiter = _limiter(request)
        if limiter is None:
            return await endpoint(request)
        peer = request.client.host if request.client else None
        verdict = limiter.hit(method, route, rocketchat_address(request.scope["headers"], peer))
        if verdict is None:
            return await endpoint(request)
        headers = verdict.headers(limiter.now())
        if not verdict.allowed:
            response = _json({"success": False, "error": verdict.message()}, 429)
        else:
            with counted():
                response = await endpoint(request)
        response.headers.update(headers)
        return response

    return limited


@_route("POST", "/visitor")
async def register_visitor(request: Request) -> Response:
    async def work() -> JsonObject:
        body = await _body(request)
        fields = body.get("visitor")
        if not isinstance(fields, dict):
            raise InvalidParams("must have required property 'visitor'")
        registration = VisitorRegistration(
            token=_string(fields, "token") or "",
            name=_string(fields, "name", required=False),
            email=_string(fields, "email", required=False),
            phone=_string(fields, "phone", required=False),
            username=_string(fields, "username", required=False),
            department=_string(fields, "department", required=False),
        )
        visitor = await _backend(request).register_visitor(registration)
        return {"visitor": visitor_to_json(visitor)}

    return await _answer(work)


@_route("GET", "/room")
async def open_room(request: Request) -> Response:
    async def work() -> JsonObject:
        query: dict[str, Any] = dict(request.query_params)
        room, new_room = await _backend(request).open_room(
            _string(query, "token") or "",
            _string(query, "rid", required=False),
            _string(query, "agentId", required=False),
        )
        return {"room": room_to_json(room), "newRoom": new_room}

    return await _answer(work)


@_route("POST", "/message")
async def send_message(request: Request) -> Response:
    async def work() -> JsonObject:
        body = await _body(request)
        agent = body.get("agent")
        if agent is not None and not isinstance(agent, dict):
            raise InvalidParams("/agent must be object")
        outgoing = OutgoingMessage(
            token=_string(body, "token") or "",
            rid=_string(body, "rid") or "",
            msg=_string(body, "msg") or "",
            id=_string(body, "_id", required=False),
            agent=AgentRef(
                agent_id=_string(agent, "agentId") or "", username=_string(agent, "username") or ""
            )
            if agent
            else None,
        )
        message = await _backend(request).send_message(outgoing)
        return {"message": message_to_json(message)}

    return await _answer(work)


@_route("GET", "/message/{message_id}")
async def get_message(request: Request) -> Response:
    message_id: str = request.path_params["message_id"]

    async def work() -> JsonObject:
        query: dict[str, Any] = dict(request.query_params)
        message = await _backend(request).message(
            _string(query, "token") or "", _string(query, "rid") or "", message_id
        )
        return {"message": message_to_json(message)}

    return await _answer(work)


def _no_other_keys(body: JsonObject, allowed: set[str]) -> None:
    if set(body) - allowed:
        raise InvalidParams("must NOT have additional properties")


@_route("PUT", "/message/{message_id}")
async def update_message(request: Request) -> Response:
    message_id: str = request.path_params["message_id"]

    async def work() -> JsonObject:
        body = await _body(request)
        token, rid, msg = (_string(body, "token"), _string(body, "rid"), _string(body, "msg"))
        _no_other_keys(body, {"token", "rid", "msg"})
        message = await _backend(request).update_message(
            token or "", rid or "", message_id, msg or ""
        )
        return {"message": message_to_json(message)}

    return await _answer(work)


@_route("DELETE", "/message/{message_id}")
async def delete_message(request: Request) -> Response:
    message_id: str = request.path_params["message_id"]

    async def work() -> JsonObject:
        body = await _body(request)
        token, rid = _string(body, "token"), _string(body, "rid")
        _no_other_keys(body, {"token", "rid", "count", "offset", "sort"})
        deleted = await _backend(request).delete_message(token or "", rid or "", message_id)
        return {"message": {"_id": deleted.id, "ts": format_datetime(deleted.ts)}}

    return await _answer(work)


@_route("POST", "/room.close")
async def close_room(request: Request) -> Response:
    async def work() -> JsonObject:
        body = await _body(request)
        rid = await _backend(request).close_room(
            _string(body, "token") or "", _string(body, "rid") or ""
        )
        return {"rid": rid, "comment": CLOSED_BY_VISITOR}

    return await _answer(work)


@_route("GET", "/messages.history/{rid}")
async def message_history(request: Request) -> Response:
    rid: str = request.path_params["rid"]

    async def work() -> JsonObject:
        query: dict[str, Any] = dict(request.query_params)
        if not query.get("token"):
            raise TokenParamNotProvided
        limit_text = query.get("limit", "20")
        if not limit_text.isdigit():
            raise InvalidParams("/limit must be a whole number")
        end = query.get("end")
        try:
            before = parse_datetime(end) if end is not None else None
        except ValueError:
            raise InvalidParams("/end must be a date") from None
        messages = await _backend(request).message_history(
            query["token"], rid, int(limit_text), before
        )
        return {"messages": [message_to_json(message) for message in messages]}

    return await _answer(work)


@_route("GET", "/agent.info/{rid}/{token}")
async def agent_info(request: Request) -> Response:
    rid: str = request.path_params["rid"]
    token: str = request.path_params["token"]

    async def work() -> JsonObject:
        agent, hidden = await _backend(request).agent_info(token, rid)
        if hidden or agent is None:
            return {"agent": {"hiddenInfo": True}}
        return {"agent": agent_to_json(agent)}

    return await _answer(work)


@_route("POST", "/upload/{rid}")
async def upload(request: Request) -> Response:
    """Rocket.Chat's multipart upload: the token in `x-visitor-token`, the form's fields
    (`description`, `msg`) before the `file` part, the file read while the backend stores it.
    A refusal ends the request where it stands; the connection is then closed, the rest of
    the body never read."""
    token = request.headers.get("x-visitor-token")
    if not token:
        return _json(Unauthorized().body(), Unauthorized.http_status)
    boundary = boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        return _json(InvalidParams("the body must be multipart/form-data").body(), 400)
    stream = MultipartStream(request.receive, boundary)
    fields: dict[str, str] = {}
    file: StreamedFile | None = None

    async def work() -> JsonObject:
        nonlocal file
        try:
            while file is None and (start := await stream.part()) is not None:
                if start.filename is not None:
                    if start.name != "file":
                        raise OtherLivechatFailure("Invalid field name", "invalid-field")
                    file = StreamedFile(stream, start, _upload_limit(request))
                else:
                    value = await stream.field(FORM_FIELD_LIMIT)
                    fields[start.name] = value.decode("utf-8", "replace")
        except MalformedMultipart as error:
            raise InvalidParams(str(error)) from None
        if file is None:
            raise OtherLivechatFailure("No file uploaded", "error-no-file")
        message = await _backend(request).upload_file(
            UploadRequest(
                token=token,
                rid=request.path_params["rid"],
                file=file,
                description=fields.get("description"),
                msg=fields.get("msg"),
            )
        )
        return {**message_to_json(message), "newRoom": False, "showConnecting": False}

    response = await _answer(work)
    return response if stream.complete else LingeringResponse(response)


def _upload_limit(request: Request) -> int | None:
    limit: int | None = getattr(request.app.state, "upload_limit", None)
    return limit


# The longest text field of an upload form (description, msg) in bytes.
FORM_FIELD_LIMIT = 65_536
