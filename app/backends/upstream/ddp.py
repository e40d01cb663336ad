"""Rocket.Chat's realtime API as a client speaks it: DDP over one WebSocket (`websockets`).

The handshake (`connect` → `connected`), keepalive both ways (every `ping` answered `pong`; our
own `ping` after `ping_after` seconds without a frame, the socket dropped after `drop_after`),
subscriptions (`sub` → `ready`, or `nosub` with an error) and the frames that say something.
What a room's subscription does with them is realtime.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.http11 import USER_AGENT

from app.backends.base import JsonObject, RateLimited
from app.settings import Settings

_DEFAULTS = Settings.model_fields

CONNECT: JsonObject = {"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]}
TOO_MANY_REQUESTS = "too-many-requests"  # Meteor's DDPRateLimiter refusal
TRANSPORT_ERRORS = (OSError, TimeoutError, websockets.WebSocketException)


@dataclass(frozen=True)
class DdpTiming:
    """The DDP client's clock: keepalive, reconnection backoff and the handshake's deadline
    (the defaults are the settings' own)."""

    ping_after: float = _DEFAULTS["upstream_ddp_ping_after"].default
    drop_after: float = _DEFAULTS["upstream_ddp_drop_after"].default
    backoff_base: float = _DEFAULTS["upstream_ddp_backoff_base"].default
    backoff_cap: float = _DEFAULTS["upstream_ddp_backoff_cap"].default
    connect_timeout: float = _DEFAULTS["upstream_connect_timeout"].default
    first_attempts: int = 4  # for the first subscription; a live one reconnects until closed


def raise_if_rate_limited(result: JsonObject) -> None:
    """Rocket.Chat's refusal of a method over its per connection limit, as ours: RateLimited,
    its wait from `details.timeToReset` (ms). A method's other errors are not read here: a
    write Rocket.Chat refuses (typing in a room not the visitor's) it drops without one."""
    error = result.get("error")
    if not isinstance(error, dict) or error.get("error") != TOO_MANY_REQUESTS:
        return
    details = error.get("details")
    wait = details.get("timeToReset") if isinstance(details, dict) else None
    seconds = wait / 1000 if isinstance(wait, int | float) and wait > 0 else 1.0
    raise RateLimited(str(error.get("reason") or "the upstream is rate limiting"), seconds)


class Dropped(Exception):
    """The socket went silent past `drop_after`, or the server ended the session."""


# What a call or a read on a DDP socket can fail with: the transport's errors, or silence.
SOCKET_FAILURES = (*TRANSPORT_ERRORS, Dropped)


class Refused(Exception):
    """The server answered a subscription with `nosub` and an error."""

    def __init__(self, error: Any) -> None:
        super().__init__(str(error))
        self.error = error


class DdpConnection:
    """One DDP session over one WebSocket: handshake, keepalive, subscriptions, frames."""

    def __init__(self, socket: ClientConnection, timing: DdpTiming) -> None:
        self.socket = socket
        self.timing = timing
        self._call_ids = itertools.count(1)

    @classmethod
    async def open(
        cls, url: str, timing: DdpTiming, headers: Mapping[str, str] | None = None
    ) -> DdpConnection:
        extra = dict(headers or {})
        agent = extra.pop("user-agent", None)  # in place of websockets' own, not beside it
        socket = await connect(
            url,
            additional_headers=extra,
            user_agent_header=agent or USER_AGENT,
            open_timeout=timing.connect_timeout,
            ping_interval=None,  # DDP's own ping, as Rocket.Chat expects
            close_timeout=1,
            compression=None,
            max_size=16 * 1024 * 1024,
        )
        connection = cls(socket, timing)
        try:
            await connection.send(
                {"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]}
            )
            async with asyncio.timeout(timing.connect_timeout):
                while True:
                    frame = await connection.receive()
                    if frame["msg"] == "connected":
                        return connection
                    if frame["msg"] == "failed":
                        raise Dropped(f"DDP version refused: {frame}")
        except BaseException:
            await connection.close()
            raise

    async def send(self, frame: JsonObject) -> None:
        await self.socket.send(orjson.dumps(frame).decode())

    async def receive(self) -> JsonObject:
        """The next frame that says something; pings are answered here, silence is watched."""
        timing = self.timing
        pinged = False
        while True:
            wait = timing.drop_after - timing.ping_after if pinged else timing.ping_after
            try:
                text = await asyncio.wait_for(self.socket.recv(), wait)
            except TimeoutError:
                if pinged:
                    raise Dropped("no frame for drop_after seconds") from None
                pinged = True
                await self.send({"msg": "ping"})
                continue
            pinged = False
            try:
                frame = orjson.loads(text)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(frame, dict) or "msg" not in frame:
                continue  # {"server_id": "0"}
            kind = frame["msg"]
            if kind == "ping":
                await self.send({"msg": "pong", **({"id": frame["id"]} if "id" in frame else {})})
            elif kind != "pong":
                return frame

    async def subscribe(self, subscriptions: dict[str, tuple[str, list[Any]]]) -> list[JsonObject]:
        """Send every `sub` and wait until each is ready; frames pushed meanwhile are returned.
        Raises Refused for the first `nosub` with an error."""
        for sub_id, (name, params) in subscriptions.items():
            await self.send({"msg": "sub", "id": sub_id, "name": name, "params": params})
        pending = set(subscriptions)
        early: list[JsonObject] = []
        async with asyncio.timeout(self.timing.connect_timeout):
            while pending:
                frame = await self.receive()
                kind = frame["msg"]
                if kind == "ready":
                    pending.difference_update(frame.get("subs") or ())
                elif kind == "nosub" and frame.get("id") in pending:
                    if frame.get("error"):
                        raise Refused(frame["error"])
                    pending.discard(frame["id"])
                elif kind == "changed":
                    early.append(frame)
        return early

    async def call(self, method: str, params: list[Any]) -> JsonObject:
        """Run a method on a connection nothing else reads from and return its `result`
        frame (each call its own id: a connection may carry several, one after another)."""
        call_id = str(next(self._call_ids))
        await self.send({"msg": "method", "id": call_id, "method": method, "params": params})
        async with asyncio.timeout(self.timing.connect_timeout):
            while True:
                frame = await self.receive()
                if frame["msg"] == "result" and frame.get("id") == call_id:
                    return frame

    async def close(self) -> None:
        with contextlib.suppress(*TRANSPORT_ERRORS):
            await self.socket.close()
