"""A room's events from a real Rocket.Chat over DDP: subscribe, keepalive, reconnect, back-fill.

One upstream WebSocket per visitor and room in a process, as the widget itself holds one: the
GraphQL subscribers of that room (a visitor's tabs) share it (`SharedRooms`), and with it the
same event objects, so each event is executed once for them. A dropped socket affects one
visitor, Rocket.Chat's per-connection limits apply per visitor as for its widget, and a room's
whole state (what it delivered) lives in one object that is gone with its last subscriber.
One multiplexed socket per process would work too (each stream carries its own token), but it
puts every visitor behind one drop and one connection's DDP rate limits.

- Subscribes `stream-room-messages <rid>`, `stream-notify-room <rid>/deleteMessage` and
  `<rid>/user-activity`, and `stream-livechat-room <rid>` with the visitor's token, as the
  widget does: messages, deletions, the agent's typing (a visitor's own, which carries its
  token, is not passed on), and who serves the room (agentData, agentStatus, queueData).
- Keepalive both ways: every `ping` is answered `pong`; after `ping_after` seconds without a
  frame we ping, after `drop_after` we drop the socket.
- When the socket drops: reconnect with capped exponential backoff and full jitter, resubscribe,
  then back-fill from `messages.history` everything from the last delivered message on. Every
  message is de-duplicated by `_id` and `_updatedAt`, so the subscriber sees each change once,
  and nothing but a delay. Rocket.Chat keeps no tombstones: a message delivered shortly before
  the drop that the back-fill no longer finds was deleted meanwhile, and is reported so. The
  serving agent is read again (`agent.info`) and reported as `AgentChanged` unless it is the
  one the stream last announced, so an assignment made during the gap is not missed. Typing
  and status changes during a gap are not replayed: they describe a moment that has passed.
- `call` runs a DDP method (the visitor's typing) on the room's socket while it is up.

Transport errors and silence (ddp.py's SOCKET_FAILURES) never leave this module: a first
connection that cannot be made is `UpstreamUnavailable`; later ones are retried for as long as
the room lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from app.backends.base import (
    Agent,
    AgentChanged,
    AgentStatusChanged,
    BackendFailure,
    InvalidRoom,
    JsonObject,
    LivechatFailure,
    Message,
    MessageChanged,
    MessageDeleted,
    NoAgent,
    QueuePosition,
    RoomEvent,
    StreamNotAllowed,
    Typing,
    UpstreamError,
    UpstreamUnavailable,
)
from app.backends.rocketchat_json import agent_from_json
from app.backends.upstream.ddp import (
    SOCKET_FAILURES,
    DdpConnection,
    DdpTiming,
    Refused,
)
from app.backends.upstream.retry import full_jitter

log = logging.getLogger("app.upstream.realtime")

MESSAGES = "stream-room-messages"
NOTIFY = "stream-notify-room"
LIVECHAT_ROOM = "stream-livechat-room"
USER_ACTIVITY = "user-activity"
# The agent as last announced: unknown until the stream or a re-read says.
UNKNOWN = object()
HISTORY_PAGE = 100
CLOSE_MESSAGE = "livechat-close"
# The most a back-fill reads: a gap longer than this is a gap (and is logged).
BACK_FILL_LIMIT = 10_000
# How many delivered messages are checked for deletion after a drop.
RECENT = 20
# How many (id, _updatedAt) pairs are remembered to de-duplicate.
SEEN = 5000


class RoomReader(Protocol):
    """What the subscription needs of the REST side: history pages and the room check."""

    async def message_history(
        self, token: str, rid: str, limit: int = 20, before: datetime | None = None
    ) -> list[Message]: ...

    async def open_room(
        self, token: str, rid: str | None = None, agent_id: str | None = None
    ) -> Any: ...

    async def agent_info(self, token: str, rid: str) -> tuple[Agent | None, bool]: ...


class UpstreamRoomEvents:
    """A visitor's room upstream, kept whole across drops (see the module doc)."""

    _ids = itertools.count(1)

    def __init__(
        self,
        url: str,
        token: str,
        rid: str,
        headers: Mapping[str, str],
        reader: RoomReader,
        parse_message: Callable[[JsonObject], Message],
        timing: DdpTiming,
        *,
        on_close: Callable[[UpstreamRoomEvents], None] = lambda _: None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self.token = token
        self.rid = rid
        # The visitor's address and agent on every upgrade, reconnects included: Rocket.Chat
        # counts DDP calls per connection and takes the address from X-Forwarded-For.
        self.headers = dict(headers)
        self._reader = reader
        self._parse = parse_message
        self._timing = timing
        self._on_close = on_close
        self._sleep = sleep
        self._queue: asyncio.Queue[RoomEvent | BaseException | None] = asyncio.Queue()
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._recent: deque[Message] = deque(maxlen=RECENT)
        self._last_ts: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        number = next(self._ids)
        credentials = {"token": token, "visitorToken": token}
        self._streams: dict[str, tuple[str, list[Any]]] = {
            f"m{number}": (MESSAGES, [rid, {"useCollection": False, "args": [credentials]}]),
            f"d{number}": (
                NOTIFY,
                [f"{rid}/deleteMessage", {"useCollection": False, "args": [credentials]}],
            ),
            f"t{number}": (
                NOTIFY,
                [f"{rid}/{USER_ACTIVITY}", {"useCollection": False, "args": [credentials]}],
            ),
            f"l{number}": (LIVECHAT_ROOM, [rid, {"useCollection": False, "args": [credentials]}]),
        }
        self._agent: object = UNKNOWN  # (agent id or None, hidden) as last announced
        self._connection: DdpConnection | None = None
        self._calls: dict[str, asyncio.Future[JsonObject]] = {}
        self._call_ids = itertools.count(1)
        self.reconnects = 0
        self.back_filled = 0  # messages delivered from history after a drop
        self.agents_reread = 0  # agent changes found by re-reading after a drop
        self.closed = False  # the room's close message went by

    # ---- what the GraphQL layer sees ----

    async def start(self) -> None:
        """Connect and subscribe; raises the domain failure when Rocket.Chat refuses."""
        await self._remember_newest()
        await self._remember_agent()
        connection: DdpConnection | None = None
        for attempt in range(self._timing.first_attempts):
            if attempt:
                await self._sleep(self._backoff(attempt))
            try:
                connection = await DdpConnection.open(self.url, self._timing, self.headers)
                early = await connection.subscribe(self._streams)
                break
            except Refused as refused:
                if connection is not None:
                    await connection.close()
                raise await self._precise_failure(refused) from None
            except SOCKET_FAILURES as error:
                if connection is not None:
                    await connection.close()
                    connection = None
                log.info("upstream DDP connect failed (%s), attempt %d", error, attempt + 1)
            except BaseException:  # cancelled while connecting: leave no socket behind
                if connection is not None:
                    await connection.close()
                raise
        if connection is None:
            raise UpstreamUnavailable("the upstream realtime server is unreachable")
        self._connection = connection
        self._task = asyncio.create_task(self._run(connection, early))

    def __aiter__(self) -> UpstreamRoomEvents:
        return self

    async def __anext__(self) -> RoomEvent:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._queue.put_nowait(None)
            raise item
        return item

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # A task cancelled before its first step never runs its body, so `_run`'s own
        # `finally` cannot be relied on to close the socket it was handed.
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        self._queue.put_nowait(None)
        self._on_close(self)

    # ---- the connection's life ----

    async def call(self, method: str, params: list[Any]) -> JsonObject | None:
        """Run a DDP method on the room's socket and return its `result` frame; None when the
        socket is down (reconnecting) or the call got no answer in time, so the caller may use
        a socket of its own."""
        connection = self._connection
        if connection is None:
            return None
        call_id = f"c{next(self._call_ids)}"
        answered: asyncio.Future[JsonObject] = asyncio.get_running_loop().create_future()
        self._calls[call_id] = answered
        try:
            await connection.send(
                {"msg": "method", "id": call_id, "method": method, "params": params}
            )
            async with asyncio.timeout(self._timing.connect_timeout):
                return await answered
        except SOCKET_FAILURES:
            return None
        finally:
            self._calls.pop(call_id, None)

    async def _run(self, connection: DdpConnection, early: list[JsonObject]) -> None:
        try:
            while True:
                try:
                    self._connection = connection
                    for frame in early:
                        self._on_frame(frame)
                    while True:
                        self._on_frame(await connection.receive())
                except SOCKET_FAILURES as error:
                    log.info("upstream DDP connection lost (%s); reconnecting", error)
                finally:
                    self._connection = None
                    await connection.close()
                connection, early = await self._reconnect()
        except asyncio.CancelledError:
            raise
        except (LivechatFailure, BackendFailure) as failure:
            self._queue.put_nowait(failure)
        except Exception:  # a bug: end the stream with a coded error, log the cause
            log.exception("upstream realtime failed")
            self._queue.put_nowait(UpstreamError("the upstream realtime stream failed"))

    async def _reconnect(self) -> tuple[DdpConnection, list[JsonObject]]:
        """A new connection, subscribed and back-filled; retried until it works or the room
        is refused (then the back-fill still runs, and the refusal ends the stream)."""
        for attempt in itertools.count():
            await self._sleep(self._backoff(attempt))
            connection: DdpConnection | None = None
            try:
                connection = await DdpConnection.open(self.url, self._timing, self.headers)
                early = await connection.subscribe(self._streams)
                await self._back_fill()
                await self._reread_agent()
                self.reconnects += 1
                return connection, early
            except Refused as refused:
                if connection is not None:
                    await connection.close()
                await self._back_fill()
                raise await self._precise_failure(refused) from None
            except (*SOCKET_FAILURES, BackendFailure) as error:
                if connection is not None:
                    await connection.close()
                log.info("upstream DDP reconnect failed (%s), attempt %d", error, attempt + 1)
            except BaseException:
                if connection is not None:
                    await connection.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        return full_jitter(attempt, self._timing.backoff_base, self._timing.backoff_cap)

    async def _precise_failure(self, refused: Refused) -> LivechatFailure:
        """DDP says only "not-allowed": ask the REST side why (token, room, closed)."""
        try:
            await self._reader.open_room(self.token, self.rid)
        except LivechatFailure as failure:
            return failure
        return StreamNotAllowed()

    # ---- events, de-duplicated ----

    def _on_frame(self, frame: JsonObject) -> None:
        if frame.get("msg") == "result":
            answered = self._calls.get(str(frame.get("id")))
            if answered is not None and not answered.done():
                answered.set_result(frame)
            return
        if frame.get("msg") != "changed":
            return
        fields = frame.get("fields") or {}
        args = fields.get("args") or []
        collection, event_name = frame.get("collection"), fields.get("eventName")
        if not args:
            return
        if collection == NOTIFY and event_name == f"{self.rid}/{USER_ACTIVITY}":
            self._typing(args)
            return
        if not isinstance(args[0], dict):
            return
        if collection == MESSAGES and event_name == self.rid:
            self._deliver(self._parse(args[0]))
        elif collection == NOTIFY and event_name == f"{self.rid}/deleteMessage":
            self._deleted(str(args[0].get("_id", "")))
        elif collection == LIVECHAT_ROOM and event_name == self.rid:
            self._livechat_room(args[0])

    def _typing(self, args: list[Any]) -> None:
        """`[username, ["user-typing"] or [], extra]`: the agent's; a write that carries a
        visitor token is the visitor's own (from another of their connections) and is not
        echoed."""
        username, activity = args[0], args[1] if len(args) > 1 else []
        extra = args[2] if len(args) > 2 and isinstance(args[2], dict) else {}
        if not isinstance(username, str) or not isinstance(activity, list) or extra.get("token"):
            return
        self._queue.put_nowait(
            Typing(rid=self.rid, username=username, typing="user-typing" in activity)
        )

    def _livechat_room(self, event: JsonObject) -> None:
        kind = event.get("type")
        if kind == "agentData":
            data = event.get("data")
            if isinstance(data, dict) and data.get("hiddenInfo"):
                self._announce_agent(None, hidden=True)
            elif isinstance(data, dict):
                try:
                    self._announce_agent(agent_from_json(data), hidden=False)
                except (KeyError, TypeError, ValueError):
                    log.warning("upstream sent an unreadable agent: %r", data)
            else:
                self._announce_agent(None, hidden=False)
        elif kind == "agentStatus" and isinstance(event.get("status"), str):
            self._queue.put_nowait(AgentStatusChanged(rid=self.rid, status=event["status"]))
        elif kind == "queueData" and isinstance(event.get("data"), dict):
            data = event["data"]
            spot, wait = data.get("spot"), data.get("estimatedWaitTimeSeconds")
            if isinstance(spot, int):
                self._queue.put_nowait(
                    QueuePosition(
                        rid=self.rid,
                        position=spot,
                        estimated_wait_time_seconds=wait if isinstance(wait, int) else None,
                    )
                )

    def _announce_agent(self, agent: Agent | None, *, hidden: bool) -> bool:
        """AgentChanged, unless it says what was last announced; whether it was sent."""
        key = (agent.id if agent else None, hidden)
        if self._agent == key:
            return False
        self._agent = key
        self._queue.put_nowait(AgentChanged(rid=self.rid, agent=agent, hidden=hidden))
        return True

    async def _read_agent(self) -> tuple[Agent | None, bool] | None:
        """The serving agent as agent.info says now; None when the room itself is refused
        (the subscription says so on its own)."""
        try:
            return await self._reader.agent_info(self.token, self.rid)
        except NoAgent:
            return None, False
        except LivechatFailure:
            return None

    async def _remember_agent(self) -> None:
        """Who serves the room when the subscription starts: not an event, the baseline a
        re-read after a gap is compared with."""
        found = await self._read_agent()
        if found is not None:
            agent, hidden = found
            self._agent = (agent.id if agent else None, hidden)

    async def _reread_agent(self) -> None:
        """After a gap: the serving agent as it is now (a change meanwhile is announced)."""
        found = await self._read_agent()
        if found is not None:
            agent, hidden = found
            self.agents_reread += self._announce_agent(agent, hidden=hidden)

    def _deliver(self, message: Message) -> bool:
        """Deliver unless this change of this message was delivered already."""
        known = self._seen.get(message.id)
        if known is not None and known >= message.updated_at:
            return False
        self._seen[message.id] = message.updated_at
        self._seen.move_to_end(message.id)
        if len(self._seen) > SEEN:
            self._seen.popitem(last=False)
        if known is None:
            self._recent.append(message)
        if message.t == CLOSE_MESSAGE:
            self.closed = True
        if self._last_ts is None or message.ts > self._last_ts:
            self._last_ts = message.ts
        self._queue.put_nowait(MessageChanged(message))
        return True

    def _deleted(self, message_id: str) -> None:
        self._seen.pop(message_id, None)
        for message in list(self._recent):
            if message.id == message_id:
                self._recent.remove(message)
        self._queue.put_nowait(MessageDeleted(id=message_id, rid=self.rid))

    async def _remember_newest(self) -> None:
        """What exists before the subscription starts is not an event: the newest message
        marks where a back-fill begins. Read before subscribing, so that nothing stored after
        the subscription is taken for old. A bad token or room fails here, precisely."""
        newest = await self._reader.message_history(self.token, self.rid, 1)
        for message in newest:
            self._seen[message.id] = message.updated_at
            self._last_ts = message.ts

    async def _back_fill(self) -> None:
        """Deliver what history has from the last delivered message on, oldest first; report
        recently delivered messages it no longer has as deleted."""
        since = self._last_ts
        if self._recent:
            oldest_recent = self._recent[0].ts
            since = oldest_recent if since is None else min(since, oldest_recent)
        found, complete = await self._history_back_to(since)
        newer = [message for message in found if since is None or message.ts >= since]
        present = {message.id for message in found}
        for message in sorted(newer, key=lambda message: message.ts):
            self.back_filled += self._deliver(message)
        if complete:
            for message in list(self._recent):
                if message.id not in present:
                    self._deleted(message.id)

    async def _history_back_to(self, since: datetime | None) -> tuple[list[Message], bool]:
        """History pages, newest first, until one reaches `since`; whether it was reached.

        Each page asks for what is older than the previous page's oldest message plus one
        millisecond (`before` is strict and dates have milliseconds), so that messages sharing
        that millisecond are read again rather than skipped; ids de-duplicate the overlap."""
        found: dict[str, Message] = {}
        before: datetime | None = None
        while len(found) < BACK_FILL_LIMIT:
            page = await self._reader.message_history(self.token, self.rid, HISTORY_PAGE, before)
            fresh = [message for message in page if message.id not in found]
            found.update((message.id, message) for message in fresh)
            if len(page) < HISTORY_PAGE:
                return list(found.values()), True
            oldest = page[-1].ts
            if since is not None and oldest < since:
                return list(found.values()), True
            if not fresh:
                break  # a whole page within one millisecond: nothing further can be asked
            before = oldest + timedelta(milliseconds=1)
        log.warning("back-fill of room %s stopped after %d messages", self.rid, len(found))
        return list(found.values()), False


class SharedRooms:
    """One upstream subscription per visitor and room in this process, shared by every GraphQL
    subscriber of it (a visitor's tabs): one socket, one back-fill, and the same event objects
    for all, so that the GraphQL layer executes each event once for them."""

    def __init__(self, open_room_events: Callable[[str, str], UpstreamRoomEvents]) -> None:
        self._open = open_room_events
        self._rooms: dict[tuple[str, str], _SharedRoom] = {}

    async def subscribe(self, token: str, rid: str) -> RoomListener:
        key = (token, rid)
        room = self._rooms.get(key)
        if room is not None and not room.ended:
            # Joining a live room: the token was checked for it already, but Rocket.Chat
            # refuses a new subscription to a room closed since, and so do we. The stream
            # told us (its close message), so no request to Rocket.Chat is needed.
            if room.upstream.closed:
                raise InvalidRoom("the room is closed")
            return await room.join()
        room = self._rooms[key] = _SharedRoom(self._open(token, rid), self._drop)
        return await room.join()

    def live(self, token: str, rid: str) -> UpstreamRoomEvents | None:
        """The visitor's room subscription in this process, while it lasts."""
        room = self._rooms.get((token, rid))
        return room.upstream if room is not None and not room.ended else None

    def _drop(self, room: _SharedRoom) -> None:
        key = (room.upstream.token, room.upstream.rid)
        if self._rooms.get(key) is room:
            del self._rooms[key]


class _SharedRoom:
    def __init__(
        self, upstream: UpstreamRoomEvents, on_empty: Callable[[_SharedRoom], None]
    ) -> None:
        self.upstream = upstream
        self._on_empty = on_empty
        self._listeners: set[RoomListener] = set()
        self._started: asyncio.Task[None] = asyncio.create_task(upstream.start())
        self._pump: asyncio.Task[None] | None = None
        self.ended = False

    async def join(self) -> RoomListener:
        listener = RoomListener(self)
        self._listeners.add(listener)
        try:
            await asyncio.shield(self._started)
        except BaseException:
            await listener.aclose()
            raise
        if self._pump is None:
            self._pump = asyncio.create_task(self._forward())
        return listener

    async def _forward(self) -> None:
        try:
            async for event in self.upstream:
                for listener in self._listeners:
                    listener.deliver(event)
        except (LivechatFailure, BackendFailure) as failure:
            for listener in self._listeners:
                listener.deliver(failure)
        self.ended = True
        for listener in self._listeners:
            listener.deliver(None)

    async def leave(self, listener: RoomListener) -> None:
        self._listeners.discard(listener)
        if self._listeners:
            return
        self.ended = True
        self._on_empty(self)
        for task in (self._pump, self._started):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._started.done() and not self._started.cancelled():
            self._started.exception()  # retrieved: the joiners were told
        await self.upstream.aclose()


class RoomListener:
    """One GraphQL subscriber's view of a shared upstream room."""

    def __init__(self, room: _SharedRoom) -> None:
        self._room = room
        self._queue: asyncio.Queue[RoomEvent | BaseException | None] = asyncio.Queue()
        self._closed = False

    def deliver(self, item: RoomEvent | BaseException | None) -> None:
        self._queue.put_nowait(item)

    def __aiter__(self) -> RoomListener:
        return self

    async def __anext__(self) -> RoomEvent:
        item = await self._queue.get()
        if item is None or isinstance(item, BaseException):
            self._queue.put_nowait(None)
            if item is None:
                raise StopAsyncIteration
            raise item
        return item

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._room.leave(self)
