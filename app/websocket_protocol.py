"""uvicorn's WebSocket protocol (websockets' Sans-I/O), minus the last message it keeps.

websockets' parser is a generator that keeps the last frame it parsed in a local until the
next frame arrives. On a graphql-transport-ws socket the last frame from the client is, for
as long as the subscription runs, the subscribe message with its whole document: 12 KB per
subscription for the shipped one (`bench/realtime.py`'s memory figure). Once uvicorn has
handed a frame's payload over, the frame gives it up.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_text(self, event: Frame) -> None:
        super().handle_text(event)
        event.data = b""

    def handle_bytes(self, event: Frame) -> None:
        super().handle_bytes(event)
        event.data = b""

    def handle_cont(self, event: Frame) -> None:
        super().handle_cont(event)
        event.data = b""
