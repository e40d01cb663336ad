"""Rocket.Chat's REST routes for what surrounds a chat, served in-process with its bodies: config,
the visitor's data, custom fields, the offline form, transcripts, department transfer (7.x's
room.transfer and 8.x's visitor/department.transfer) and the survey. Refusals as rest.py writes
them (`LivechatFailure.body`), except 8.x's department.transfer, which returns its errors as
`{"success": false, "error": id}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.backends.base import (
    BackendFailure,
    ConversationClosed,
    CustomField,
    ErrorInvalidRoom,
    InvalidParams,
    InvalidRoom,
    JsonObject,
    LivechatFailure,
    OfflineMessage,
    SurveyAnswer,
)
from app.backends.inprocess.rest import (
    PREFIX,
    Endpoint,
    _answer,
    _backend,
    _body,
    _json,
    _no_other_keys,
    _rate_limited,
    _string,
)
from app.backends.rocketchat_json import format_datetime, room_to_json, visitor_to_json
from app.backends.widget_json import custom_field_to_json

routes: list[Route] = []


def _route(method: str, path: str) -> Callable[[Endpoint], Endpoint]:
    def add(endpoint: Endpoint) -> Endpoint:
        routes.append(
            Route(PREFIX + path, _rate_limited(method, PREFIX + path, endpoint), methods=[method])
        )
        return endpoint

    return add


def _flag(source: JsonObject, name: str) -> bool:
    value = source.get(name)
    if value is None:
        raise InvalidParams(f"must have required property '{name}'")
    if not isinstance(value, bool):
        raise InvalidParams(f"/{name} must be boolean")
    return value


@_route("GET", "/config")
async def config(request: Request) -> Response:
    async def work() -> JsonObject:
        query: dict[str, Any] = dict(request.query_params)
        _no_other_keys(query, {"token", "department", "businessUnit"})
        found = await _backend(request).config(
            _string(query, "token", required=False) or None,
            _string(query, "department", required=False) or None,
        )
        return {"config": found.raw}

    return await _answer(work)


@_route("GET", "/visitor/{token}")
async def get_visitor(request: Request) -> Response:
    token: str = request.path_params["token"]

    async def work() -> JsonObject:
        return {"visitor": visitor_to_json(await _backend(request).visitor(token))}

    return await _answer(work)


@_route("DELETE", "/visitor/{token}")
async def remove_visitor(request: Request) -> Response:
    token: str = request.path_params["token"]

    async def work() -> JsonObject:
        removed = await _backend(request).remove_visitor(token)
        return {"visitor": {"_id": removed.id, "ts": format_datetime(removed.ts)}}

    return await _answer(work)


@_route("POST", "/custom.field")
async def set_custom_field(request: Request) -> Response:
    async def work() -> JsonObject:
        body = await _body(request)
        token, key, value = _string(body, "token"), _string(body, "key"), _string(body, "value")
        field = CustomField(key=key or "", value=value or "", overwrite=_flag(body, "overwrite"))
        _no_other_keys(body, {"token", "key", "value", "overwrite"})
        (done,) = await _backend(request).set_custom_fields(token or "", [field])
        return {"field": custom_field_to_json(done)}

    return await _answer(work)


@_route("POST", "/custom.fields")
async def set_custom_fields(request: Request) -> Response:
    async def work() -> JsonObject:
        body = await _body(request)
        token = _string(body, "token")
        items = body.get("customFields")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise InvalidParams("must have required property 'customFields'")
        fields = [
            CustomField(
                key=_string(item, "key") or "",
                value=_string(item, "value") or "",
                overwrite=_flag(item, "overwrite"),
            )
            for item in items
        ]
        done = await _backend(request).set_custom_fields(token or "", fields)
        # The plural route's answer spells `Key` with a capital K.
        return {
            "fields": [
                {"Key": field.key, "value": field.value, "overwrite": field.overwrite}
                for field in done
            ]
        }

    return await _answer(work)


@_route("POST", "/visitor.status")
async def set_visitor_status(request: Request) -> Response:
    async def work() -> JsonObject:
        body = await _body(request)
        token, status = _string(body, "token"), _string(body, "status")
        _no_other_keys(body, {"token", "status"})
        answered = await _backend(request).set_visitor_status(token or "", status or "")
        return {"token": token, "status": answered}

    return await _answer(work)


@_route("POST", "/offline.message")
async def send_offline_message(request: Request) -> Response:
    async def work() -> JsonObject:
        body = await _body(request)
        offline = OfflineMessage(
            name=_string(body, "name") or "",
            email=_string(body, "email") or "",
            message=_string(body, "message") or "",
            department=_string(body, "department", required=False),
            host=_string(body, "host", required=False),
        )
        _no_other_keys(body, {"name", "email", "message", "department", "host"})
        return {"message": await _backend(request).send_offline_message(offline)}

    return await _answer(work)


@_route("POST", "/transcript")
async def request_transcript(request: Request) -> Response:
    async def work() -> JsonObject:
        body = await _body(request)
        token, rid, email = _string(body, "token"), _string(body, "rid"), _string(body, "email")
        _string(body, "subject", required=False)  # 8.x: accepted, ignored for visitors
        _no_other_keys(body, {"token", "rid", "email", "subject"})
        message = await _backend(request).request_transcript(token or "", rid or "", email or "")
        return {"message": message}

    return await _answer(work)


async def _unavailable(failure: BackendFailure) -> Response:
    """rest.py's answer to a store that could not keep the write (503)."""

    async def fail() -> JsonObject:
        raise failure

    return await _answer(fail)


def _transfer_body(body: JsonObject) -> tuple[str, str, str]:
    token, rid = _string(body, "token"), _string(body, "rid")
    department = _string(body, "department")
    _no_other_keys(body, {"token", "rid", "department"})
    return token or "", rid or "", department or ""


@_route("POST", "/room.transfer")
async def room_transfer(request: Request) -> Response:
    """7.x: invalid-room where 8.x says error-invalid-room; a closed room is one the routing
    refuses (`{"success": false}`); answers the room."""
    try:
        body = await _body(request)
        token, rid, department = _transfer_body(body)
        backend = _backend(request)
        try:
            await backend.transfer_room(token, rid, department)
        except ErrorInvalidRoom:
            raise InvalidRoom from None
        except ConversationClosed:
            return _json({"success": False}, 400)
    except LivechatFailure as failure:
        return _json(failure.body(), 400)
    except BackendFailure as failure:
        return await _unavailable(failure)

    async def work() -> JsonObject:
        room, _new = await backend.open_room(token, rid)
        return {"room": room_to_json(room)}

    return await _answer(work)


@_route("POST", "/visitor/department.transfer")
async def department_transfer(request: Request) -> Response:
    """8.x: a typed route whose refusals are returned as `{"success": false, "error": id}`."""
    try:
        body = await _body(request)
        token, rid, department = _transfer_body(body)
        await _backend(request).transfer_room(token, rid, department)
    except LivechatFailure as failure:
        return _json({"success": False, "error": failure.upstream_error}, 400)
    except BackendFailure as failure:
        return await _unavailable(failure)
    return _json({"success": True})


@_route("POST", "/room.survey")
async def rate_room(request: Request) -> Response:
    async def work() -> JsonObject:
        body = await _body(request)
        token, rid = _string(body, "token"), _string(body, "rid")
        data = body.get("data")
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise InvalidParams("must have required property 'data'")
        _no_other_keys(body, {"token", "rid", "data"})
        answers = [
            SurveyAnswer(name=_string(item, "name") or "", value=_string(item, "value") or "")
            for item in data
        ]
        kept = await _backend(request).rate_room(token or "", rid or "", answers)
        return {"rid": rid, "data": {answer.name: answer.value for answer in kept}}

    return await _answer(work)
