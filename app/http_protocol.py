"""uvicorn's httptools protocol with the limits at the edge that uvicorn leaves out.

uvicorn bounds what it has settings for: the idle time between requests on a kept-alive
connection (`timeout_keep_alive`) and the connections it serves at once (`limit_concurrency`,
answering 503 beyond it). On httptools it has no limit on a request's head (httptools gathers a
header's pieces in memory for as long as they come: 195 MiB of one header was read), no time
limit on a head or a body arriving (a client sending a byte every few seconds holds its
connection for ever), no idle time on a connection that never sends a first request, and a
connection over the limit is still held open. This protocol adds, per connection:

- the head (request line and headers) limited to `max_header_bytes`, counted before httptools
  sees them; a longer one is answered 431 and the connection closed;
- the head must arrive within `header_timeout` of its first byte, the body within
  `body_timeout` of the head; otherwise 408 (or, once the answer has started, a close). A file
  upload (bounded by FILE_UPLOAD_MAX_SIZE, not MAX_BODY_BYTES) may take longer on a slow link:
  its body must only never stall for `body_timeout`;
- a new connection gets uvicorn's keep-alive idle time to send its first byte, as a kept-alive
  one gets it for the next request;
- when `limit_concurrency` connections are open, a new one closes the connection idle the
  longest (nginx reuses keep-alive connections the same way), so idle sockets cannot starve
  a client that has a request to send; only when none is idle does uvicorn answer 503.

h11's protocol has a head limit of its own (`h11_max_incomplete_event_size`) but parses in
Python where httptools parses in C; this keeps httptools.
"""

from __future__ import annotations

import asyncio
import itertools
import resource
from dataclasses import dataclass
from typing import ClassVar, cast

import orjson
from starlette.types import Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.graphql.errors import Code
from app.uploads import bounded_by_upload_limit

HEAD_END = b"\r\n\r\n"
_IDLE_ORDER = itertools.count()
# File descriptors kept for what is not a client's connection: the listening socket, SQLite,
# logs, the upstream pool (added to this), DNS.
RESERVED_FILES = 64
UPSTREAM_POOLS = 2


@dataclass(frozen=True)
class EdgeLimits:
    max_header_bytes: int
    header_timeout: float
    body_timeout: float


def connection_limit(configured: int | None, upstream_connections: int) -> int:
    """The connections served at once: as configured, else what the open-file limit leaves
    once the upstream pools and the process's own files have theirs (a client beyond the file
    limit is not even accepted, and the server's own calls would fail too). The upstream
    client has two pools of `upstream_connections` each (app/backends/upstream/transport.py):
    one for the calls answered whole, one for files and traced calls."""
    if configured is not None:
        return configured
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 65_536
    return max(16, soft - UPSTREAM_POOLS * upstream_connections - RESERVED_FILES)


def _refusal(status: bytes, message: str) -> bytes:
    """A whole HTTP answer closing the connection, with a GraphQL-style error body."""
    body = orjson.dumps(
        {"errors": [{"message": message, "extensions": {"code": Code.BAD_REQUEST}}]}
    )
    return b"".join(
        [
            b"HTTP/1.1 ",
            status,
            b"\r\ncontent-type: application/json\r\ncontent-length: ",
            str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n",
            body,
        ]
    )


class EdgeProtocol(HttpToolsProtocol):
    """See the module's docstring; `limits` is set by `edge_protocol`."""

    limits: ClassVar[EdgeLimits]

    _in_head = True  # between requests, or reading a head
    _head_bytes = 0
    _head_tail = b""
    _idle_since = 0  # when it last became idle, in the order connections did
    _refused = False
    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    _body_progress = False  # body bytes came since the body timer was last armed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._idle_since = next(_IDLE_ORDER)
        if self.limit_concurrency is not None and len(self.connections) >= self.limit_concurrency:
            self._close_longest_idle()
        # The first request gets the idle time a kept-alive connection gets for its next one.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            # The head ends at its blank line, which may straddle two reads.
            seen = self._head_tail + data
            end = seen.find(HEAD_END)
            self._head_bytes += len(data) if end < 0 else end + len(HEAD_END) - len(self._head_tail)
            self._head_tail = seen[-3:]
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(
                    b"431 Request Header Fields Too Large",
                    f"The request's headers are larger than {self.limits.max_header_bytes} bytes.",
                )
                return
        super().data_received(data)
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # answered and closed, or now a WebSocket's
        # Timers only for what did not arrive whole in one read, which most requests do.
        if self._in_head:
            if self._head_bytes and self._head_timer is None:
                self._head_timer = self.loop.call_later(
                    self.limits.header_timeout, self._head_timed_out
                )
        elif self.cycle is not None and self.cycle.more_body:
            self._body_progress = True
            if self._body_timer is None:
                self._body_progress = False
                self._body_timer = self.loop.call_later(
                    self.limits.body_timeout, self._body_timed_out
                )

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._head_tail = True, 0, b""
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._idle_since = next(_IDLE_ORDER)

    def _idle(self) -> bool:
        """Waiting for a request, with none of it read and none being answered."""
        return (
            self._in_head
            and self._head_bytes == 0
            and (self.cycle is None or self.cycle.response_complete)
            and not self.transport.is_closing()
        )

    def _close_longest_idle(self) -> None:
        idle = [
            connection
            for connection in self.connections
            if isinstance(connection, EdgeProtocol)
            and connection is not self
            and connection._idle()
        ]
        if idle:
            longest = min(idle, key=lambda connection: connection._idle_since)
            longest.transport.close()
            # Counted out now: uvicorn's own count decides this connection's 503 before the
            # loop has told the closed one it is lost.
            self.connections.discard(longest)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head behind an answer still being made: that answer goes first.
            self._head_timer = self.loop.call_later(
                self.limits.header_timeout, self._head_timed_out
            )
            return
        self._refuse(
            b"408 Request Timeout",
            f"The request's headers took longer than {self.limits.header_timeout:g} seconds.",
        )

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self._body_progress and bounded_by_upload_limit(cast(Scope, self.scope)):
            # An upload that still moves: it gets another period.
            self._body_progress = False
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)
            return
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # an answer is under way: it cannot be replaced
            return
        self._refuse(
            b"408 Request Timeout",
            f"The request's body took longer than {self.limits.body_timeout:g} seconds.",
        )

    def _refuse(self, status: bytes, message: str) -> None:
        """Answer and close: nothing more of this connection is read or parsed."""
        self._refused = True
        self._cancel_timers()
        if self.cycle is not None and not self.cycle.response_complete:
            # The app may still be running: what it sends now goes nowhere.
            self.cycle.response_started = True
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if not self.transport.is_closing():
            self.transport.write(_refusal(status, message))
            self.transport.close()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None


def edge_protocol(
    limits: EdgeLimits, base: type[EdgeProtocol] = EdgeProtocol
) -> type[EdgeProtocol]:
    """The protocol class uvicorn builds per connection (its `http` setting): `base` (this
    protocol, or one that extends it) with `limits`."""
    return type("Configured", (base,), {"limits": limits})
