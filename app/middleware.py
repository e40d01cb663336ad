"""HTTP guards in front of every route: the body size limit, and a JSON answer for any bug."""

from __future__ import annotations

import logging
import uuid

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("app.http")


def _graphql_error(message: str, code: str, **extra: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code, **extra}}]})


class BodySizeLimit:
    """Refuse a request body over `max_bytes` before anything reads it: by its Content-Length
    when it has one, else by counting the chunks as they arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
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
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = _graphql_error(
            f"The request body is larger than {self.max_bytes} bytes.", "BAD_REQUEST"
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})


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
    """A bug anywhere answers a JSON 500 with an id to find it in the log, never a traceback."""

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
            error_id = uuid.uuid4().hex
            log.exception(
                "unhandled error on %s %s (error %s)", scope["method"], scope["path"], error_id
            )
            if sent.started:
                raise
            body = _graphql_error(
                "Internal server error.", "INTERNAL_SERVER_ERROR", requestId=error_id
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
