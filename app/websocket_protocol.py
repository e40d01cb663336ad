"""uvicorn's WebSocket protocol (websockets' Sans-I/O), with a bounded outbox and minus the last
message it keeps.

The outbox. Every frame the app sends goes to the transport's write buffer, which the event loop
empties into the socket as fast as the peer reads. uvicorn makes a sender wait while that buffer
is above the transport's high-water mark (64 KiB), but the app builds a frame before it sends:
for a peer that stopped reading, every subscription on its socket held one whole event while it
waited, for as long as the socket stayed open (40 sockets of 100 subscriptions, one 5,000
character message: 1.4 GiB). Here the high-water mark is the outbox's bound (`WEBSOCKET_OUTBOX_
BYTES`) and nothing waits: a frame is written as soon as it is built, and a socket whose unsent
bytes pass the bound is closed with 1008 (its close frame queued after what it has not read)
and the app told it is gone at once. What is still buffered is dropped with the connection
(`transport.abort()`) unless the peer reads it and answers the close within uvicorn's closing
timeout; a closing handshake the app starts ends the same way, since a transport closed politely
keeps its buffer until the peer reads it, which a stalled peer never does.

The last message. websockets' parser is a generator that keeps the last frame it parsed in a
local until the next frame arrives. On a graphql-transport-ws socket the last frame from the
client is, for as long as the subscription runs, the subscribe message with its whole document:
12 KB per subscription for the shipped one (`bench/realtime.py`'s memory figure). Once uvicorn
has handed a frame's payload over, the frame gives it up.
"""

from __future__ import annotations

from asyncio import BaseTransport
from typing import ClassVar

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import CloseCode, Frame
from websockets.protocol import State

from app.settings import Settings

SLOW_CONSUMER = CloseCode.POLICY_VIOLATION  # 1008


class WebSocketProtocol(WebSocketsSansIOProtocol):
    outbox_bytes: ClassVar[int] = Settings.model_fields["websocket_outbox_bytes"].default
    overflowed = False

    @classmethod
    def bounded(cls, outbox_bytes: int) -> type[WebSocketProtocol]:
        """This protocol with another outbox bound (uvicorn takes a class, not an instance)."""
        return type(cls.__name__, (cls,), {"outbox_bytes": outbox_bytes})

    def connection_made(self, transport: BaseTransport) -> None:
        super().connection_made(transport)
        self.transport.set_write_buffer_limits(high=self.outbox_bytes)

    def pause_writing(self) -> None:
        """The transport's buffer is over the outbox bound: the peer is too far behind."""
        self.overflowed = True
        if self.conn.state is not State.OPEN or self.transport.is_closing():
            return  # closing already
        reason = f"slow consumer: more than {self.outbox_bytes} bytes unread"
        self.queue.put_nowait(
            {"type": "websocket.disconnect", "code": SLOW_CONSUMER, "reason": reason}
        )
        self.conn.send_close(SLOW_CONSUMER, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:  # the peer's answer to the close must be read
            self.read_paused = False
            self.transport.resume_reading()
        self._abort_after_close_timeout()

    def resume_writing(self) -> None:
        """Nothing waits on the buffer (see `pause_writing`)."""

    async def send(self, message: ASGISendEvent) -> None:
        if self.overflowed:
            if message["type"] == "websocket.close":
                return  # it is closing already
            raise ClientDisconnected  # an OSError: the app sees a disconnected socket
        await super().send(message)
        if message["type"] == "websocket.close" and self.close_timer is not None:
            self.close_timer.cancel()
            self._abort_after_close_timeout()

    def _abort_after_close_timeout(self) -> None:
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)

    def handle_text(self, event: Frame) -> None:
        super().handle_text(event)
        event.data = b""

    def handle_bytes(self, event: Frame) -> None:
        super().handle_bytes(event)
        event.data = b""

    def handle_cont(self, event: Frame) -> None:
        super().handle_cont(event)
        event.data = b""
