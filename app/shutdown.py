"""A stop that loses nothing: SIGTERM drains the server before uvicorn's graceful shutdown.

Closing the listening socket at once resets the connections still waiting in its backlog, and
closing an idle keep-alive connection races a client that is writing its next request on it:
either way a client sees a reset it cannot tell from a crash. So, for `shutdown_drain` seconds
after SIGTERM, the server keeps serving while `/healthz` and `/readyz` answer 503 (the load
balancer takes the replica out) and every response says `Connection: close`. Then uvicorn stops
accepting, lets in-flight requests finish (up to `shutdown_timeout`), closes WebSockets with
1012 and runs the lifespan's shutdown. A second SIGTERM, or SIGINT, skips the rest of the drain.

uvicorn's own shutdown closes at once every connection with no request in progress, which is
the race above again; `DrainingHttpProtocol` closes such a connection only after answering its
next request (with `Connection: close`), or once it has been idle for the keep-alive timeout as
any idle connection is. Each worker process runs all of this on its own: the supervisor passes
SIGTERM on to every worker (app/cli.py).

The uvicorn internals relied on (pyproject.toml bounds uvicorn to the releases checked):
`Server.handle_exit`, `Server.on_tick`, `Server.should_exit`; `HttpToolsProtocol.shutdown`,
`on_headers_complete`, `cycle`, `loop`, `timeout_keep_alive`, `timeout_keep_alive_task`,
`timeout_keep_alive_handler`; `RequestResponseCycle.keep_alive` and `response_complete`.
"""

from __future__ import annotations

import signal
import time
from types import FrameType

import orjson
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http_protocol import EdgeProtocol

# Liveness and readiness both say the server is going away, whichever the balancer checks.
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})


class Draining:
    """Wraps the app: once `draining`, /healthz and /readyz answer 503 and every response
    closes its connection after it is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.draining = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.draining:
            await self.app(scope, receive, send)
            return
        if scope["path"] in HEALTH_PATHS:
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": orjson.dumps({"status": "draining"})})
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"connection"
                ]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with a drain between SIGTERM and its shutdown."""

    def __init__(self, config: uvicorn.Config, app: Draining, drain_seconds: float) -> None:
        super().__init__(config)
        self.drained_app = app
        self.drain_seconds = drain_seconds
        self.drain_until: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self.drain_until is None and self.drain_seconds > 0:
            self.drained_app.draining = True
            self.drain_until = time.monotonic() + self.drain_seconds
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.drain_until is not None and time.monotonic() >= self.drain_until:
            self.should_exit = True
        return await super().on_tick(counter)


class DrainingHttpProtocol(EdgeProtocol):
    """uvicorn's HTTP/1.1 protocol (with the edge's limits), with a shutdown that never cuts a
    request on its way.

    A connection with no request in progress may still have one arriving: a keep-alive
    client's next request, a new connection's first, or the rest of a request already begun.
    Closing it then makes the kernel answer that request with a reset. So such a connection
    stays open: its next request is answered with `Connection: close` and the connection is
    closed after that answer; one on which nothing comes is closed by the keep-alive timer,
    armed here for a connection that has none."""

    closing = False

    def shutdown(self) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # closed once this answer is sent
            return
        self.closing = True
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.closing and self.cycle is not None:
            self.cycle.keep_alive = False
