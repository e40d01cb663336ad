"""Sends the livechat operations to a real Rocket.Chat, safely.

Transport errors never leave this module:

    httpx.ConnectError, refused or reset before the request    -> UpstreamUnavailable
    httpx.ReadError / RemoteProtocolError, reset mid-answer      -> UpstreamUnavailable
    httpx.TimeoutException, or the operation's total deadline   -> UpstreamTimeout
    HTTP 5xx, or a body that is not Rocket.Chat's JSON          -> UpstreamError
    HTTP 429 after the retries allowed                          -> RateLimited(retry_after)

Only what is safe is retried, with capped exponential backoff and full jitter. A send always
carries an `_id` (made before the first attempt if the client gave none), so a retry can never
store a message twice: if the server already has it, the retry answers it. An edit sets the
text to a given value, so repeating it changes nothing: it is retried like a read. A delete
that may have reached the server is retried too, and an `invalid-message` on a retry means an
earlier attempt deleted it: that counts as done.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from opentelemetry import trace
from opentelemetry.trace import TracerProvider

from app.backends import forwarding
from app.backends.base import (
    BackendFailure,
    DeletedMessage,
    InvalidMessage,
    JsonObject,
    LivechatFailure,
    Message,
    OutgoingMessage,
    RateLimited,
    Room,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    Visitor,
    VisitorRegistration,
)
from app.backends.ids import IdGenerator, random_id, utc_now
from app.backends.rocketchat_json import format_datetime, parse_datetime
from app.backends.upstream import mapping
from app.markdown import MarkdownSyntaxError, parse
from app.observability import metrics
from app.observability.transport import failure_kind, observed
from app.settings import Settings

log = logging.getLogger("app.upstream")

RETRYABLE_STATUSES = frozenset({502, 503, 504})
READINESS_TIMEOUT = 2.0  # seconds a readiness probe waits for the upstream


@dataclass(frozen=True)
class RetryPolicy:
    """What may be retried for one kind of operation."""

    connect: bool = True
    timeouts: bool = False
    resets: bool = False
    statuses: bool = False


IDEMPOTENT = RetryPolicy(connect=True, timeouts=True, resets=True, statuses=True)
CONNECT_ONLY = RetryPolicy()


@dataclass(frozen=True)
class Limits:
    max_attempts: int = 4
    backoff_base: float = 0.1
    backoff_cap: float = 2.0
    retry_after_cap: float = 5.0
    total_timeout: float = 20.0


def _retry_after(response: httpx.Response) -> float:
    """Seconds from Retry-After (or Rocket.Chat's X-RateLimit-Reset, in ms since epoch)."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                return max(0.0, parse_datetime(header).timestamp() - time.time())
            except ValueError:
                pass
    reset = response.headers.get("x-ratelimit-reset")
    if reset and reset.isdigit():
        return max(0.0, int(reset) / 1000 - time.time())
    return 1.0


class UpstreamBackend:
    """LivechatBackend over Rocket.Chat's REST API."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        limits: Limits = Limits(),
        forward_headers: tuple[str, ...] = (),
        markdown_options: Mapping[str, Any] | None = None,
        new_id: IdGenerator = random_id,
        sleep: Any = asyncio.sleep,
    ) -> None:
        self._client = client
        self._limits = limits
        self._forward_headers = forward_headers
        self._markdown_options = dict(markdown_options or {})
        self._new_id = new_id
        self._sleep = sleep
        self.retries = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        new_id: IdGenerator = random_id,
        tracer_provider: TracerProvider | None = None,
    ) -> UpstreamBackend:
        if not settings.upstream_url:
            raise ValueError("the upstream backend needs --upstream-url")
        if tracer_provider is None and settings.tracing_exporter() is not None:
            tracer_provider = trace.get_tracer_provider()
        pool = httpx.Limits(
            max_connections=settings.upstream_max_connections,
            max_keepalive_connections=settings.upstream_max_connections,
        )
        client = httpx.AsyncClient(
            transport=observed(httpx.AsyncHTTPTransport(limits=pool), tracer_provider),
            base_url=settings.upstream_url,
            timeout=httpx.Timeout(
                connect=settings.upstream_connect_timeout,
                read=settings.upstream_read_timeout,
                write=settings.upstream_read_timeout,
                pool=settings.upstream_connect_timeout,
            ),
            headers={"User-Agent": "livechat-graphql"},
        )
        return cls(
            client,
            limits=Limits(
                max_attempts=settings.upstream_max_attempts,
                backoff_base=settings.upstream_backoff_base,
                backoff_cap=settings.upstream_backoff_cap,
                retry_after_cap=settings.upstream_retry_after_cap,
                total_timeout=settings.upstream_total_timeout,
            ),
            forward_headers=tuple(settings.forward_headers),
            markdown_options=settings.markdown_options(),
            new_id=new_id,
        )

    async def readiness(self) -> str | None:
        """Ready when Rocket.Chat answers its public `GET /api/info` (any answer below 500)."""
        try:
            response = await self._client.get("/api/info", timeout=READINESS_TIMEOUT)
        except httpx.HTTPError as error:
            return f"the upstream does not answer: {type(error).__name__}"
        if response.status_code >= 500:
            return f"the upstream answers {response.status_code}"
        return None

    async def aclose(self) -> None:
        await self._client.aclose()

    # ---- transport ----

    def _headers(self) -> dict[str, str]:
        incoming = forwarding.current()
        headers = dict(incoming.forwarded_headers)
        headers["X-Request-Id"] = incoming.request_id
        return headers

    def _backoff(self, attempt: int) -> float:
        limits = self._limits
        return random.uniform(0, min(limits.backoff_cap, limits.backoff_base * 2**attempt))

    async def _call(
        self,
        method: str,
        path: str,
        policy: RetryPolicy,
        *,
        json: JsonObject | None = None,
        params: Mapping[str, str] | None = None,
        retried: list[int] | None = None,
    ) -> httpx.Response:
        """One operation: attempts within the total deadline; the last answer or failure."""
        try:
            async with asyncio.timeout(self._limits.total_timeout):
                return await self._attempts(method, path, policy, json, params, retried)
        except TimeoutError:
            raise UpstreamTimeout("the upstream server did not answer in time") from None

    async def _attempts(
        self,
        method: str,
        path: str,
        policy: RetryPolicy,
        json: JsonObject | None,
        params: Mapping[str, str] | None,
        retried: list[int] | None,
    ) -> httpx.Response:
        request_id = forwarding.current().request_id
        limits = self._limits
        reason = ""
        for attempt in range(limits.max_attempts):
            last = attempt == limits.max_attempts - 1
            if attempt:
                self.retries += 1
                metrics.count_upstream_retry(method, path, reason)
                if retried is not None:
                    retried.append(attempt)
            cause: Exception
            try:
                response = await self._client.request(
                    method, path, json=json, params=params, headers=self._headers()
                )
            except httpx.ConnectError as error:
                failure: BackendFailure = UpstreamUnavailable("the upstream server is unreachable")
                retry, cause = policy.connect, error
            except (httpx.ConnectTimeout, httpx.PoolTimeout) as error:
                # Nothing was sent: as safe to retry as a refused connection.
                failure = UpstreamTimeout("the upstream server did not answer in time")
                retry, cause = policy.connect, error
            except httpx.TimeoutException as error:
                failure = UpstreamTimeout("the upstream server did not answer in time")
                retry, cause = policy.timeouts, error
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as error:
                failure = UpstreamUnavailable("the connection to the upstream server broke")
                retry, cause = policy.resets, error
            else:
                status = response.status_code
                if status == 429:
                    wait = _retry_after(response)
                    if last or not policy.statuses or wait > limits.retry_after_cap:
                        raise RateLimited("the upstream server is rate limiting", wait)
                    log.info("upstream 429, waiting %.2fs (request %s)", wait, request_id)
                    reason = "429"
                    await self._sleep(wait)
                    continue
                if status in RETRYABLE_STATUSES and policy.statuses and not last:
                    log.info("upstream %s, retrying (request %s)", status, request_id)
                    reason = str(status)
                    await self._sleep(self._backoff(attempt))
                    continue
                if status >= 500:
                    log.warning("upstream answered %s (request %s)", status, request_id)
                    raise UpstreamError(f"the upstream server failed ({status})")
                return response
            log.info(
                "upstream %s on %s %s (request %s)", type(cause).__name__, method, path, request_id
            )
            if not retry or last:
                raise failure from None
            reason = failure_kind(cause)
            await self._sleep(self._backoff(attempt))
        raise UpstreamError("no attempt left")  # pragma: no cover - the loop always returns

    def _body(self, response: httpx.Response) -> JsonObject:
        return mapping.answer(response, forwarding.current().request_id)

    def _markdown_for(self, document: JsonObject) -> list[JsonObject]:
        """`md` for a message the server sent without one (older servers, markdown off)."""
        try:
            now = parse_datetime(document.get("ts"))
        except ValueError:
            now = None
        try:
            return parse(str(document.get("msg", "")), self._markdown_options, now=now)
        except MarkdownSyntaxError:
            return []

    # ---- the operations ----

    async def register_visitor(self, registration: VisitorRegistration) -> Visitor:
        fields = {key: value for key, value in asdict(registration).items() if value is not None}
        response = await self._call(
            "POST", "/api/v1/livechat/visitor", IDEMPOTENT, json={"visitor": fields}
        )
        return mapping.visitor(self._body(response), forwarding.current().request_id)

    async def open_room(
        self, token: str, rid: str | None = None, agent_id: str | None = None
    ) -> tuple[Room, bool]:
        params = {"token": token}
        if rid is not None:
            params["rid"] = rid
        if agent_id is not None:
            params["agentId"] = agent_id
        response = await self._call("GET", "/api/v1/livechat/room", CONNECT_ONLY, params=params)
        return mapping.room(self._body(response), forwarding.current().request_id)

    async def send_message(self, outgoing: OutgoingMessage) -> Message:
        message_id = outgoing.id or self._new_id()
        body: JsonObject = {
            "token": outgoing.token,
            "rid": outgoing.rid,
            "msg": outgoing.msg,
            "_id": message_id,
        }
        if outgoing.agent is not None:
            body["agent"] = {
                "agentId": outgoing.agent.agent_id,
                "username": outgoing.agent.username,
            }
        retried: list[int] = []
        response = await self._call(
            "POST", "/api/v1/livechat/message", IDEMPOTENT, json=body, retried=retried
        )
        try:
            answer = self._body(response)
        except LivechatFailure:
            if not retried:
                raise
            # Rocket.Chat refuses a duplicate _id: the attempt that failed on our side stored it.
            return await self.message(outgoing.token, outgoing.rid, message_id)
        return mapping.message(
            answer.get("message"), self._markdown_for, forwarding.current().request_id
        )

    async def message(self, token: str, rid: str, message_id: str) -> Message:
        response = await self._call(
            "GET",
            _message_path(message_id),
            IDEMPOTENT,
            params={"token": token, "rid": rid},
        )
        body = self._body(response)
        return mapping.message(
            body.get("message"), self._markdown_for, forwarding.current().request_id
        )

    async def close_room(self, token: str, rid: str) -> str:
        response = await self._call(
            "POST", "/api/v1/livechat/room.close", CONNECT_ONLY, json={"token": token, "rid": rid}
        )
        body = self._body(response)
        return str(body.get("rid", rid))

    async def update_message(self, token: str, rid: str, message_id: str, msg: str) -> Message:
        response = await self._call(
            "PUT",
            _message_path(message_id),
            IDEMPOTENT,
            json={"token": token, "rid": rid, "msg": msg},
        )
        body = self._body(response)
        return mapping.message(
            body.get("message"), self._markdown_for, forwarding.current().request_id
        )

    async def delete_message(self, token: str, rid: str, message_id: str) -> DeletedMessage:
        retried: list[int] = []
        response = await self._call(
            "DELETE",
            _message_path(message_id),
            IDEMPOTENT,
            json={"token": token, "rid": rid},
            retried=retried,
        )
        request_id = forwarding.current().request_id
        try:
            body = self._body(response)
        except InvalidMessage:
            if not retried:
                raise
            # An earlier attempt reached the server and deleted it; when is not known.
            log.info("delete retried into invalid-message: done before (request %s)", request_id)
            return DeletedMessage(id=message_id, ts=utc_now())
        document = body.get("message")
        try:
            return DeletedMessage(id=str(document["_id"]), ts=parse_datetime(document["ts"]))  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            log.warning("upstream delete answer is unreadable (request %s): %r", request_id, body)
            raise UpstreamError("the upstream answer is not in Rocket.Chat's shape") from None

    async def message_history(
        self, token: str, rid: str, limit: int = 20, before: datetime | None = None
    ) -> list[Message]:
        params = {"token": token, "limit": str(limit)}
        if before is not None:
            params["end"] = format_datetime(before)
        response = await self._call(
            "GET",
            f"/api/v1/livechat/messages.history/{quote(rid, safe='')}",
            IDEMPOTENT,
            params=params,
        )
        body = self._body(response)
        documents = body.get("messages")
        if not isinstance(documents, list):
            raise UpstreamError("the upstream answer lacks 'messages'")
        request_id = forwarding.current().request_id
        return [mapping.message(document, self._markdown_for, request_id) for document in documents]


def _message_path(message_id: str) -> str:
    return f"/api/v1/livechat/message/{quote(message_id, safe='')}"
