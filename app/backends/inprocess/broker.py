"""A room's events to its subscribers, in process: what Rocket.Chat's streamer does for a room.

The service publishes after the store's commit returns, so a subscriber never sees what was
not stored, and in commit order. Every subscriber of a room receives the same event object.
Nothing is replayed: a subscriber gets what is published from the moment it subscribed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from app.backends.base import RoomEvent

# Which events a subscriber does not want (a visitor's own typing, for the visitor).
Skip = Callable[[RoomEvent], bool]


class Broker:
    """Subscribers by room id; `publish` never waits (each subscriber has its own list)."""

    def __init__(self) -> None:
        self._rooms: dict[str, set[BrokerSubscription]] = {}
        self._closed = False

    def subscribe(self, rid: str, skip: Skip | None = None) -> BrokerSubscription:
        subscription = BrokerSubscription(self, rid, skip)
        if self._closed:
            subscription.end()
        else:
            self._rooms.setdefault(rid, set()).add(subscription)
        return subscription

    def publish(self, rid: str, event: RoomEvent) -> None:
        for subscription in self._rooms.get(rid, ()):
            subscription.deliver(event)

    def unsubscribe(self, subscription: BrokerSubscription) -> None:
        subscribers = self._rooms.get(subscription.rid)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._rooms[subscription.rid]

    @property
    def subscriber_count(self) -> int:
        return sum(len(subscribers) for subscribers in self._rooms.values())

    def close(self) -> None:
        """End every subscription (the backend is shutting down)."""
        self._closed = True
        rooms, self._rooms = self._rooms, {}
        for subscribers in rooms.values():
            for subscription in subscribers:
                subscription.end()


class BrokerSubscription:
    """One subscriber's events, in publication order; an async iterator until `aclose()`.

    A list and one future while waiting rather than an asyncio.Queue: a queue is four deques
    (its items, getters, putters and an unused `join` event), some 3 KB per subscriber held
    for the subscription's life, to pass a chat room's few events a second."""

    __slots__ = ("_broker", "_ended", "_pending", "_skip", "_waiter", "rid")

    def __init__(self, broker: Broker, rid: str, skip: Skip | None = None) -> None:
        self._broker = broker
        self.rid = rid
        self._skip = skip
        self._pending: list[RoomEvent] = []
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None

    def deliver(self, event: RoomEvent) -> None:
        if self._skip is not None and self._skip(event):
            return
        self._pending.append(event)
        self._wake()

    def end(self) -> None:
        """No more events: what was delivered is still read, then the iteration stops."""
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> BrokerSubscription:
        return self

    async def __anext__(self) -> RoomEvent:
        while not self._pending:
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._pending.pop(0)

    async def aclose(self) -> None:
        self._broker.unsubscribe(self)
        self.end()
