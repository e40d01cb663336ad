"""SQLite persistence for visitors, rooms and messages: the tables and the queries.

Every write goes through the group commit of writer.py (one writer thread, each write in its
own savepoint of a shared transaction, acknowledged after the COMMIT that covers it); reads run
on its reader threads, which see the last committed state.

`on_commit` listeners hear about each committed write that changed what a subscriber sees, in
commit order, on the event loop, just before the write is acknowledged: that is the one place a
write is known durable. They get `(kind, record)`: ("message", the stored document),
("message.updated", the new document), ("message.deleted", {"_id", "rid"}) and ("room.closed",
the stored close message).

A message's `ts` is kept in its own column, in milliseconds, strictly increasing within a room
(a message stored in the same millisecond as the room's last one is moved 1 ms later, by the
writer, so in commit order): paging back with `ts < before` then never skips or repeats a
message, and within a room `ts` order is commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from app.backends.base import JsonObject, Room, Visitor
from app.backends.inprocess import widget_schema
from app.backends.inprocess.writer import (
    CommitListener,
    Event,
    GroupCommit,
    StoreStats,
)
from app.backends.rocketchat_json import format_datetime, parse_datetime

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

# Uploaded files (the bytes are on disk, named by id: see files.py), each with its message.
UPLOADS = """
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    rid TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    size INTEGER NOT NULL,
    message_id TEXT NOT NULL
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


def _create_schema(connection: sqlite3.Connection) -> None:
    connection.executescript(SCHEMA)
    widget_schema.create_tables(connection)
    connection.executescript(UPLOADS)
    _add_ts_column(connection)
    connection.executescript(INDEXES)


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
    """Insert the document, its `ts` moved past the room's last one if need be (then a new
    dict); None when its `_id` is taken."""
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


def _agent_loads(connection: sqlite3.Connection) -> dict[str, int]:
    """Each agent's count of open rooms served (Rocket.Chat's routing reads the same)."""
    rows = connection.execute(
        "SELECT agent_id, COUNT(*) FROM rooms WHERE open = 1 AND agent_id IS NOT NULL "
        "GROUP BY agent_id"
    ).fetchall()
    return {str(agent_id): int(count) for agent_id, count in rows}


def delete_room_uploads(connection: sqlite3.Connection, rids: list[str]) -> list[str]:
    """Within a write that removes rooms: their files' rows, and the ids of the files to
    remove from disk once it commits (`FileStore.remove`)."""
    marks = ", ".join("?" for _ in rids)
    rows = connection.execute(
        f"DELETE FROM uploads WHERE rid IN ({marks}) RETURNING id", tuple(rids)
    ).fetchall()
    return [str(file_id) for (file_id,) in rows]


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


def _visitor_or_none(row: tuple[Any, ...]) -> Visitor | None:
    return _visitor(row) if row[0] is not None else None


def _room_or_none(row: tuple[Any, ...]) -> Room | None:
    return _room(row) if row[0] is not None else None


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a request's rules need, read in one query: the visitor with its token, the room
    with its id, and the message with its id (each None when there is none)."""

    visitor: Visitor | None
    room: Room | None
    message: JsonObject | None


# The visitor, the room and the message of a request, in one row.
LOOKUP = (
    f"SELECT {', '.join(f'v.{name}' for name in VISITOR_FIELDS)}, "
    f"{', '.join(f'r.{name.strip()}' for name in ROOM_COLUMNS.split(','))}, m.document "
    "FROM (SELECT 1) LEFT JOIN visitors v ON v.token = ? LEFT JOIN rooms r ON r.id = ? "
    "LEFT JOIN messages m ON m.id = ?"
)


def _lookup(
    connection: sqlite3.Connection, token: str, rid: str | None, message_id: str | None
) -> Lookup:
    row = connection.execute(LOOKUP, (token, rid, message_id)).fetchone()
    split = len(VISITOR_FIELDS)
    return Lookup(
        visitor=_visitor_or_none(row[:split]),
        room=_room_or_none(row[split:-1]),
        message=orjson.loads(row[-1]) if row[-1] is not None else None,
    )


class _ProbeWritten(Exception):
    """`check_writable`'s write went through; raised to roll it back."""


class SqliteStore:
    """The in-process backend's storage; knows tables, not Rocket.Chat's rules."""

    def __init__(self, path: Path | str) -> None:
        self.writer = GroupCommit(path, setup=_create_schema)

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStore:
        """Open (creating if needed) the database file and its schema."""
        return await asyncio.to_thread(cls, path)

    async def close(self) -> None:
        """Finish the queued writes, then close every connection."""
        await self.writer.close()

    def on_commit(self, listener: CommitListener) -> None:
        """Call `listener(kind, record)` for each committed change, in commit order."""
        self.writer.on_commit(listener)

    def stats(self) -> StoreStats:
        return self.writer.stats()

    async def check_writable(self) -> None:
        """Write through the writer as any write does, then roll the write back: raises what a
        real write would (`StorageFull`, `StorageUnavailable` for a read-only file or another
        process holding the lock) without touching the data."""

        def probe(connection: sqlite3.Connection) -> None:
            connection.execute("CREATE TABLE IF NOT EXISTS readiness_probe (id INTEGER)")
            connection.execute("INSERT INTO readiness_probe VALUES (1)")
            raise _ProbeWritten  # rolled back to its savepoint: its group-mates are untouched

        with contextlib.suppress(_ProbeWritten):
            await self.writer.write(probe)

    # ---- visitors ----

    async def lookup(self, token: str, rid: str, message_id: str | None = None) -> Lookup:
        """The visitor with `token`, the room `rid` and the message `message_id`: one query."""
        return await self.writer.read(
            lambda connection: _lookup(connection, token, rid, message_id)
        )

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

        return await self.writer.write(write)

    # ---- rooms ----

    async def open_room_for(
        self, token: str, new_room: Callable[[Visitor | None, Mapping[str, int]], Room]
    ) -> tuple[Room, bool]:
        """The visitor's open room, or `new_room(visitor, loads)` stored; one write, so never
        two open rooms, and routing sees every room opened before. `loads` is each agent's
        count of open rooms served. `new_room` raises to refuse (it is given None when no
        visitor has `token`)."""

        def write(connection: sqlite3.Connection) -> tuple[Room, bool]:
            visitor = _lookup(connection, token, None, None).visitor
            row = connection.execute(
                f"SELECT {ROOM_COLUMNS} FROM rooms WHERE visitor_token = ? AND open = 1 "
                "ORDER BY ts DESC LIMIT 1",
                (token,),
            ).fetchone()
            if visitor is not None and row:
                return _room(row), False
            room = new_room(visitor, _agent_loads(connection))
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

        return await self.writer.write(write)

    async def waiting_rooms(self) -> list[tuple[Room, str | None]]:
        """Open rooms no agent serves, oldest first (the queue), with the visitor's department."""

        def read(connection: sqlite3.Connection) -> list[tuple[Room, str | None]]:
            rows = connection.execute(
                f"SELECT {', '.join(f'r.{name.strip()}' for name in ROOM_COLUMNS.split(','))}, "
                "v.department FROM rooms r LEFT JOIN visitors v ON v.token = r.visitor_token "
                "WHERE r.open = 1 AND r.agent_id IS NULL ORDER BY r.ts, r.id"
            ).fetchall()
            return [(_room(row[:-1]), row[-1]) for row in rows]

        return await self.writer.read(read)

    async def agent_loads(self) -> dict[str, int]:
        """Each agent's count of open rooms served."""
        return await self.writer.read(_agent_loads)

    async def assign_agent(self, rid: str, agent_id: str) -> bool:
        """The waiting room `rid` is served by `agent_id` from now on; False when it is no
        longer waiting (closed, or taken meanwhile)."""

        def write(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE rooms SET agent_id = ? WHERE id = ? AND open = 1 AND agent_id IS NULL",
                (agent_id, rid),
            )
            return cursor.rowcount == 1

        return await self.writer.write(write)

    async def agent_rooms(self, agent_id: str | None = None) -> list[Room]:
        """Rooms, open first then newest first: those `agent_id` serves, or every room."""

        def read(connection: sqlite3.Connection) -> list[Room]:
            where, values = ("WHERE agent_id = ?", (agent_id,)) if agent_id else ("", ())
            rows = connection.execute(
                f"SELECT {ROOM_COLUMNS} FROM rooms {where} ORDER BY open DESC, ts DESC", values
            ).fetchall()
            return [_room(row) for row in rows]

        return await self.writer.read(read)

    async def close_room(self, rid: str, close_message: JsonObject) -> JsonObject | None:
        """Mark the room closed and store its close message, at once; the message as stored,
        or None when the room was not open."""

        def write(
            connection: sqlite3.Connection,
        ) -> tuple[JsonObject | None, Event]:
            cursor = connection.execute(
                "UPDATE rooms SET open = 0 WHERE id = ? AND open = 1", (rid,)
            )
            if cursor.rowcount != 1:
                return None, None
            stored = _store_message(connection, close_message)
            return stored, ("room.closed", stored)

        return await self.writer.write_and_announce(write)

    # ---- messages ----

    async def add_message(
        self,
        token: str,
        rid: str,
        message_id: str | None,
        decide: Callable[[Lookup], JsonObject],
    ) -> tuple[JsonObject, bool]:
        """A send in one write: `decide(lookup)` applies the rules to the visitor, the room and
        the message already stored under `message_id` (read in one query), raising to refuse;
        it answers that stored message to store nothing, or a new document to store. Answers
        the document as stored, and whether it is new."""

        def write(
            connection: sqlite3.Connection,
        ) -> tuple[tuple[JsonObject, bool], Event]:
            found = _lookup(connection, token, rid, message_id)
            document = decide(found)
            if document is found.message:
                return (document, False), None
            stored = _store_message(connection, document)
            if stored is None:  # `decide` saw no message with this id: this is a bug
                raise sqlite3.IntegrityError(f"message id {document['_id']} is taken")
            return (stored, True), ("message", stored)

        return await self.writer.write_and_announce(write)

    async def add_file_message(
        self, token: str, rid: str, upload: JsonObject, decide: Callable[[Lookup], JsonObject]
    ) -> JsonObject:
        """A file's row and its message in one transaction: `decide(lookup)` checks the
        visitor and room again (raising to refuse) and answers the message to store."""

        def write(connection: sqlite3.Connection) -> tuple[JsonObject, Event]:
            document = decide(_lookup(connection, token, rid, None))
            stored = _store_message(connection, document)
            if stored is None:
                raise sqlite3.IntegrityError(f"message id {document['_id']} is taken")
            connection.execute(
                "INSERT INTO uploads (id, rid, name, type, size, message_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (upload["_id"], rid, upload["name"], upload["type"], upload["size"], stored["_id"]),
            )
            return stored, ("message", stored)

        return await self.writer.write_and_announce(write)

    async def upload(self, file_id: str) -> tuple[JsonObject, str] | None:
        """The stored file's record and its room's visitor token, if there is such a file."""

        def read(connection: sqlite3.Connection) -> tuple[JsonObject, str] | None:
            row = connection.execute(
                "SELECT u.id, u.rid, u.name, u.type, u.size, r.visitor_token FROM uploads u "
                "JOIN rooms r ON r.id = u.rid WHERE u.id = ?",
                (file_id,),
            ).fetchone()
            if row is None:
                return None
            record = {"_id": row[0], "rid": row[1], "name": row[2], "type": row[3], "size": row[4]}
            return record, str(row[5])

        return await self.writer.read(read)

    async def upload_ids(self) -> set[str]:
        """Every stored file's id (what the upload directory may hold)."""

        def read(connection: sqlite3.Connection) -> set[str]:
            return {row[0] for row in connection.execute("SELECT id FROM uploads")}

        return await self.writer.read(read)

    async def replace_message(self, document: JsonObject) -> bool:
        """Store a new version of an existing message (same `_id`, `rid` and `ts`); False when
        it is gone."""
        encoded = orjson.dumps(document)

        def write(connection: sqlite3.Connection) -> tuple[bool, Event]:
            cursor = connection.execute(
                "UPDATE messages SET document = ? WHERE id = ?", (encoded, document["_id"])
            )
            replaced = cursor.rowcount == 1
            return replaced, ("message.updated", document) if replaced else None

        return await self.writer.write_and_announce(write)

    async def delete_message(self, message_id: str, files: list[str] | None = None) -> bool:
        """Remove the message (and the rows of the files it carries, whose ids are added to
        `files` for the caller to remove from disk); False when there was none."""

        def write(connection: sqlite3.Connection) -> tuple[bool, Event]:
            row = connection.execute(
                "SELECT rid FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                return False, None
            connection.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            carried = connection.execute(
                "DELETE FROM uploads WHERE message_id = ? RETURNING id", (message_id,)
            ).fetchall()
            if files is not None:
                files.extend(str(file_id) for (file_id,) in carried)
            return True, ("message.deleted", {"_id": message_id, "rid": row[0]})

        return await self.writer.write_and_announce(write)

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

        return await self.writer.read(read)

    async def limit_pages(self, pages: int) -> int:
        """Cap the database file at `pages` pages (never below its current size): writes that
        need more fail with `StorageFull`. Answers the cap in force."""

        def write(connection: sqlite3.Connection) -> int:
            return int(connection.execute(f"PRAGMA max_page_count = {int(pages)}").fetchone()[0])

        return await self.writer.write(write)
