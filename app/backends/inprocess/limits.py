"""Rocket.Chat's REST rate limiter, imitated (`RATE_LIMIT=rocketchat`), so that a frontend
built against the in-process backend meets the limits a real Rocket.Chat will put on it.

Rocket.Chat (a Meteor `RateLimiter` rule per route, `app/api/server/api.ts`) counts calls per
client address, per route pattern and HTTP method: 10 calls per 60 s by default, 5 for
`POST livechat/visitor` and `GET livechat/room`. Each route's window is fixed and shared by
every address: all its counters start again together on the first call after the window has
passed. A call is counted first and then checked, allowed while the count is at most the limit.
Every answer of a limited route carries `X-RateLimit-Limit`, `-Remaining` and `-Reset` (epoch
ms of the window's end); a refusal is a 429 with Rocket.Chat's body and no `Retry-After`.
A call whose address is unknown is not limited (Meteor's matcher fails on it).

The same counters serve Rocket.Chat's REST routes (rest.py), where the address is what
Rocket.Chat derives from the request (`rocketchat_address`), and the GraphQL operations that
map to those routes (`RateLimitedBackend`), where it is the visitor's address, as the upstream
backend would hand it to Rocket.Chat in X-Forwarded-For.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from app import request_scope
from app.backends.base import (
    Agent,
    CustomField,
    DeletedMessage,
    FileDownload,
    LivechatBackend,
    Message,
    OfflineMessage,
    OutgoingMessage,
    RateLimited,
    RemovedVisitor,
    Room,
    RoomEvents,
    SurveyAnswer,
    UploadRequest,
    Visitor,
    VisitorRegistration,
    WidgetConfig,
)
from app.backends.wrapping import Wrapping

API = "/api/v1/livechat"


@dataclass(frozen=True)
class Rule:
    calls: int
    window: float  # seconds


DEFAULT_RULE = Rule(calls=10, window=60.0)
# The routes Rocket.Chat limits harder than its default (since 6.12.0), by method and pattern.
RULES = {
    ("POST", f"{API}/visitor"): Rule(calls=5, window=60.0),
    ("GET", f"{API}/room"): Rule(calls=5, window=60.0),
}


@dataclass(frozen=True)
class Verdict:
    """One counted call: whether it may go on, and what Rocket.Chat's headers say of it."""

    allowed: bool
    limit: int
    remaining: int
    wait: float  # seconds until the window starts again

    def headers(self, now: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(int((now + self.wait) * 1000)),
        }

    def method_message(self) -> str:
        """Meteor's text for a DDP method refused (its `too-many-requests` error's reason)."""
        return (
            "Error, too many requests. Please slow down. You must wait"
            f" {math.ceil(self.wait)} seconds before trying again."
        )

    def message(self) -> str:
        """Rocket.Chat's own text (its 429 body's `error`)."""
        return (
            "Error, too many requests. Please slow down. You must wait"
            f" {math.ceil(self.wait)} seconds before trying this endpoint again."
            " [error-too-many-requests]"
        )


class _Window:
    """One route's rule: a count per address, all started again together."""

    def __init__(self, rule: Rule, started: float) -> None:
        self.rule = rule
        self.started = started
        self.counts: dict[str, int] = {}

    def hit(self, address: str, now: float) -> Verdict:
        if now - self.started > self.rule.window:
            self.counts.clear()
            self.started = now
        count = self.counts.get(address, 0) + 1
        self.counts[address] = count
        calls = self.rule.calls
        return Verdict(
            allowed=count <= calls,
            limit=calls,
            remaining=max(0, calls - count),
            wait=self.rule.window - (now - self.started),
        )


def ddp_method_rule(method: str, route: str) -> Rule:
    """Rocket.Chat's `DDP_Rate_Limit_Connection_By_Method` (on by default): per connection and
    method, 10 calls a 10 s window; the streams' methods (`stream-*`: typing is one) four
    times both (`server/startup/rateLimiter`). Counted with `method` "method" and `route` the
    method's name, per connection id in place of an address."""
    return Rule(calls=40, window=40.0) if route.startswith("stream-") else Rule(10, 10.0)


class RocketChatLimiter:
    """Counts calls per route and method, per address, as Rocket.Chat does. `default` gives
    the rule of a route `rules` does not name (REST's 10 a minute, or DDP's method rule)."""

    def __init__(
        self,
        rules: dict[tuple[str, str], Rule] | None = None,
        clock: Callable[[], float] = time.time,
        default: Callable[[str, str], Rule] = lambda method, route: DEFAULT_RULE,
    ) -> None:
        self._rules = RULES if rules is None else rules
        self._default = default
        self._clock = clock
        self._started = clock()  # Rocket.Chat's windows start as its routes are registered
        self._windows: dict[tuple[str, str], _Window] = {}

    def now(self) -> float:
        return self._clock()

    def hit(self, method: str, route: str, address: str | None) -> Verdict | None:
        """Count one call to `method route` (the route's pattern) from `address`; None when
        the address is unknown and nothing is limited."""
        if not address:
            return None
        key = (method, route)
        window = self._windows.get(key)
        if window is None:
            rule = self._rules.get(key) or self._default(method, route)
            window = self._windows[key] = _Window(rule, self._started)
        return window.hit(address, self._clock())

    def addresses(self, method: str, route: str) -> dict[str, int]:
        """Calls counted per address in the route's current window (what an operator, or a
        test, can read of who called)."""
        window = self._windows.get((method, route))
        return dict(window.counts) if window is not None else {}


def rocketchat_address(
    headers: Iterable[tuple[bytes, bytes]], peer: str | None, forwarded_count: int = 1
) -> str | None:
    """The client address as Rocket.Chat's REST API derives it (`getRequestIP`): X-Real-IP or
    the TCP peer, unless X-Forwarded-For holds at least `forwarded_count` entries (Rocket.Chat
    forces `HTTP_FORWARDED_COUNT=1` when unset): then the entry that many from the right.
    Both headers are believed as sent, as Rocket.Chat believes them."""
    real_ip = forwarded_for = None
    for name, value in headers:
        if name == b"x-real-ip" and real_ip is None:
            real_ip = value.decode("latin-1").strip()
        elif name == b"x-forwarded-for" and forwarded_for is None:
            forwarded_for = value.decode("latin-1")
    remote = real_ip or peer
    if forwarded_count <= 0 or not forwarded_for:
        return remote
    entries = [entry.strip() for entry in forwarded_for.split(",")]
    if forwarded_count > len(entries):
        return remote
    return entries[len(entries) - forwarded_count]


def meteor_address(
    headers: Iterable[tuple[bytes, bytes]], peer: str | None, forwarded_count: int = 1
) -> str | None:
    """The client address of a DDP connection as Meteor derives it (`_clientAddress`): the
    TCP peer when `forwarded_count` is 0, else the X-Forwarded-For entry that many from the
    right, and none at all when the header is missing or too short (X-Real-IP is not read)."""
    if forwarded_count <= 0:
        return peer
    forwarded_for = next((value for name, value in headers if name == b"x-forwarded-for"), None)
    if forwarded_for is None:
        return None
    entries = [entry.strip() for entry in forwarded_for.decode("latin-1").split(",")]
    if forwarded_count > len(entries):
        return None
    return entries[len(entries) - forwarded_count]


# Set while a REST route serves a call it has already counted, so that the backend's
# operations do not count it again.
_counted: contextvars.ContextVar[bool] = contextvars.ContextVar("rate_counted", default=False)


@contextmanager
def counted() -> Iterator[None]:
    token = _counted.set(True)
    try:
        yield
    finally:
        _counted.reset(token)


# The Rocket.Chat route each operation stands for, by method and pattern (rest.py's routes).
OPERATION_ROUTES = {
    "register_visitor": ("POST", f"{API}/visitor"),
    "open_room": ("GET", f"{API}/room"),
    "send_message": ("POST", f"{API}/message"),
    "message": ("GET", f"{API}/message/{{message_id}}"),
    "update_message": ("PUT", f"{API}/message/{{message_id}}"),
    "delete_message": ("DELETE", f"{API}/message/{{message_id}}"),
    "close_room": ("POST", f"{API}/room.close"),
    "message_history": ("GET", f"{API}/messages.history/{{rid}}"),
    # Before and around the chat (widget_rest.py's routes).
    "config": ("GET", f"{API}/config"),
    "visitor": ("GET", f"{API}/visitor/{{token}}"),
    "set_custom_fields": ("POST", f"{API}/custom.field"),
    "set_visitor_status": ("POST", f"{API}/visitor.status"),
    "remove_visitor": ("DELETE", f"{API}/visitor/{{token}}"),
    "send_offline_message": ("POST", f"{API}/offline.message"),
    "request_transcript": ("POST", f"{API}/transcript"),
    "transfer_room": ("POST", f"{API}/visitor/department.transfer"),
    "rate_room": ("POST", f"{API}/room.survey"),
    "agent_info": ("GET", f"{API}/agent.info/{{rid}}/{{token}}"),
    "upload_file": ("POST", f"{API}/upload/{{rid}}"),
}


class RateLimitedBackend(Wrapping):
    """The in-process backend with each operation counted against the Rocket.Chat route it
    stands for, from the visitor's address; a refusal is `RateLimited` (RATE_LIMITED)."""

    def __init__(self, inner: LivechatBackend, limiter: RocketChatLimiter) -> None:
        super().__init__(inner)
        self.rate_limiter = limiter

    def _count(self, operation: str) -> None:
        if _counted.get():
            return
        method, route = OPERATION_ROUTES[operation]
        address = request_scope.current().client_address
        verdict = self.rate_limiter.hit(method, route, address)
        if verdict is not None and not verdict.allowed:
            raise RateLimited(verdict.message(), verdict.wait)

    async def register_visitor(self, registration: VisitorRegistration) -> Visitor:
        self._count("register_visitor")
        return await self.inner.register_visitor(registration)

    async def open_room(
        self, token: str, rid: str | None = None, agent_id: str | None = None
    ) -> tuple[Room, bool]:
        self._count("open_room")
        return await self.inner.open_room(token, rid, agent_id)

    async def send_message(self, outgoing: OutgoingMessage) -> Message:
        self._count("send_message")
        return await self.inner.send_message(outgoing)

    async def message(self, token: str, rid: str, message_id: str) -> Message:
        self._count("message")
        return await self.inner.message(token, rid, message_id)

    async def update_message(self, token: str, rid: str, message_id: str, msg: str) -> Message:
        self._count("update_message")
        return await self.inner.update_message(token, rid, message_id, msg)

    async def delete_message(self, token: str, rid: str, message_id: str) -> DeletedMessage:
        self._count("delete_message")
        return await self.inner.delete_message(token, rid, message_id)

    async def close_room(self, token: str, rid: str) -> str:
        self._count("close_room")
        return await self.inner.close_room(token, rid)

    async def message_history(
        self, token: str, rid: str, limit: int = 20, before: datetime | None = None
    ) -> list[Message]:
        self._count("message_history")
        return await self.inner.message_history(token, rid, limit, before)

    async def agent_info(self, token: str, rid: str) -> tuple[Agent | None, bool]:
        self._count("agent_info")
        return await self.inner.agent_info(token, rid)

    async def set_typing(self, token: str, rid: str, typing: bool) -> None:
        # A DDP method: Rocket.Chat's DDP limits are per connection, not these.
        await self.inner.set_typing(token, rid, typing)

    async def upload_file(self, upload: UploadRequest) -> Message:
        self._count("upload_file")
        return await self.inner.upload_file(upload)

    async def open_file(
        self, token: str, rid: str, file_id: str, name: str, byte_range: str | None = None
    ) -> FileDownload:
        # Downloads are not REST API calls: Rocket.Chat's limiter does not count them.
        return await self.inner.open_file(token, rid, file_id, name, byte_range)

    async def subscribe_room(self, token: str, rid: str) -> RoomEvents:
        # Rocket.Chat's DDP limits are per connection, not these; a subscription is not a call.
        return await self.inner.subscribe_room(token, rid)

    # ---- before and around the chat ----

    async def config(self, token: str | None = None, department: str | None = None) -> WidgetConfig:
        self._count("config")
        return await self.inner.config(token, department)

    async def visitor(self, token: str) -> Visitor:
        self._count("visitor")
        return await self.inner.visitor(token)

    async def set_custom_fields(self, token: str, fields: list[CustomField]) -> list[CustomField]:
        for _field in fields:  # one custom.field call per field, as the widget makes them
            self._count("set_custom_fields")
        return await self.inner.set_custom_fields(token, fields)

    async def set_visitor_status(self, token: str, status: str) -> str:
        self._count("set_visitor_status")
        return await self.inner.set_visitor_status(token, status)

    async def remove_visitor(self, token: str) -> RemovedVisitor:
        self._count("remove_visitor")
        return await self.inner.remove_visitor(token)

    async def send_offline_message(self, offline: OfflineMessage) -> str:
        self._count("send_offline_message")
        return await self.inner.send_offline_message(offline)

    async def request_transcript(self, token: str, rid: str, email: str) -> str:
        self._count("request_transcript")
        return await self.inner.request_transcript(token, rid, email)

    async def transfer_room(self, token: str, rid: str, department: str) -> str:
        self._count("transfer_room")
        return await self.inner.transfer_room(token, rid, department)

    async def rate_room(
        self, token: str, rid: str, answers: list[SurveyAnswer]
    ) -> list[SurveyAnswer]:
        self._count("rate_room")
        return await self.inner.rate_room(token, rid, answers)
