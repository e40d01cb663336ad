"""SQLite persistence for visitors, rooms and messages.

Every public method is one transaction run on a single dedicated thread, so the event loop never
blocks on disk and no two transactions interleave. The database is in WAL mode with
`synchronous=FULL`: a commit is on disk before the method returns, so an acknowledged send
survives a crash.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple
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
            return Visitor(*row) if row else None

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

    async def close_room(self, rid: str) -> bool:
        """Mark the room closed; False when it was not open."""

        def write(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE rooms SET open = 0 WHERE id = ? AND open = 1", (rid,)
            )
            return cursor.rowcount == 1

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
        encoded = orjson.dumps(document)

        def write(connection: sqlite3.Connection) -> tuple[JsonObject, bool]:
            cursor = connection.execute(
                "INSERT INTO messages (id, rid, document) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (document["_id"], document["rid"], encoded),
            )
            if cursor.rowcount == 1:
                return document, True
            row = connection.execute(
                "SELECT document FROM messages WHERE id = ?", (document["_id"],)
            ).fetchone()
            return orjson.loads(row[0]), False

        return await self._transaction(write)

    async def room_messages(self, rid: str, limit: int) -> list[JsonObject]:
        """The room's newest messages first."""

        def read(connection: sqlite3.Connection) -> list[JsonObject]:
            rows = connection.execute(
                "SELECT document FROM messages WHERE rid = ? ORDER BY seq DESC LIMIT ?",
                (rid, limit),
            ).fetchall()
            return [orjson.loads(row[0]) for row in rows]

        return await self._transaction(read)

    async def count_messages(self) -> int:
        def read(connection: sqlite3.Connection) -> int:
            return int(connection.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

        return await self._transaction(read)
