"""A room's events to its subscribers, in process: what Rocket.Chat's streamer does for a room.

The service publishes after the store's commit returns, so a subscriber never sees what was
not stored, and in commit order. Every subscriber of a room receives the same event object.
Nothing is replayed: a subscriber gets what is published from the moment it subscribed.
"""

from __future__ import annotations

import asyncio

from app.backends.base import RoomEvent


class Broker:
    """Subscribers by room id; `publish` never waits (each subscriber has its own queue)."""

    def __init__(self) -> None:
        self._rooms: dict[str, set[BrokerSubscription]] = {}
        self._closed = False

    def subscribe(self, rid: str) -> BrokerSubscription:
        subscription = BrokerSubscription(self, rid)
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
    """One subscriber's events, in publication order; an async iterator until `aclose()`."""

    __slots__ = ("_broker", "_queue", "rid")

    def __init__(self, broker: Broker, rid: str) -> None:
        self._broker = broker
        self.rid = rid
        # None marks the end: put once, and put back by whoever reads it.
        self._queue: asyncio.Queue[RoomEvent | None] = asyncio.Queue()

    def deliver(self, event: RoomEvent) -> None:
        self._queue.put_nowait(event)

    def end(self) -> None:
        self._queue.put_nowait(None)

    def __aiter__(self) -> BrokerSubscription:
        return self

    async def __anext__(self) -> RoomEvent:
        event = await self._queue.get()
        if event is None:
            self._queue.put_nowait(None)
            raise StopAsyncIteration
        return event

    async def aclose(self) -> None:
        self._broker.unsubscribe(self)
        self.end()
