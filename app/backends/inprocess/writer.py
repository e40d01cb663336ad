"""Group commit on SQLite: one writer thread that commits whatever is queued as one transaction,
and a small pool of reader threads.

Writes: every write is one function run on the writer thread, on its own connection. Writes
that arrive while a commit is in flight wait in a queue; the writer takes them all as the next
group and runs them in one transaction, each inside its own savepoint, then commits once: one
fsync for the group. A write that raises (a rule it breaks, a duplicate) is rolled back to its
savepoint and fails alone; its group-mates still commit. A storage error (a full disk, a
read-only or vanished file) fails every write of the group with `StorageFull` or
`StorageUnavailable`, and the next group tries again, so the store recovers when space returns.
A write is acknowledged (its awaiting coroutine resumes) only after the COMMIT that covers it has
returned, and writes are acknowledged in commit order.

`on_commit` listeners hear the event a committed write announces (`write_and_announce`), in
commit order, on the event loop, just before the write is acknowledged: that is the one place a
write is known durable.

Reads run on a small pool of reader threads, each with its own connection. In WAL mode a reader
sees the last committed state and never waits for the writer or its fsync.

Durability: `journal_mode=WAL` with `synchronous=FULL`, so every COMMIT fsyncs the WAL before it
returns; an acknowledged write survives SIGKILL of the process and a power cut of the machine
(`synchronous=NORMAL` would survive SIGKILL but could lose the last commits on power loss).

We run our own threads on the stdlib's `sqlite3` rather than aiosqlite because group commit needs
to own the transaction boundary across many callers' writes, and to take whatever is queued when
the previous commit ends; aiosqlite runs each call as its own item on its thread and offers
neither. What is stored, and how, is store.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from app.backends.base import BackendFailure, StorageFull, StorageUnavailable
from app.observability.metrics import observe_store_commit

T = TypeVar("T")

log = logging.getLogger("app.store")

# The most writes one transaction takes; more wait for the next commit.
MAX_GROUP = 512
READERS = 2

# A committed change, as `on_commit` listeners hear it: what kind, and the record.
CommitListener = Callable[[str, Any], None]
# What a write announces to the listeners once committed: (kind, record), or None.
Event = tuple[str, Any] | None


def storage_failure(error: sqlite3.Error) -> BackendFailure:
    """SQLite's error as the coded failure a client sees; the details go to the log only."""
    if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return StorageFull("the database is full: the write was not stored")
    return StorageUnavailable("the database cannot be written: the write was not stored")


@dataclass(frozen=True, slots=True)
class StoreStats:
    """How writes were grouped since the store opened."""

    commits: int
    writes: int
    queued: int  # writes waiting for the next group

    @property
    def mean_group(self) -> float:
        return self.writes / self.commits if self.commits else 0.0


@dataclass(slots=True)
class _Write(Generic[T]):
    work: Callable[[sqlite3.Connection], tuple[T, Event]]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    value: Any = None
    error: BaseException | None = None
    event: Event = field(default=None)


_STOP = object()


class GroupCommit:
    """The writer thread, its queue and connection, and the readers, of one database file.
    `setup` runs once on the writer's connection before any write (the schema)."""

    def __init__(self, path: Path | str, setup: Callable[[sqlite3.Connection], None]) -> None:
        self._path = str(path)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._listeners: list[CommitListener] = []
        self._commits = 0
        self._writes = 0
        self._closing = False
        self._connection = self._connect()
        setup(self._connection)
        # The writer runs in the opener's context, so that it records to the app's metrics.
        self._writer = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._write_loop,),
            name="sqlite-writer",
            daemon=True,
        )
        self._reader_connections: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._local = threading.local()
        self._readers = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="sqlite-reader")
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=5000")
        return connection

    async def close(self) -> None:
        """Finish the queued writes, then close every connection."""
        self._closing = True
        self._queue.put(_STOP)
        await asyncio.to_thread(self._writer.join)
        self._readers.shutdown(wait=True)
        for connection in [self._connection, *self._reader_connections]:
            connection.close()

    def on_commit(self, listener: CommitListener) -> None:
        """Call `listener(kind, record)` for each committed change, in commit order."""
        self._listeners.append(listener)

    def stats(self) -> StoreStats:
        return StoreStats(commits=self._commits, writes=self._writes, queued=self._queue.qsize())

    # ---- the writer ----

    def write_and_announce(
        self, work: Callable[[sqlite3.Connection], tuple[T, Event]]
    ) -> asyncio.Future[T]:
        """Queue `work` for the next group; the future settles after the group's commit.
        `work` answers (value, event): the event, when not None, goes to the `on_commit`
        listeners once the write is durable, before the value is answered."""
        if self._closing:
            raise StorageUnavailable("the store is closed")
        loop = asyncio.get_running_loop()
        write: _Write[T] = _Write(work, loop, loop.create_future())
        self._queue.put(write)
        return write.future

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` as one write of a group commit, announcing nothing; answers once it is
        durable."""
        return await self.write_and_announce(lambda connection: (work(connection), None))

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            group: list[_Write[Any]] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    group.append(item)
                if stopping or len(group) >= MAX_GROUP:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if group:
                try:
                    self._commit(group)
                except Exception:  # a bug of ours: fail the group, keep the writer alive
                    log.exception("the writer failed a group of %d writes", len(group))
                    for write in group:
                        write.error = StorageUnavailable("the write was not stored")
                        write.event = None
                self._acknowledge(group)

    def _commit(self, group: list[_Write[Any]]) -> None:
        """Run the group in one transaction, each write in its own savepoint; commit once."""
        connection = self._connection
        began = time.perf_counter()
        try:
            connection.execute("BEGIN IMMEDIATE")
            for write in group:
                connection.execute("SAVEPOINT write")
                try:
                    write.value, write.event = write.work(connection)
                except sqlite3.Error as error:
                    if not isinstance(error, sqlite3.IntegrityError):
                        raise  # the storage failed: the whole group fails below
                    connection.execute("ROLLBACK TO write")
                    write.error = error
                except Exception as error:
                    connection.execute("ROLLBACK TO write")
                    write.error = error
                connection.execute("RELEASE write")
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            log.error("a group of %d writes failed: %s", len(group), error)
            if connection.in_transaction:
                try:
                    connection.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rolling back the failed group failed")
            for write in group:
                write.error, write.event = storage_failure(error), None
            return
        observe_store_commit(time.perf_counter() - began, len(group))
        self._commits += 1
        self._writes += len(group)

    def _acknowledge(self, group: list[_Write[Any]]) -> None:
        """Hand the outcomes to each writer's event loop, one callback per loop, in order."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Write[Any]]] = {}
        for write in group:
            by_loop.setdefault(write.loop, []).append(write)
        for loop, writes in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(self._settle, writes)

    def _settle(self, writes: list[_Write[Any]]) -> None:
        """On the event loop: tell the listeners, then acknowledge, in commit order."""
        for write in writes:
            if write.error is None and write.event is not None:
                kind, record = write.event
                for listener in self._listeners:
                    try:
                        listener(kind, record)
                    except Exception:
                        log.exception("a commit listener failed")
            if write.future.done():
                continue  # the caller went away; the write stands
            if write.error is not None:
                write.future.set_exception(write.error)
            else:
                write.future.set_result(write.value)

    # ---- readers ----

    def _reader(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            connection.execute("PRAGMA query_only=1")
            self._local.connection = connection
            with self._reader_lock:
                self._reader_connections.append(connection)
        return connection

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` on a reader connection: the last committed state, never the writer's."""

        def run() -> T:
            try:
                return work(self._reader())
            except sqlite3.Error as error:
                log.error("a read failed: %s", error)
                raise storage_failure(error) from None

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)
