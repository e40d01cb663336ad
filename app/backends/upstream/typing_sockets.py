"""DDP sockets for a visitor's typing in a room nobody here subscribes to.

Rocket.Chat takes a visitor's typing only as a DDP method (`stream-notify-room`), never over
REST. A visitor subscribed in this process types on the room's own socket (`realtime.py`);
one who is not (a client that polls, or whose subscription lives on another worker) would need
a WebSocket handshake and a DDP `connect` for every keystroke event. Typing comes in bursts
(started, stopped, started again as a message is written), so each visitor's socket is kept
for a few seconds after its last call and the burst is carried on one.

A kept socket is nobody's to read between calls: it is closed after `KEPT_FOR_SECONDS`
without one, before Rocket.Chat's DDP heartbeat (a ping after 15 s of silence, the socket
closed 15 s later without a pong) would need an answer. One dropped meanwhile fails its next
call, which is then made once more on a new socket: typing is a state, so saying it twice is
harmless. Rocket.Chat limits each connection's calls of a method (40 `stream-*` calls a 40 s
window, by default), as it does the widget's one socket: the caller reads its refusal in the
`result` frame (`ddp.raise_if_rate_limited`), as from the room's socket. At most `MOST_KEPT`
are kept (each is an open file); the one idle longest goes first.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.backends.base import JsonObject, UpstreamUnavailable
from app.backends.upstream.ddp import (
    SOCKET_FAILURES,
    DdpConnection,
    DdpTiming,
)

KEPT_FOR_SECONDS = 10.0
MOST_KEPT = 256

# A visitor's sockets are told apart by token and by the headers that name them to Rocket.Chat
# (their address and agent, which its rate limits count), fixed when a socket opens.
Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class _Kept:
    connection: DdpConnection | None = None  # None until the first call has opened it
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)
    expiry: asyncio.TimerHandle | None = None


class TypingSockets:
    """Each visitor's socket for DDP methods, kept between a burst's calls. A visitor's calls
    take turns on it (a DDP client reads its own answer off the socket)."""

    def __init__(
        self,
        url: str,
        timing: DdpTiming,
        *,
        kept_for: float = KEPT_FOR_SECONDS,
        most: int = MOST_KEPT,
    ) -> None:
        self._url = url
        self._timing = timing
        self._kept_for = kept_for
        self._most = most
        self._kept: OrderedDict[Key, _Kept] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def kept(self) -> int:
        return len(self._kept)

    async def call(
        self, token: str, headers: Mapping[str, str], method: str, params: list[Any]
    ) -> JsonObject:
        """Run `method` on the visitor's kept socket, or on a new one, kept after, and return
        its `result` frame. A kept socket that fails (dropped while idle) gives way to a new
        one, once."""
        key: Key = (token, tuple(sorted(headers.items())))
        for _ in range(2):
            if self._closed:
                raise UpstreamUnavailable("the upstream client is closed")
            kept = self._kept.get(key) or self._keep(key)
            async with kept.busy:
                if self._kept.get(key) is not kept:
                    continue  # forgotten while this call waited its turn
                fresh = kept.connection is None
                if fresh:
                    kept.connection = await self._open(key, kept, headers)
                answered = await self._call_on(key, kept, method, params)
                if answered is not None:
                    return answered
                if fresh:
                    break
        raise UpstreamUnavailable("the upstream realtime server did not answer")

    async def _open(self, key: Key, kept: _Kept, headers: Mapping[str, str]) -> DdpConnection:
        try:
            return await DdpConnection.open(self._url, self._timing, headers)
        except BaseException as error:
            self._forget(key, kept)
            if isinstance(error, SOCKET_FAILURES):
                raise UpstreamUnavailable("the upstream realtime server is unreachable") from None
            raise

    async def _call_on(
        self, key: Key, kept: _Kept, method: str, params: list[Any]
    ) -> JsonObject | None:
        """The call's `result` frame, made on `kept`, which stays kept a while longer; None,
        and the socket closed, if it failed (closed too if the call was cancelled: its answer
        may follow, and if `aclose` forgot it meanwhile)."""
        assert kept.connection is not None
        if kept.expiry is not None:
            kept.expiry.cancel()
        try:
            answered = await kept.connection.call(method, params)
        except BaseException as error:
            self._forget(key, kept)
            if isinstance(error, SOCKET_FAILURES):
                return None
            raise
        if self._kept.get(key) is kept:
            self._kept.move_to_end(key)
            kept.expiry = asyncio.get_running_loop().call_later(
                self._kept_for, self._forget, key, kept
            )
        else:
            self._forget(key, kept)
        return answered

    def _keep(self, key: Key) -> _Kept:
        """A new entry for `key`, the longest idle one closed if that makes too many (one in
        use is left alone: the bound is passed for as long as every kept socket is busy)."""
        kept = self._kept[key] = _Kept()
        if len(self._kept) > self._most:
            for other_key, other in self._kept.items():
                if not other.busy.locked() and other is not kept:
                    self._forget(other_key, other)
                    break
        return kept

    def _forget(self, key: Key, kept: _Kept) -> None:
        if self._kept.get(key) is kept:
            del self._kept[key]
        if kept.expiry is not None:
            kept.expiry.cancel()
        if kept.connection is not None:
            closing = asyncio.create_task(kept.connection.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        self._closed = True
        for key, kept in list(self._kept.items()):
            self._forget(key, kept)
        await asyncio.gather(*self._closing, return_exceptions=True)
