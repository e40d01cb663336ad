"""SQLite persistence for visitors, rooms and messages.

Every public method is one transaction run on a single dedicated thread, so the event loop never
blocks on disk and no two transactions interleave. The database is in WAL mode with
`synchronous=FULL`: a commit is on disk before the method returns, so an acknowledged send
survives a crash.

Each write (`insert_message`, `replace_message`, `delete_message`, `close_room`) is one method
and one transaction, so that what happens after a commit can hook in at exactly one place.
A message's `ts` is kept in its own column, in milliseconds, strictly increasing within a room
(a message stored in the same millisecond as the room's last one is moved 1 ms later): paging
back with `ts < before` then never skips or repeats a message.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import orjson

from app.backends.base import JsonObject, Room, Visitor
from app.backends.rocketchat_json import format_datetime, parse_datetime

T = TypeVar("T")

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
    document BLOB NOT NULL,
    ts INTEGER
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

# After any migration: the index needs the `ts` column that older files lack.
INDEXES = "CREATE INDEX IF NOT EXISTS messages_by_room_ts ON messages (rid, ts);"

VISITOR_FIELDS = tuple(field.name for field in fields(Visitor))
VISITOR_COLUMNS = ", ".join(VISITOR_FIELDS)
ROOM_COLUMNS = "id, open, visitor_id, visitor_token, visitor_username, ts, agent_id"


def _visitor(row: tuple[object, ...]) -> Visitor:
    return Visitor(**dict(zip(VISITOR_FIELDS, row, strict=True)))  # type: ignore[arg-type]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def millis(moment: datetime) -> int:
    """Milliseconds since the epoch, exactly (JavaScript's Date keeps no finer time)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _millis(value: object) -> int:
    return millis(parse_datetime(value))


def _add_ts_column(connection: sqlite3.Connection) -> None:
    """Files made before messages had a `ts` column get it, filled from their documents."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(messages)")}
    if "ts" in columns:
        return
    connection.execute("ALTER TABLE messages ADD COLUMN ts INTEGER")
    rows = connection.execute("SELECT seq, document FROM messages").fetchall()
    connection.executemany(
        "UPDATE messages SET ts = ? WHERE seq = ?",
        [(_millis(orjson.loads(document)["ts"]), seq) for seq, document in rows],
    )


def _store_message(connection: sqlite3.Connection, document: JsonObject) -> JsonObject | None:
    """Insert the document, its `ts` moved past the room's last one if need be; None when its
    `_id` is taken."""
    ts = _millis(document["ts"])
    (last,) = connection.execute(
        "SELECT MAX(ts) FROM messages WHERE rid = ?", (document["rid"],)
    ).fetchone()
    if last is not None and ts <= last:
        moved = parse_datetime(document["ts"]) + timedelta(milliseconds=last + 1 - ts)
        document = {**document, "ts": format_datetime(moved), "_updatedAt": format_datetime(moved)}
        ts = last + 1
    cursor = connection.execute(
        "INSERT INTO messages (id, rid, document, ts) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        (document["_id"], document["rid"], orjson.dumps(document), ts),
    )
    return document if cursor.rowcount == 1 else None


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


class SqliteStore:
    """The in-process backend's storage; knows tables, not Rocket.Chat's rules."""

    def __init__(self, connection: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._connection = connection
        self._executor = executor

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStore:
        """Open (creating if needed) the database file and its schema."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA busy_timeout=5000")
            connection.executescript(SCHEMA)
            _add_ts_column(connection)
            connection.executescript(INDEXES)
            return connection

        connection = await asyncio.get_running_loop().run_in_executor(executor, connect)
        return cls(connection, executor)

    async def close(self) -> None:
        await self._run(self._connection.close)
        self._executor.shutdown(wait=True)

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return result

        return await self._run(run)

    async def check_writable(self) -> None:
        """Take the write lock and write, then roll back: raises what a real write would
        (a read-only file, another process holding the lock) without touching the data."""

        def probe() -> None:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute("CREATE TABLE IF NOT EXISTS readiness_probe (id INTEGER)")
                connection.execute("INSERT INTO readiness_probe VALUES (1)")
            finally:
                connection.execute("ROLLBACK")

        await self._run(probe)

    # ---- visitors ----

    async def visitor_by_token(self, token: str) -> Visitor | None:
        def read(connection: sqlite3.Connection) -> Visitor | None:
            row = connection.execute(
                f"SELECT {VISITOR_COLUMNS} FROM visitors WHERE token = ?", (token,)
            ).fetchone()
            return _visitor(row) if row else None

        return await self._transaction(read)

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
            existing = _visitor(row) if row else None
            counter = connection.execute(
                "SELECT value FROM counters WHERE name = 'guest'"
            ).fetchone()
            next_number = (counter[0] if counter else 0) + 1
            visitor = make(existing, next_number)
            connection.execute(
                f"INSERT OR REPLACE INTO visitors ({VISITOR_COLUMNS}) "
                f"VALUES ({', '.join('?' for _ in VISITOR_FIELDS)})",
                tuple(getattr(visitor, name) for name in VISITOR_FIELDS),
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

        return await self._transaction(read)

    async def open_room_for(self, token: str, new_room: Callable[[], Room]) -> tuple[Room, bool]:
        """The visitor's open room, or `new_room()` stored; atomic, so never two open rooms."""

        def write(connection: sqlite3.Connection) -> tuple[Room, bool]:
            row = connection.execute(
                f"SELECT {ROOM_COLUMNS} FROM rooms WHERE visitor_token = ? AND open = 1 "
                "ORDER BY ts DESC LIMIT 1",
                (token,),
            ).fetchone()
            if row:
                return _room(row), False
            room = new_room()
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

    async def close_room(self, rid: str, close_message: JsonObject) -> JsonObject | None:
        """Mark the room closed and store its close message, at once; the message as stored,
        or None when the room was not open."""

        def write(connection: sqlite3.Connection) -> JsonObject | None:
            cursor = connection.execute(
                "UPDATE rooms SET open = 0 WHERE id = ? AND open = 1", (rid,)
            )
            if cursor.rowcount != 1:
                return None
            return _store_message(connection, close_message)

        return await self._transaction(write)

    # ---- messages ----

    async def message(self, message_id: str) -> JsonObject | None:
        def read(connection: sqlite3.Connection) -> JsonObject | None:
            row = connection.execute(
                "SELECT document FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            return orjson.loads(row[0]) if row else None

        return await self._transaction(read)

    async def insert_message(self, document: JsonObject) -> tuple[JsonObject, bool]:
        """Store the document unless its `_id` exists; answers what is stored and if it is new."""

        def write(connection: sqlite3.Connection) -> tuple[JsonObject, bool]:
            stored = _store_message(connection, document)
            if stored is not None:
                return stored, True
            row = connection.execute(
                "SELECT document FROM messages WHERE id = ?", (document["_id"],)
            ).fetchone()
            return orjson.loads(row[0]), False

        return await self._transaction(write)

    async def replace_message(self, document: JsonObject) -> bool:
        """Store a new version of an existing message (same `_id`, `rid` and `ts`); False when
        it is gone."""
        encoded = orjson.dumps(document)

        def write(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE messages SET document = ? WHERE id = ?", (encoded, document["_id"])
            )
            return cursor.rowcount == 1

        return await self._transaction(write)

    async def delete_message(self, message_id: str) -> bool:
        """Remove the message; False when there was none."""

        def write(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            return cursor.rowcount == 1

        return await self._transaction(write)

    async def room_messages(
        self, rid: str, limit: int, before: datetime | None = None
    ) -> list[JsonObject]:
        """The room's newest messages first, only those older than `before` when given."""
        bound = millis(before) if before is not None else None

        def read(connection: sqlite3.Connection) -> list[JsonObject]:
            if bound is None:
                rows = connection.execute(
                    "SELECT document FROM messages WHERE rid = ? ORDER BY ts DESC LIMIT ?",
                    (rid, limit),
                ).fetchall()
            else:
                rows = connection.execute(
                    "SELECT document FROM messages WHERE rid = ? AND ts < ? "
                    "ORDER BY ts DESC LIMIT ?",
                    (rid, bound, limit),
                ).fetchall()
            return [orjson.loads(row[0]) for row in rows]

        return await self._transaction(read)

    async def count_messages(self) -> int:
        def read(connection: sqlite3.Connection) -> int:
            return int(connection.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

        return await self._transaction(read)
