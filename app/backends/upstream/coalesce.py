"""Many identical requests at once, one upstream call: the first asker starts it, everyone who
asks the same while it runs awaits that call, and its answer is kept for a moment.

A page-load storm (a campaign, a newsletter, a widget on a busy page) asks the same question of
Rocket.Chat thousands of times a second; Rocket.Chat itself only recomputes it once a second.
A failure is never kept: everyone who awaited that call gets it, and the next asker starts a
new call. The kept answers are cachetools' `TTLCache` (bounded, expiring on a clock that tests
can step); the calls under way are a dict of tasks. (async-lru's `alru_cache(ttl=...)` shares
calls too, but expires on the event loop's timers, which no test can step, and cannot tell the
asker who started a call from the others: see `own_failures`.)

The call runs in a task of its own (with the starter's context), so a starter that goes away
(a client that disconnects) does not take the answer from the others waiting on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Hashable
from functools import partial
from typing import Any, Generic, TypeVar

from cachetools import TTLCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedCalls(Generic[K, V]):
    """`get(key, call)`: the kept answer for `key`, else the answer of the call for `key`
    under way, else `call()`'s, started now and shared.

    `own_failures` are failures that belong to the asker who started the call rather than to
    the question (Rocket.Chat's 429 counts the starter's address): the starter gets one, and
    each of the others makes a call of its own instead of inheriting it."""

    def __init__(
        self,
        keep_for: float,
        *,
        maxsize: int = 1024,
        own_failures: tuple[type[BaseException], ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kept: TTLCache[K, V] = TTLCache(maxsize, keep_for, timer=clock)
        self._under_way: dict[K, asyncio.Task[V]] = {}
        self._own_failures = own_failures

    async def get(self, key: K, call: Callable[[], Coroutine[Any, Any, V]]) -> V:
        try:
            return self._kept[key]
        except KeyError:
            pass
        task = self._under_way.get(key)
        started = task is None
        if task is None:
            task = asyncio.create_task(call())
            self._under_way[key] = task
            # Registered before any waiter's: the answer is kept before anyone resumes.
            task.add_done_callback(partial(self._landed, key))
        try:
            return await asyncio.shield(task)
        except self._own_failures:
            if started:
                raise
            return await call()

    def _landed(self, key: K, task: asyncio.Task[V]) -> None:
        if self._under_way.get(key) is task:
            del self._under_way[key]
        if not task.cancelled() and task.exception() is None:
            self._kept[key] = task.result()

    def cancel(self) -> None:
        """Cancel the calls under way (their askers get CancelledError), as the app stops."""
        for task in list(self._under_way.values()):
            task.cancel()
