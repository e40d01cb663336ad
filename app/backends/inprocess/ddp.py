"""Rocket.Chat's realtime API for a visitor: DDP over a WebSocket at `/websocket`.

What a livechat widget (Rocket.Chat's `@rocket.chat/ddp-client`) and our own upstream backend
need, framed as Rocket.Chat frames it:

- `{"server_id": "0"}` first; `connect` answered `connected` (or `failed` for a version we do
  not speak); anything before `connect` answered `error` "Must connect first".
- `ping` answered `pong` (echoing `id`); after `heartbeat` seconds of inbound silence the
  server pings, and closes after as long again without an answer, as Meteor does.
- `sub` of `stream-room-messages` (event name = rid, key `visitorToken`),
  `stream-notify-room` (`<rid>/deleteMessage` and `<rid>/user-activity`, key `token`) and
  `stream-livechat-room` (event name = rid, key `visitorToken`), params
  `[eventName, {"useCollection": false, "args": [{"token", "visitorToken"}]}]`: `ready` with
  `subs: [id]`, or `nosub` with a Meteor error. A repeated subscription id is a no-op; past
  `max_subscriptions` on one connection (`MAX_SUBSCRIPTIONS_PER_CONNECTION`, as graphql-ws's
  sockets) a `sub` is answered `nosub` "too-many-subscriptions". `<rid>/user-activity` carries
  the agent's typing (`args: [username, ["user-typing"] or [], {}]`; the visitor's own is not
  echoed), `stream-livechat-room` the agent's changes (`agentData`, `agentStatus`,
  `queueData`); the pre-6.0 `<rid>/typing` is accepted and stays silent.
- agents (agents.py): the method `login` with `{"resume": authToken}` (from POST
  /api/v1/login), after which the agent may subscribe to the rooms they serve without a
  visitor token; and the method `stream-notify-room` `["<rid>/user-activity", username,
  ["user-typing"] or [], {...}]` for typing, from an agent (their own username, a room they
  serve) or a visitor (`{"token"}` of the room's visitor). A refused write is dropped silently,
  as Rocket.Chat does.
- events as `changed` frames, `id` the literal "id", dates in EJSON (`{"$date": ms}`). A frame
  is built once per event and stream, whichever sessions and subscriptions push it, and only
  while the socket is open: a session cut off for reading too slowly (app/websocket_protocol.py)
  builds nothing more.
- `unsub` answered `nosub`; any other `method` answered with Meteor's 404 "Method not found".
- with `RATE_LIMIT=rocketchat`, Rocket.Chat's limit per connection and method (limits.py's
  `ddp_method_rule`: 10 calls a 10 s window, `stream-*` methods 40 a 40 s one): a call past
  it answered with Meteor's `too-many-requests` error, `details.timeToReset` in ms.
- a frame nested deeper than `MAX_FRAME_DEPTH` answered `error` "Bad request" and otherwise
  ignored: orjson reads up to 1,024 levels but writes only 254, and echoing such a frame (as
  `offendingMessage`, or its `id`) would end the session with a traceback in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app.backends.base import (
    AgentChanged,
    AgentStatusChanged,
    JsonObject,
    LivechatBackend,
    LivechatFailure,
    MessageChanged,
    MessageDeleted,
    QueuePosition,
    RoomEvent,
    RoomEvents,
    Typing,
)
from app.backends.inprocess.agents import AgentAccount, AgentDesk, Unauthorized
from app.backends.inprocess.limits import RocketChatLimiter, meteor_address
from app.backends.rocketchat_json import agent_to_json, message_to_json, parse_datetime

log = logging.getLogger("app.ddp")

SUPPORTED_VERSIONS = ("1", "pre2", "pre1")
DATE_FIELDS = ("ts", "_updatedAt", "editedAt")
SILENT_NOTIFY_EVENTS = ("typing",)
USER_ACTIVITY = "user-activity"
LIVECHAT_ROOM = "stream-livechat-room"
TOKEN_LIFETIME = 90 * 24 * 3600  # seconds: Rocket.Chat's default Accounts_LoginExpiration
LOGGED_OUT = "You've been logged out by the server. Please log in again."
TOO_MANY_REQUESTS = "too-many-requests"  # Meteor's DDPRateLimiter refusal
# A visitor's frames are at most 5 levels deep (`sub`'s params, their args, the credentials).
MAX_FRAME_DEPTH = 32


def nested_deeper_than(value: object, limit: int) -> bool:
    """Whether lists and objects in `value` nest more than `limit` levels (walked without
    recursion, so the walk itself cannot be made to overflow)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if not isinstance(item, list):
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in item)
    return False


def meteor_error(error: str | int, reason: str) -> JsonObject:
    """A Meteor.Error as DDP carries it."""
    return {
        "isClientSafe": True,
        "error": error,
        "reason": reason,
        "message": f"{reason} [{error}]",
        "errorType": "Meteor.Error",
    }


def ejson_message(event: MessageChanged) -> JsonObject:
    """The stored message document as DDP sends it: dates as `{"$date": ms}`."""
    document = message_to_json(event.message)
    for name in DATE_FIELDS:
        value = document.get(name)
        if isinstance(value, str):
            document[name] = {"$date": int(parse_datetime(value).timestamp() * 1000)}
    return document


# The frames of an event, by (collection, event name): every subscription of a room's stream,
# in every session, sends the same one.
_frames: weakref.WeakKeyDictionary[RoomEvent, dict[tuple[str, str], str]] = (
    weakref.WeakKeyDictionary()
)


def event_args(event: RoomEvent) -> list[Any]:
    """The `args` of an event's `changed` frame, as Rocket.Chat's streams carry them."""
    if isinstance(event, MessageChanged):
        return [ejson_message(event)]
    if isinstance(event, MessageDeleted):
        return [{"_id": event.id}]
    if isinstance(event, Typing):
        return [event.username, ["user-typing"] if event.typing else [], {}]
    if isinstance(event, AgentChanged):
        if event.hidden:
            return [{"type": "agentData", "data": {"hiddenInfo": True}}]
        if event.agent is None:  # back in the queue: `data` undefined, left out by EJSON
            return [{"type": "agentData"}]
        return [{"type": "agentData", "data": agent_to_json(event.agent)}]
    if isinstance(event, AgentStatusChanged):
        return [{"type": "agentStatus", "status": event.status}]
    data: JsonObject = {"spot": event.position}
    if event.estimated_wait_time_seconds is not None:
        data["estimatedWaitTimeSeconds"] = event.estimated_wait_time_seconds
    return [{"type": "queueData", "data": data}]


def changed_frame(collection: str, event_name: str, event: RoomEvent) -> str:
    frames = _frames.get(event)
    if frames is None:
        frames = _frames[event] = {}
    frame = frames.get((collection, event_name))
    if frame is None:
        fields = {"eventName": event_name, "args": event_args(event)}
        changed = {"msg": "changed", "collection": collection, "id": "id", "fields": fields}
        frame = frames[(collection, event_name)] = orjson.dumps(changed).decode()
    return frame


@dataclass(frozen=True)
class StreamRequest:
    """A `sub` frame read: which stream, which event, whose credentials."""

    collection: str
    event_name: str
    token: str | None
    visitor_token: str | None

    @classmethod
    def parse(cls, name: str, params: Any) -> StreamRequest:
        if not isinstance(params, list) or not params or not isinstance(params[0], str):
            return cls(name, "", None, None)
        options = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        args = options.get("args")
        credentials = (
            args[0] if isinstance(args, list) and args and isinstance(args[0], dict) else {}
        )
        token, visitor_token = credentials.get("token"), credentials.get("visitorToken")
        return cls(
            name,
            params[0],
            token if isinstance(token, str) else None,
            visitor_token if isinstance(visitor_token, str) else None,
        )


def agent_desk(backend: object) -> AgentDesk | None:
    """The agents of the in-process backend behind the app's wrappers (guards, limits)."""
    while backend is not None:
        desk = getattr(backend, "agents", None)
        if isinstance(desk, AgentDesk):
            return desk
        backend = getattr(backend, "inner", None)
    return None


# What each stream pushes to a subscriber: by collection, or by notify event.
WANTED: dict[str, tuple[type[RoomEvent], ...]] = {
    "stream-room-messages": (MessageChanged,),
    "deleteMessage": (MessageDeleted,),
    USER_ACTIVITY: (Typing,),
    LIVECHAT_ROOM: (AgentChanged, AgentStatusChanged, QueuePosition),
}


@dataclass
class DdpServer:
    """Serves DDP sessions for visitors over `backend`; counts what is live, for tests."""

    # The app's backend exists only once the app has started: looked up per connection.
    backend_of: Callable[[WebSocket], LivechatBackend]
    heartbeat: float = 15.0
    max_subscriptions: int = 100
    sessions: set[DdpSession] = field(default_factory=set)
    # Rocket.Chat's per connection and method limit (`RATE_LIMIT=rocketchat`), else None.
    method_limiter: RocketChatLimiter | None = None

    @property
    def subscription_count(self) -> int:
        return sum(len(session.subscriptions) for session in self.sessions)

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        session = DdpSession(
            websocket, self.backend_of(websocket), self.heartbeat, self.max_subscriptions
        )
        session.method_limiter = self.method_limiter
        peer = websocket.client.host if websocket.client else None
        session.client_address = meteor_address(websocket.scope["headers"], peer)
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            await session.close()


class DdpSession:
    """One WebSocket: its handshake, keepalive and subscriptions."""

    def __init__(
        self,
        websocket: WebSocket,
        backend: LivechatBackend,
        heartbeat: float,
        max_subscriptions: int,
    ) -> None:
        self.websocket = websocket
        self.backend = backend
        self.heartbeat = heartbeat
        self.max_subscriptions = max_subscriptions
        self.connected = False
        self.client_address: str | None = None  # as Rocket.Chat would see it
        self.agent: AgentAccount | None = None  # after `login` with an agent's resume token
        self.method_limiter: RocketChatLimiter | None = None
        self.connection_id = secrets.token_urlsafe(12)
        # Each `sub` id's push task and the events it reads: the events are closed here too,
        # since a task cancelled before its first step never runs its own `finally`.
        self.subscriptions: dict[str, tuple[asyncio.Task[None], RoomEvents]] = {}
        self._send_lock = asyncio.Lock()

    async def send(self, frame: JsonObject | str) -> None:
        text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
        async with self._send_lock:
            await self.websocket.send_text(text)

    async def run(self) -> None:
        await self.send({"server_id": "0"})
        pinged = False
        while True:
            try:
                text = await asyncio.wait_for(self.websocket.receive_text(), self.heartbeat)
            except TimeoutError:
                if pinged:
                    await self.websocket.close(code=1000, reason="heartbeat timeout")
                    return
                pinged = True
                await self.send({"msg": "ping"})
                continue
            except (WebSocketDisconnect, RuntimeError, KeyError):
                return
            pinged = False
            try:
                frame = orjson.loads(text)
            except orjson.JSONDecodeError:
                await self.send({"msg": "error", "reason": "Bad request"})
                continue
            if nested_deeper_than(frame, MAX_FRAME_DEPTH):
                await self.send(
                    {"msg": "error", "reason": f"Bad request: nested deeper than {MAX_FRAME_DEPTH}"}
                )
                continue
            if not isinstance(frame, dict) or "msg" not in frame:
                await self.send(
                    {"msg": "error", "reason": "Bad request", "offendingMessage": frame}
                )
                continue
            try:
                if not await self.handle(frame):
                    return
            except (WebSocketDisconnect, RuntimeError):
                return  # the client left while being answered

    async def handle(self, frame: JsonObject) -> bool:
        """Answer one frame; False when the session must end."""
        kind = frame["msg"]
        if not self.connected:
            if kind != "connect":
                await self.send({"msg": "error", "reason": "Must connect first"})
                return True
            if frame.get("version") not in SUPPORTED_VERSIONS:
                await self.send({"msg": "failed", "version": "1"})
                await self.websocket.close()
                return False
            self.connected = True
            await self.send({"msg": "connected", "session": self.connection_id})
            return True
        if kind == "ping":
            await self.send({"msg": "pong", **({"id": frame["id"]} if "id" in frame else {})})
        elif kind == "sub":
            await self.subscribe(str(frame.get("id", "")), str(frame.get("name", "")), frame)
        elif kind == "unsub":
            await self.unsubscribe(str(frame.get("id", "")))
        elif kind == "method":
            await self.call(frame)
        elif kind != "pong":
            await self.send({"msg": "error", "reason": "Bad request", "offendingMessage": frame})
        return True

    async def call(self, frame: JsonObject) -> None:
        """A method: `login` (resume) and `stream-notify-room` (typing) for agents and
        visitors; anything else is Meteor's 404."""
        method_id, name = frame.get("id"), frame.get("method")
        params = frame.get("params")
        params = params if isinstance(params, list) else []
        desk = agent_desk(self.backend)
        answer: JsonObject = {"msg": "result", "id": method_id}
        refused = self._rate_limited(str(name))
        if refused is not None:
            answer["error"] = refused
        elif desk is not None and name == "login":
            resume = params[0].get("resume") if params and isinstance(params[0], dict) else None
            try:
                self.agent = desk.resume(str(resume))
                expires = int((time.time() + TOKEN_LIFETIME) * 1000)
                answer["result"] = {
                    "id": self.agent.id,
                    "token": resume,
                    "tokenExpires": {"$date": expires},
                    "type": "resume",
                }
            except Unauthorized:
                answer["error"] = meteor_error(403, LOGGED_OUT)
        elif desk is not None and name == "stream-notify-room":
            await self.notify(desk, params)
        else:
            answer["error"] = meteor_error(404, f"Method '{name}' not found")
        await self.send(answer)
        await self.send({"msg": "updated", "methods": [method_id]})

    def _rate_limited(self, name: str) -> JsonObject | None:
        """Rocket.Chat's refusal of a method over its per connection limit (counted before the
        method is looked up, as Meteor counts it): `too-many-requests`, with the milliseconds
        until the window starts again."""
        limiter = self.method_limiter
        verdict = limiter.hit("method", name, self.connection_id) if limiter else None
        if verdict is None or verdict.allowed:
            return None
        error = meteor_error(TOO_MANY_REQUESTS, verdict.method_message())
        error["details"] = {"timeToReset": int(verdict.wait * 1000)}
        return error

    async def notify(self, desk: AgentDesk, params: list[Any]) -> None:
        """A write to `<rid>/user-activity`: typing, from the logged-in agent or from the
        visitor whose token comes last. Refused writes are dropped, as Rocket.Chat does."""
        if len(params) < 3 or not isinstance(params[0], str):
            return
        rid, _, event = params[0].partition("/")
        username, activity = params[1], params[2]
        if event != USER_ACTIVITY or not isinstance(username, str):
            return
        if not isinstance(activity, list):
            return
        typing = "user-typing" in activity
        extra = params[3] if len(params) > 3 and isinstance(params[3], dict) else {}
        token = extra.get("token")
        if self.agent is not None:
            await desk.agent_typing(self.agent, rid, username, typing)
        elif isinstance(token, str):
            with contextlib.suppress(LivechatFailure):
                await desk.visitor_typing(token, rid, typing, username)

    async def subscribe(self, sub_id: str, name: str, frame: JsonObject) -> None:
        if sub_id in self.subscriptions:
            return  # Meteor ignores a repeated id; subscribing twice would deliver twice
        if len(self.subscriptions) >= self.max_subscriptions:
            reason = f"Too many subscriptions on one connection (at most {self.max_subscriptions})"
            error = meteor_error("too-many-subscriptions", reason)
            await self.send({"msg": "nosub", "id": sub_id, "error": error})
            return
        request = StreamRequest.parse(name, frame.get("params"))
        if name not in ("stream-room-messages", "stream-notify-room", "stream-livechat-room"):
            error = meteor_error(404, f"Subscription '{name}' not found")
            await self.send({"msg": "nosub", "id": sub_id, "error": error})
            return
        if not request.event_name:
            error = meteor_error("invalid-event-name", "Invalid event name")
            await self.send({"msg": "nosub", "id": sub_id, "error": error})
            return
        rid, _, notify_event = request.event_name.partition("/")
        # Which credential each stream reads, as Rocket.Chat's notifications module does.
        token = request.token if name == "stream-notify-room" else request.visitor_token
        known = name != "stream-notify-room" or notify_event in (
            "deleteMessage",
            USER_ACTIVITY,
            *SILENT_NOTIFY_EVENTS,
        )
        desk = agent_desk(self.backend)
        try:
            if not known:
                raise LivechatFailure("not allowed")
            if token:
                events = await self.backend.subscribe_room(token, rid)
            elif self.agent is not None and desk is not None:
                events = await desk.subscribe_as_agent(self.agent, rid)
            else:
                raise LivechatFailure("not allowed")
        except LivechatFailure:
            error = meteor_error("not-allowed", "Not allowed")
            await self.send({"msg": "nosub", "id": sub_id, "error": error})
            return
        wanted = WANTED.get(name) or WANTED.get(notify_event, ())  # `<rid>/typing`: silent
        task = asyncio.create_task(self._push(events, name, request.event_name, wanted))
        self.subscriptions[sub_id] = (task, events)
        await self.send({"msg": "ready", "subs": [sub_id]})

    async def _push(
        self,
        events: RoomEvents,
        collection: str,
        event_name: str,
        wanted: tuple[type[RoomEvent], ...],
    ) -> None:
        try:
            async for event in events:
                if self.websocket.application_state is not WebSocketState.CONNECTED:
                    return  # the socket is gone: build nothing more for it
                if isinstance(event, wanted):
                    await self.send(changed_frame(collection, event_name, event))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            await events.aclose()

    async def unsubscribe(self, sub_id: str) -> None:
        subscription = self.subscriptions.pop(sub_id, None)
        if subscription is not None:
            await _stop(*subscription)
        await self.send({"msg": "nosub", "id": sub_id})

    async def close(self) -> None:
        subscriptions = list(self.subscriptions.values())
        self.subscriptions.clear()
        for subscription in subscriptions:
            await _stop(*subscription)


async def _stop(task: asyncio.Task[None], events: RoomEvents) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await events.aclose()
