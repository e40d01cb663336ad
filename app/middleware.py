"""HTTP guards in front of every route: one id per request, the body size limit, a JSON answer
for any bug, and CORS."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import request_scope
from app.graphql.errors import Code, graphql_error_response

log = logging.getLogger("app.http")

# A client that sends its whole body before reading (curl without `Expect: 100-continue`,
# Python's urllib) only sees a refusal if the body is read first: closing with unread bytes
# makes the kernel answer a reset. Like nginx's lingering close, read and discard that much.
DRAIN_LIMIT_FACTOR = 16


class RequestScope:
    """Gives each request its id, once, as it arrives (the client's own X-Request-Id when it
    is a plain token), with the headers it may forward; answers carry the id back."""

    def __init__(self, app: ASGIApp, forward_headers: Iterable[str]) -> None:
        self.app = app
        self.forward_headers = request_scope.header_names(forward_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = request_scope.begin(scope, self.forward_headers)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = incoming.request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodySizeLimit:
    """Refuse a request body over `max_bytes` before anything reads it: by its Content-Length
    when it has one, else by counting the chunks as they arrive. The refusal is a 413 with a
    GraphQL error that the client can read (see DRAIN_LIMIT_FACTOR)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, exempt: Callable[[Scope], bool] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Requests bounded by a limit of their own (multipart uploads: FILE_UPLOAD_MAX_SIZE).
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt is not None and self.exempt(scope)):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            # A client waiting for `100 Continue` has not sent its body: refuse at once.
            if headers.get("expect", "").lower() != "100-continue":
                await self._drain(receive, 0)
            await self._refuse(scope, receive, send)
            return
        received = 0
        sent = _Tracking(send)

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, sent)
        except _TooLarge:
            if not sent.started:
                await self._drain(receive, received)
                await self._refuse(scope, receive, send)

    async def _drain(self, receive: Receive, received: int) -> None:
        """Read and discard the rest of the body, up to a bound."""
        more = True
        while more and received <= self.max_bytes * DRAIN_LIMIT_FACTOR:
            message = await receive()
            if message["type"] != "http.request":
                return
            received += len(message.get("body", b""))
            more = message.get("more_body", False)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = graphql_error_response(
            413,
            f"The request body is larger than {self.max_bytes} bytes.",
            Code.BAD_REQUEST,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class _Tracking:
    """A `send` that remembers whether the response has started (then it cannot be replaced)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


class JsonErrors:
    """A bug anywhere answers a JSON 500 with the request's id to find it in the log, never a
    traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = _Tracking(send)
        try:
            await self.app(scope, receive, sent)
        except Exception:
            if sent.started:
                log.exception("unhandled error on %s %s", scope["method"], scope["path"])
                raise
            await answer_bug(scope, receive, send, request_scope.current().request_id)


async def answer_bug(scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    """Log the exception being handled, and answer a JSON 500 with the request's id to find
    it in the log (also in X-Request-Id, for callers that answer before RequestScope could).
    A client that left before its body was read (or was cut for taking too long to send it,
    app/http_protocol.py) is no bug, and there is no one to answer."""
    if isinstance(sys.exception(), ClientDisconnect):
        return
    log.exception("unhandled error on %s %s", scope["method"], scope["path"])
    response = graphql_error_response(
        500, "Internal server error.", Code.INTERNAL_SERVER_ERROR, requestId=request_id
    )
    response.headers["X-Request-Id"] = request_id
    await response(scope, receive, send)


class CrossOrigin(CORSMiddleware):
    """Starlette's CORS, with the headers of an answer to a simple (not preflight) request
    worked out once per origin. They depend on the origin alone, and building them each time
    (a `Headers` over the request, a `MutableHeaders` over the answer, each scanned twice) cost
    every request of a widget on another site about as much as counting it in the metrics.

    Only a request without `Origin` or from a site named in the list is answered from the
    memo (so it holds at most one entry per named site), and only when the answer carries
    none of the headers the memo adds (Starlette would merge or replace them); everything
    else, preflights included, goes Starlette's way. The memo is Starlette's own answer,
    asked once."""

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        super().__init__(app, **options)
        # By origin: the headers Starlette adds, and their names.
        self.memo: dict[str | None, tuple[list[tuple[bytes, bytes]], frozenset[bytes]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await super().__call__(scope, receive, send)
            return
        origin: str | None = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
                break
        memo = self.memo.get(origin)
        if memo is None:
            if origin is not None and origin not in self.allow_origins:
                await super().__call__(scope, receive, send)
                return
            added = await self._starlettes_headers(origin)
            memo = self.memo[origin] = (added, frozenset(name for name, _ in added))
        added, names = memo

        async def send_with_cors(message: Message) -> None:
            if message["type"] != "http.response.start":
                await send(message)
                return
            headers = message.get("headers", [])
            for name, _ in headers:  # lowercase, as Starlette's `MutableHeaders` takes them
                if name in names:
                    await self.send(message, send, Headers(scope=scope))
                    return
            message["headers"] = [*headers, *added]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _starlettes_headers(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        """What Starlette adds to an answer without headers, for a request from `origin`."""
        answers: list[Message] = []

        async def keep(message: Message) -> None:
            answers.append(message)

        raw = [] if origin is None else [(b"origin", origin.encode("latin-1"))]
        start: Message = {"type": "http.response.start", "status": 200, "headers": []}
        await self.send(start, keep, Headers(raw=raw))
        return list(answers[0]["headers"])
