"""Rocket.Chat's REST answers to domain records and domain errors.

Accepts Rocket.Chat's JSON as servers really send it: `success` as a boolean or the string
"true", extra fields anywhere, `md` missing (older servers, markdown off: we parse it then).
Anything that is not Rocket.Chat's JSON is an `UpstreamError`; its body is logged, never shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from app.backends.base import (
    FAILURE_BY_ERROR,
    Agent,
    InvalidCustomFieldValue,
    JsonObject,
    LivechatFailure,
    Message,
    OtherLivechatFailure,
    Room,
    UpstreamError,
    Visitor,
)
from app.backends.rocketchat_json import (
    agent_from_json,
    message_from_json,
    room_from_json,
    visitor_from_json,
)

log = logging.getLogger("app.upstream")

# Rocket.Chat ≤5.x put the Meteor.Error object itself in the body: its class name in
# `errorType`, the id in `error`.
METEOR_CLASS_NAME = "Meteor.Error"


def _body(response: httpx.Response) -> JsonObject:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        log.warning(
            "upstream answered %s with a body that is not Rocket.Chat's JSON: %r",
            response.status_code,
            response.content[:500],
        )
        raise UpstreamError("the upstream server answered something that is not Rocket.Chat")
    return body


def _succeeded(body: JsonObject) -> bool:
    return body.get("success") in (True, "true")


def error_id(body: JsonObject) -> str:
    """Rocket.Chat's error id: `errorType` when the body has one (6.x's Meteor errors read
    "Reason [id]" in `error`, the id in `errorType`), else the `error` string (7.x's plain
    errors are the id alone)."""
    error_type = body.get("errorType")
    if isinstance(error_type, str) and error_type and error_type != METEOR_CLASS_NAME:
        return error_type
    return str(body.get("error"))


def failure_from(body: JsonObject) -> LivechatFailure | None:
    """Rocket.Chat's `{success: false, error, errorType}` as a domain failure, if it is one."""
    if _succeeded(body):
        return None
    if "error" not in body:
        # The upload route refuses with `{reason: <id>, success: false}`.
        if isinstance(body.get("reason"), str) and body.get("success") is False:
            return FAILURE_BY_ERROR.get(body["reason"], OtherLivechatFailure).from_upstream(
                body["reason"], body["reason"]
            )
        return None
    error = error_id(body)
    kind = FAILURE_BY_ERROR.get(error, OtherLivechatFailure)
    if kind is OtherLivechatFailure and InvalidCustomFieldValue.matches(error):
        kind = InvalidCustomFieldValue
    text = str(body.get("error"))
    if kind is OtherLivechatFailure and body.get("message"):
        text = str(body["message"])
    return kind.from_upstream(error, text)


def answer(response: httpx.Response) -> JsonObject:
    """The successful body, or the failure it reports raised."""
    body = _body(response)
    failure = failure_from(body)
    if failure is not None:
        raise failure
    if not _succeeded(body) and response.status_code >= 400:
        log.warning("upstream answered %s", response.status_code)
        raise UpstreamError(f"the upstream server answered {response.status_code}")
    return body


def answer_or(response: httpx.Response, refused: type[LivechatFailure]) -> JsonObject:
    """`answer`, where a bare `{success: false}` (Rocket.Chat's `API.v1.failure()` with no
    error, e.g. a transfer the routing refused) is `refused`."""
    body = _body(response)
    if not _succeeded(body) and "error" not in body and response.status_code == 400:
        raise refused()
    return answer(response)


def _field(body: JsonObject, name: str) -> Any:
    if name not in body:
        log.warning("upstream answer lacks %r", name)
        raise UpstreamError(f"the upstream answer lacks {name!r}")
    return body[name]


def convert(convert: Callable[[Any], Any], value: Any) -> Any:
    """`convert(value)`, where a value not in Rocket.Chat's shape is an UpstreamError."""
    return _convert(convert, value)


def _convert(convert: Callable[[Any], Any], value: Any) -> Any:
    try:
        return convert(value)
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("upstream sent an unreadable record: %r", value)
        raise UpstreamError("the upstream answer is not in Rocket.Chat's shape") from None


def visitor(body: JsonObject) -> Visitor:
    return _convert(visitor_from_json, _field(body, "visitor"))  # type: ignore[no-any-return]


def room(body: JsonObject) -> tuple[Room, bool]:
    found = _convert(room_from_json, _field(body, "room"))
    return found, bool(body.get("newRoom", False))


MarkdownFor = Callable[[JsonObject], list[JsonObject]]


def message(document: Any, markdown_for: MarkdownFor) -> Message:
    """A message; `md` is computed by our parser when the server sent none."""

    def convert(raw: Any) -> Message:
        md = raw.get("md")
        if not isinstance(md, list):
            # System messages (`t` set) are not markdown: Rocket.Chat stores them unparsed.
            md = markdown_for(raw) if raw.get("t") is None else []
        return message_from_json(raw, md)

    return _convert(convert, document)  # type: ignore[no-any-return]


def agent(body: JsonObject) -> tuple[Agent | None, bool]:
    """agent.info's answer: the agent, or (None, True) for `{"hiddenInfo": true}`."""
    found = _convert(agent_from_json, _field(body, "agent"))
    return found, found is None
