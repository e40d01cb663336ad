"""The widget's calls around a chat, sent to a real Rocket.Chat: config, the visitor's data,
the offline form, transcripts, department transfer and the survey.

A mixin of `UpstreamBackend`, over its `_call` (retries, headers) and `_body` (Rocket.Chat's
refusals raised as domain failures). What may be retried: reads, and writes that set a value
(custom fields, status, survey answers, a department); a removal, a mail or a transfer is sent
once after a connection was made (CONNECT_ONLY), since a repeat would be seen.

The department transfer route depends on the server's version: 8.x serves
`livechat/visitor/department.transfer`, 7.x `livechat/room.transfer` (gone in 8.x). The first
transfer asks 8.x's route; a 404 (the route does not exist) sends it, and every later one, to
7.x's. Nothing for the operator to configure.

A config without a token is the same for every visitor of a page, and a page load asks for it:
identical ones asked at once share one call, and its answer is kept a second (see `config`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from app import request_scope
from app.backends.base import (
    CustomField,
    InvalidParams,
    JsonObject,
    OfflineMessage,
    RateLimited,
    RemovedVisitor,
    SurveyAnswer,
    TransferFailed,
    UpstreamError,
    Visitor,
    WidgetConfig,
)
from app.backends.ids import PATH_ID
from app.backends.rocketchat_json import parse_datetime
from app.backends.upstream import mapping
from app.backends.upstream.coalesce import SharedCalls
from app.backends.upstream.retry import CONNECT_ONLY, IDEMPOTENT, RetryPolicy
from app.backends.widget_json import (
    config_from_json,
    custom_field_from_json,
    custom_field_to_json,
    survey_answers_from_json,
)

log = logging.getLogger("app.upstream")

API = "/api/v1/livechat"
TRANSFER_8X = f"{API}/visitor/department.transfer"
TRANSFER_7X = f"{API}/room.transfer"

# Rocket.Chat memoises the config's settings for a second (`settings()` in its livechat API's
# lib/livechat.ts): a tokenless answer kept as long is no staler than Rocket.Chat's own.
CONFIG_KEPT_FOR = 1.0
# Headers no shared answer depends on: the visitor's (the call carries its starter's).
_NOT_IN_KEY = frozenset({"x-forwarded-for", "x-real-ip", "user-agent", "x-request-id"})

# A department (or none) and the forwarded headers the asker sent, as (name, value) pairs.
ConfigKey = tuple[str | None, tuple[tuple[str, str], ...]]


def shared_configs(clock: Callable[[], float]) -> SharedCalls[ConfigKey, WidgetConfig]:
    """Tokenless configs, shared and kept `CONFIG_KEPT_FOR`; a 429 is its starter's own."""
    return SharedCalls(CONFIG_KEPT_FOR, own_failures=(RateLimited,), clock=clock)


def _config_key(department: str | None) -> ConfigKey:
    """What a tokenless answer may depend on: the department, and whatever forwarded header the
    operator allow-listed (`FORWARD_HEADERS`: Rocket.Chat's config ignores them, but a proxy
    in front of it might not, and a shared answer must not cross them)."""
    forwarded = request_scope.current().forwarded_headers
    headers = sorted(
        (name.lower(), value)
        for name, value in forwarded.items()
        if name.lower() not in _NOT_IN_KEY
    )
    return department, tuple(headers)


class _Calls(Protocol):
    async def _call(
        self,
        method: str,
        path: str,
        policy: RetryPolicy,
        *,
        json: JsonObject | None = None,
        params: Mapping[str, str] | None = None,
        retried: list[int] | None = None,
    ) -> httpx.Response: ...


def _token_segment(token: str) -> str:
    """A visitor token as one path segment (visitor/:token): Rocket.Chat's tokens are hex or
    ids; anything that could change the path is refused before the call."""
    if not PATH_ID.fullmatch(token):
        raise InvalidParams("'token' must be letters, digits, '-' or '_'")
    return token


class WidgetCalls:
    """Rocket.Chat's widget routes, as `UpstreamBackend` methods."""

    # 8.x's transfer route until a server answers 404 for it.
    _transfer_route: str = TRANSFER_8X
    # Made by `UpstreamBackend.__init__` (with its clock).
    _shared_configs: SharedCalls[ConfigKey, WidgetConfig]

    async def _widget_call(
        self,
        method: str,
        path: str,
        policy: RetryPolicy,
        *,
        json: JsonObject | None = None,
        params: Mapping[str, str] | None = None,
    ) -> JsonObject:
        calls: _Calls = self  # type: ignore[assignment]
        response = await calls._call(method, path, policy, json=json, params=params)
        return mapping.answer(response)

    async def config(self, token: str | None = None, department: str | None = None) -> WidgetConfig:
        """A visitor's config (with a token: their visitor, room and agent) is asked afresh
        every time. Without a token Rocket.Chat's answer depends on the department alone, so
        identical ones asked at once share one call, and its answer is kept `CONFIG_KEPT_FOR`;
        a failure is given to everyone who waited on that call and never kept.

        Whose address the shared call carries (Rocket.Chat limits each address to 10 config
        calls a minute, see `IncomingRequest.visitor_headers`): its starter's, with the
        starter's User-Agent and request id. Each upstream call is so counted against a visitor
        who asked, once, and the visitors served by it or by the kept answer spend nothing.
        The facade's own address would spend one limit for everyone: a busy page would meet
        Rocket.Chat's 429 within seconds. A 429 is the starter's alone: the others who waited
        on it ask on their own (each with their address), so a visitor past their limit, who
        would often start the call, cannot refuse the config to the others."""
        if token is not None:
            return await self._fetch_config(token, department)

        async def fetch() -> WidgetConfig:
            return await self._fetch_config(None, department)

        return await self._shared_configs.get(_config_key(department), fetch)

    async def _fetch_config(self, token: str | None, department: str | None) -> WidgetConfig:
        params = {
            name: value
            for name, value in (("token", token), ("department", department))
            if value is not None
        }
        body = await self._widget_call("GET", f"{API}/config", IDEMPOTENT, params=params)
        raw = body.get("config")
        if not isinstance(raw, dict):
            raise UpstreamError("the upstream answer lacks 'config'")
        return mapping.convert(config_from_json, raw)  # type: ignore[no-any-return]

    async def visitor(self, token: str) -> Visitor:
        body = await self._widget_call("GET", f"{API}/visitor/{_token_segment(token)}", IDEMPOTENT)
        return mapping.visitor(body)

    async def set_custom_fields(self, token: str, fields: list[CustomField]) -> list[CustomField]:
        """One custom.field call per field, as the widget sends them; the first refusal
        stops the rest (those before it stay set)."""
        done: list[CustomField] = []
        for field in fields:
            body = await self._widget_call(
                "POST",
                f"{API}/custom.field",
                IDEMPOTENT,
                json={"token": token, **custom_field_to_json(field)},
            )
            answered = body.get("field")
            done.append(
                mapping.convert(custom_field_from_json, answered)
                if isinstance(answered, dict)
                else field
            )
        return done

    async def set_visitor_status(self, token: str, status: str) -> str:
        body = await self._widget_call(
            "POST", f"{API}/visitor.status", IDEMPOTENT, json={"token": token, "status": status}
        )
        return str(body.get("status", status))

    async def remove_visitor(self, token: str) -> RemovedVisitor:
        body = await self._widget_call(
            "DELETE", f"{API}/visitor/{_token_segment(token)}", CONNECT_ONLY
        )
        removed: Any = body.get("visitor")

        def read(document: Any) -> RemovedVisitor:
            return RemovedVisitor(id=str(document["_id"]), ts=parse_datetime(document["ts"]))

        return mapping.convert(read, removed)  # type: ignore[no-any-return]

    async def send_offline_message(self, offline: OfflineMessage) -> str:
        body: JsonObject = {
            "name": offline.name,
            "email": offline.email,
            "message": offline.message,
        }
        if offline.department is not None:
            body["department"] = offline.department
        if offline.host is not None:
            body["host"] = offline.host
        answer = await self._widget_call("POST", f"{API}/offline.message", CONNECT_ONLY, json=body)
        return str(answer.get("message", ""))

    async def request_transcript(self, token: str, rid: str, email: str) -> str:
        answer = await self._widget_call(
            "POST",
            f"{API}/transcript",
            CONNECT_ONLY,
            json={"token": token, "rid": rid, "email": email},
        )
        return str(answer.get("message", ""))

    async def transfer_room(self, token: str, rid: str, department: str) -> str:
        """8.x's route first; on its 404, 7.x's, remembered for every later transfer."""
        calls: _Calls = self  # type: ignore[assignment]
        body = {"token": token, "rid": rid, "department": department}
        response = await calls._call("POST", self._transfer_route, CONNECT_ONLY, json=body)
        if response.status_code == 404 and self._transfer_route == TRANSFER_8X:
            log.info("upstream has no %s: transfers go to %s", TRANSFER_8X, TRANSFER_7X)
            self._transfer_route = TRANSFER_7X
            response = await calls._call("POST", TRANSFER_7X, CONNECT_ONLY, json=body)
        answer = mapping.answer_or(response, TransferFailed)
        room = answer.get("room")
        if isinstance(room, dict) and room.get("_id"):
            return str(room["_id"])
        return rid

    async def rate_room(
        self, token: str, rid: str, answers: list[SurveyAnswer]
    ) -> list[SurveyAnswer]:
        body = await self._widget_call(
            "POST",
            f"{API}/room.survey",
            IDEMPOTENT,
            json={
                "token": token,
                "rid": rid,
                "data": [{"name": answer.name, "value": answer.value} for answer in answers],
            },
        )
        data = body.get("data")
        if not isinstance(data, dict):
            raise UpstreamError("the upstream answer lacks 'data'")
        return survey_answers_from_json(data)
