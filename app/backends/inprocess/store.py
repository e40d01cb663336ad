"""SQLite persistence for visitors, rooms and messages, with group commit.

Writes: every write is one function run on the store's single writer thread, on its own
connection. Writes that arrive while a commit is in flight wait in a queue; the writer takes them
all as the next group and runs them in one transaction, each inside its own savepoint, then
commits once: one fsync for the group. A write that raises (a rule it breaks, a duplicate) is
rolled back to its savepoint and fails alone; its group-mates still commit. A storage error
(a full disk, a read-only or vanished file) fails every write of the group with `StorageFull` or
`StorageUnavailable`, and the next group tries again, so the store recovers when space returns.
A write is acknowledged (its awaiting coroutine resumes) only after the COMMIT that covers it has
returned, and writes are acknowledged in commit order.

`on_commit` listeners hear about each committed write that changed what a subscriber sees, in
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
neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson

from app.backends.base import (
    BackendFailure,
    JsonObject,
    Room,
    StorageFull,
    StorageUnavailable,
    Visitor,
)
from app.backends.rocketchat_json import format_datetime, parse_datetime

T = TypeVar("T")

log = logging.getLogger("app.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS visitors (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL,
    name TEXT,
    email TEXT,
    phone TEXT,
    department TEXT
);
CREATE TABLE IF NOT EXISTS rooms (
    id TEXT PRIMARY KEY,
    open INTEGER NOT NULL,
    visitor_id TEXT NOT NULL,
    visitor_token TEXT NOT NULL,
    visitor_username TEXT NOT NULL,
    ts TEXT,
    agent_id TEXT
);
CREATE INDEX IF NOT EXISTS rooms_by_token ON rooms (visitor_token, open);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    rid TEXT NOT NULL,
    document BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_room ON messages (rid, seq);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

VISITOR_COLUMNS = "id, token, username, name, email, phone, department"
ROOM_COLUMNS = "id, open, visitor_id, visitor_token, visitor_username, ts, agent_id"
# The most writes one transaction takes; more wait for the next commit.
MAX_GROUP = 512
READERS = 2

# A committed change, as `on_commit` listeners hear it: what kind, and the stored record.
CommitListener = Callable[[str, Any], None]


def _room(row: tuple[object, ...]) -> Room:
    rid, is_open, visitor_id, token, username, ts, agent_id = row
    return Room(
        id=str(rid),
        open=bool(is_open),
        visitor_id=str(visitor_id),
        visitor_token=str(token),
        visitor_username=str(username),
        ts=parse_datetime(ts) if ts is not None else None,
        agent_id=None if agent_id is None else str(agent_id),
    )


def _visitor(row: tuple[Any, ...]) -> Visitor | None:
    return Visitor(*row) if row[0] is not None else None


def _room_or_none(row: tuple[Any, ...]) -> Room | None:
    return _room(row) if row[0] is not None else None


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

    @property
    def mean_group(self) -> float:
        return self.writes / self.commits if self.commits else 0.0


@dataclass(frozen=True, slots=True)
class SendContext:
    """What a send's rules need, read in one query inside the send's transaction."""

    visitor: Visitor | None
    room: Room | None
    stored: JsonObject | None  # the message that already has the send's `_id`, if any


@dataclass(slots=True)
class _Write(Generic[T]):
    work: Callable[[sqlite3.Connection], tuple[T, tuple[str, Any] | None]]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    value: Any = None
    error: BaseException | None = None
    event: tuple[str, Any] | None = field(default=None)


_STOP = object()


class SqliteStore:
    """The in-process backend's storage; knows tables, not Rocket.Chat's rules."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._listeners: list[CommitListener] = []
        self._commits = 0
        self._writes = 0
        self._connection = self._connect()
        self._connection.executescript(SCHEMA)
        self._writer = threading.Thread(target=self._write_loop, name="sqlite-writer", daemon=True)
        self._reader_connections: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._local = threading.local()
        self._readers = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="sqlite-reader")
        self._writer.start()

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStore:
        """Open (creating if needed) the database file and its schema."""
        return await asyncio.to_thread(cls, path)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=5000")
        return connection

    async def close(self) -> None:
        """Finish the queued writes, then close every connection."""
        self._queue.put(_STOP)
        await asyncio.to_thread(self._writer.join)
        self._readers.shutdown(wait=True)
        for connection in [self._connection, *self._reader_connections]:
            connection.close()

    def on_commit(self, listener: CommitListener) -> None:
        """Call `listener(kind, record)` for each committed change, in commit order."""
        self._listeners.append(listener)

    def stats(self) -> StoreStats:
        return StoreStats(commits=self._commits, writes=self._writes)

    # ---- the writer ----

    def _write(
        self, work: Callable[[sqlite3.Connection], tuple[T, tuple[str, Any] | None]]
    ) -> asyncio.Future[T]:
        """Queue `work` for the next group; the future settles after the group's commit."""
        loop = asyncio.get_running_loop()
        write: _Write[T] = _Write(work, loop, loop.create_future())
        self._queue.put(write)
        return write.future

    async def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` as one write of a group commit; answers once it is durable."""
        return await self._write(lambda connection: (work(connection), None))

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
                self._commit(group)
                self._acknowledge(group)

    def _commit(self, group: list[_Write[Any]]) -> None:
        """Run the group in one transaction, each write in its own savepoint; commit once."""
        connection = self._connection
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

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` on a reader connection: the last committed state, never the writer's."""

        def run() -> T:
            try:
                return work(self._reader())
            except sqlite3.Error as error:
                log.error("a read failed: %s", error)
                raise storage_failure(error) from None

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    # ---- visitors ----

    async def visitor_by_token(self, token: str) -> Visitor | None:
        def read(connection: sqlite3.Connection) -> Visitor | None:
            row = connection.execute(
                f"SELECT {VISITOR_COLUMNS} FROM visitors WHERE token = ?", (token,)
            ).fetchone()
            return Visitor(*row) if row else None

        return await self._read(read)

    async def visitor_and_room(self, token: str, rid: str) -> tuple[Visitor | None, Room | None]:
        """The visitor with `token` and the room `rid`, in one query."""

        def read(connection: sqlite3.Connection) -> tuple[Visitor | None, Room | None]:
            row = connection.execute(
                f"SELECT {_prefixed('v', VISITOR_COLUMNS)}, {_prefixed('r', ROOM_COLUMNS)} "
                "FROM (SELECT 1) LEFT JOIN visitors v ON v.token = ? LEFT JOIN rooms r ON r.id = ?",
                (token, rid),
            ).fetchone()
            return _visitor(row[:7]), _room_or_none(row[7:])

        return await self._read(read)

    async def upsert_visitor(
        self, token: str, make: Callable[[Visitor | None, int], Visitor]
    ) -> Visitor:
        """Insert or update the visitor with `token` atomically.

        `make(existing, next_guest_number)` decides the new record; the guest counter advances
        only when a new visitor is created, as Rocket.Chat's `Livechat_guest_count` does.
        """

        def write(connection: sqlite3.Connection) -> Visitor:
            row = connection.execute(
                f"SELECT {VISITOR_COLUMNS} FROM visitors WHERE token = ?", (token,)
            ).fetchone()
            existing = Visitor(*row) if row else None
            counter = connection.execute(
                "SELECT value FROM counters WHERE name = 'guest'"
            ).fetchone()
            next_number = (counter[0] if counter else 0) + 1
            visitor = make(existing, next_number)
            connection.execute(
                f"INSERT OR REPLACE INTO visitors ({VISITOR_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                astuple(visitor),
            )
            if existing is None:
                connection.execute(
                    "INSERT OR REPLACE INTO counters (name, value) VALUES ('guest', ?)",
                    (next_number,),
                )
            return visitor

        return await self._transaction(write)

    # ---- rooms ----

    async def room(self, rid: str) -> Room | None:
        def read(connection: sqlite3.Connection) -> Room | None:
            row = connection.execute(
                f"SELECT {ROOM_COLUMNS} FROM rooms WHERE id = ?", (rid,)
            ).fetchone()
            return _room(row) if row else None

        return await self._read(read)

    async def open_room_for(
        self, token: str, new_room: Callable[[Visitor | None], Room]
    ) -> tuple[Room, bool]:
        """The visitor's open room, or `new_room(visitor)` stored; one write, so never two open
        rooms. `new_room` raises to refuse (it is given None when no visitor has `token`)."""

        def write(connection: sqlite3.Connection) -> tuple[Room, bool]:
            row = connection.execute(
                f"SELECT {_prefixed('v', VISITOR_COLUMNS)}, {_prefixed('r', ROOM_COLUMNS)} "
                "FROM (SELECT 1) LEFT JOIN visitors v ON v.token = ? "
                "LEFT JOIN rooms r ON r.id = (SELECT id FROM rooms WHERE visitor_token = ? "
                "AND open = 1 ORDER BY ts DESC LIMIT 1)",
                (token, token),
            ).fetchone()
            visitor, existing = _visitor(row[:7]), _room_or_none(row[7:])
            if visitor is not None and existing is not None:
                return existing, False
            room = new_room(visitor)
            connection.execute(
                f"INSERT INTO rooms ({ROOM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    room.id,
                    int(room.open),
                    room.visitor_id,
                    room.visitor_token,
                    room.visitor_username,
                    format_datetime(room.ts) if room.ts else None,
                    room.agent_id,
                ),
            )
            return room, True

        return await self._transaction(write)

    async def close_room(
        self, token: str, rid: str, check: Callable[[Visitor | None, Room | None], None]
    ) -> None:
        """Close the room after `check(visitor, room)` passes (it raises to refuse), in one
        write: no send can slip in between the check and the close."""

        def write(connection: sqlite3.Connection) -> tuple[None, tuple[str, Any]]:
            row = connection.execute(
                f"SELECT {_prefixed('v', VISITOR_COLUMNS)}, {_prefixed('r', ROOM_COLUMNS)} "
                "FROM (SELECT 1) LEFT JOIN visitors v ON v.token = ? LEFT JOIN rooms r ON r.id = ?",
                (token, rid),
            ).fetchone()
            check(_visitor(row[:7]), _room_or_none(row[7:]))
            connection.execute("UPDATE rooms SET open = 0 WHERE id = ?", (rid,))
            return None, ("room.closed", rid)

        await self._write(write)

    # ---- messages ----

    async def message(self, message_id: str) -> JsonObject | None:
        def read(connection: sqlite3.Connection) -> JsonObject | None:
            row = connection.execute(
                "SELECT document FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            return orjson.loads(row[0]) if row else None

        return await self._read(read)

    async def add_message(
        self,
        token: str,
        rid: str,
        message_id: str | None,
        decide: Callable[[SendContext], tuple[T, JsonObject | None]],
    ) -> T:
        """A send in one write: read the visitor, the room and any message stored under
        `message_id` in one query; `decide(context)` applies the rules (raising to refuse) and
        answers what to return and the document to store, or None to store nothing."""

        def write(connection: sqlite3.Connection) -> tuple[T, tuple[str, Any] | None]:
            row = connection.execute(
                f"SELECT {_prefixed('v', VISITOR_COLUMNS)}, {_prefixed('r', ROOM_COLUMNS)}, "
                "m.document FROM (SELECT 1) LEFT JOIN visitors v ON v.token = ? "
                "LEFT JOIN rooms r ON r.id = ? LEFT JOIN messages m ON m.id = ?",
                (token, rid, message_id),
            ).fetchone()
            stored = orjson.loads(row[14]) if row[14] is not None else None
            answer, document = decide(
                SendContext(_visitor(row[:7]), _room_or_none(row[7:14]), stored)
            )
            if document is None:
                return answer, None
            connection.execute(
                "INSERT INTO messages (id, rid, document) VALUES (?, ?, ?)",
                (document["_id"], document["rid"], orjson.dumps(document)),
            )
            return answer, ("message", document)

        return await self._write(write)

    async def room_messages(self, rid: str, limit: int) -> list[JsonObject]:
        """The room's newest messages first."""

        def read(connection: sqlite3.Connection) -> list[JsonObject]:
            rows = connection.execute(
                "SELECT document FROM messages WHERE rid = ? ORDER BY seq DESC LIMIT ?",
                (rid, limit),
            ).fetchall()
            return [orjson.loads(row[0]) for row in rows]

        return await self._read(read)

    async def count_messages(self) -> int:
        def read(connection: sqlite3.Connection) -> int:
            return int(connection.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

        return await self._read(read)

    async def limit_pages(self, pages: int) -> int:
        """Cap the database file at `pages` pages (never below its current size): writes that
        need more fail with `StorageFull`. Answers the cap in force."""

        def write(connection: sqlite3.Connection) -> int:
            return int(connection.execute(f"PRAGMA max_page_count = {int(pages)}").fetchone()[0])

        return await self._transaction(write)


def _prefixed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))
