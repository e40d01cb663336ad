"""The in-process store's rows for what surrounds a chat: visitor status and custom fields,
a room's department, custom fields and survey, the mail outbox, and a visitor's removal.

The tables are widget_schema.py's (made with the store's own). No Rocket.Chat rules here: the
rules pass `decide` callables that run inside the write, as store.py's do, so that a check and
the change it allows are one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import orjson

from app.backends.base import JsonObject, Room, Visitor
from app.backends.inprocess.store import (
    ROOM_COLUMNS,
    VISITOR_COLUMNS,
    SqliteStore,
    _room,
    _visitor,
    delete_room_uploads,
)
from app.backends.rocketchat_json import format_datetime

# Rows that belong to a room and go with it when its visitor is removed: (table, rid column).
# Uploads' rows go too (`delete_room_uploads`); their bytes on disk go after the commit.
ROOM_RECORDS: list[tuple[str, str]] = [("messages", "rid"), ("room_data", "rid")]


@dataclass(frozen=True, slots=True)
class VisitorState:
    """A visitor with their open room (None when none is open), read at once."""

    visitor: Visitor | None
    open_room: Room | None
    department: str | None  # the open room's


@dataclass(frozen=True, slots=True)
class OutboxMail:
    id: str
    ts: datetime
    kind: str  # "offline-message" or "transcript"
    recipient: str | None
    subject: str
    body: str
    reply_to: str | None = None


def _visitor_by(connection: sqlite3.Connection, column: str, value: str) -> Visitor | None:
    row = connection.execute(
        f"SELECT {VISITOR_COLUMNS} FROM visitors WHERE {column} = ? LIMIT 1", (value,)
    ).fetchone()
    return _visitor(row) if row else None


def _open_room(connection: sqlite3.Connection, token: str) -> Room | None:
    row = connection.execute(
        f"SELECT {ROOM_COLUMNS} FROM rooms WHERE visitor_token = ? AND open = 1 "
        "ORDER BY ts ASC LIMIT 1",
        (token,),
    ).fetchone()
    return _room(row) if row else None


def _fields(blob: object) -> JsonObject:
    return orjson.loads(blob) if isinstance(blob, bytes) else {}


class WidgetStore:
    """The widget's tables, written through the store's group commit."""

    def __init__(self, store: SqliteStore) -> None:
        self._writer = store.writer

    async def match_visitor(
        self, token: str, phone: str | None, email: str | None
    ) -> Visitor | None:
        """Rocket.Chat's registration matching: the visitor with this token, else this phone,
        else this email."""

        def read(connection: sqlite3.Connection) -> Visitor | None:
            if found := _visitor_by(connection, "token", token):
                return found
            if phone and (found := _visitor_by(connection, "phone", phone)):
                return found
            return _visitor_by(connection, "email", email) if email else None

        return await self._writer.read(read)

    async def state(self, token: str) -> VisitorState:

        def read(connection: sqlite3.Connection) -> VisitorState:
            visitor = _visitor_by(connection, "token", token)
            room = _open_room(connection, token) if visitor else None
            department = None
            if room is not None:
                row = connection.execute(
                    "SELECT department FROM room_data WHERE rid = ?", (room.id,)
                ).fetchone()
                department = row[0] if row else None
            return VisitorState(visitor, room, department)

        return await self._writer.read(read)

    async def set_status(self, token: str, status: str) -> bool:
        """False when no visitor has the token."""

        def write(connection: sqlite3.Connection) -> bool:
            visitor = _visitor_by(connection, "token", token)
            if visitor is None:
                return False
            connection.execute(
                "INSERT INTO visitor_data (visitor_id, status) VALUES (?, ?) "
                "ON CONFLICT (visitor_id) DO UPDATE SET status = excluded.status",
                (visitor.id, status),
            )
            return True

        return await self._writer.write(write)

    async def set_custom_field(
        self, token: str, scope: str, key: str, value: str, overwrite: bool
    ) -> bool:
        """Set `key` on the visitor (scope "visitor") or on every room of theirs ("room");
        an existing value stays when `overwrite` is false. False when no visitor has the
        token."""

        def merge(blob: object) -> bytes:
            fields = _fields(blob)
            if overwrite or key not in fields:
                fields[key] = value
            return orjson.dumps(fields)

        def write(connection: sqlite3.Connection) -> bool:
            visitor = _visitor_by(connection, "token", token)
            if visitor is None:
                return False
            if scope == "room":
                rids = [
                    row[0]
                    for row in connection.execute(
                        "SELECT id FROM rooms WHERE visitor_token = ?", (token,)
                    )
                ]
                for rid in rids:
                    row = connection.execute(
                        "SELECT custom_fields FROM room_data WHERE rid = ?", (rid,)
                    ).fetchone()
                    connection.execute(
                        "INSERT INTO room_data (rid, custom_fields) VALUES (?, ?) ON CONFLICT"
                        " (rid) DO UPDATE SET custom_fields = excluded.custom_fields",
                        (rid, merge(row[0] if row else None)),
                    )
                return True
            row = connection.execute(
                "SELECT custom_fields FROM visitor_data WHERE visitor_id = ?", (visitor.id,)
            ).fetchone()
            connection.execute(
                "INSERT INTO visitor_data (visitor_id, custom_fields) VALUES (?, ?) ON CONFLICT"
                " (visitor_id) DO UPDATE SET custom_fields = excluded.custom_fields",
                (visitor.id, merge(row[0] if row else None)),
            )
            return True

        return await self._writer.write(write)

    async def custom_fields(self, token: str) -> tuple[JsonObject, JsonObject]:
        """The visitor's custom fields, and those of their newest room."""

        def read(connection: sqlite3.Connection) -> tuple[JsonObject, JsonObject]:
            row = connection.execute(
                "SELECT d.custom_fields FROM visitors v JOIN visitor_data d"
                " ON d.visitor_id = v.id WHERE v.token = ?",
                (token,),
            ).fetchone()
            room = connection.execute(
                "SELECT d.custom_fields FROM rooms r JOIN room_data d ON d.rid = r.id"
                " WHERE r.visitor_token = ? ORDER BY r.ts DESC LIMIT 1",
                (token,),
            ).fetchone()
            return _fields(row[0] if row else None), _fields(room[0] if room else None)

        return await self._writer.read(read)

    async def set_department(self, rid: str, department: str) -> None:

        def write(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO room_data (rid, department) VALUES (?, ?) ON CONFLICT (rid)"
                " DO UPDATE SET department = excluded.department",
                (rid, department),
            )

        await self._writer.write(write)

    async def save_survey(self, rid: str, data: JsonObject) -> None:
        """Merge the answers into the room's survey."""

        def write(connection: sqlite3.Connection) -> None:
            row = connection.execute(
                "SELECT survey FROM room_data WHERE rid = ?", (rid,)
            ).fetchone()
            survey = {**_fields(row[0] if row else None), **data}
            connection.execute(
                "INSERT INTO room_data (rid, survey) VALUES (?, ?) ON CONFLICT (rid)"
                " DO UPDATE SET survey = excluded.survey",
                (rid, orjson.dumps(survey)),
            )

        await self._writer.write(write)

    async def remove_visitor(
        self, token: str, decide: Callable[[Visitor | None, list[Room]], Visitor]
    ) -> tuple[Visitor, list[str]]:
        """Delete the visitor with every room of theirs and what belongs to the rooms (their
        files' rows included), in one transaction. `decide(visitor, rooms)` raises to refuse.
        Answers the visitor removed and the ids of the files whose bytes are to go from disk
        once it has committed."""

        def write(connection: sqlite3.Connection) -> tuple[Visitor, list[str]]:
            visitor = _visitor_by(connection, "token", token)
            rooms = (
                [
                    _room(row)
                    for row in connection.execute(
                        f"SELECT {ROOM_COLUMNS} FROM rooms WHERE visitor_token = ?", (token,)
                    )
                ]
                if visitor
                else []
            )
            removed = decide(visitor, rooms)
            rids = [room.id for room in rooms]
            file_ids = delete_room_uploads(connection, rids) if rids else []
            for rid in rids:
                for table, column in ROOM_RECORDS:
                    connection.execute(f"DELETE FROM {table} WHERE {column} = ?", (rid,))
                connection.execute("DELETE FROM rooms WHERE id = ?", (rid,))
            connection.execute("DELETE FROM visitor_data WHERE visitor_id = ?", (removed.id,))
            connection.execute("DELETE FROM visitors WHERE id = ?", (removed.id,))
            return removed, file_ids

        return await self._writer.write(write)

    # ---- the outbox ----

    async def keep_mail(self, mail: OutboxMail) -> None:

        def write(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO outbox (id, ts, kind, recipient, subject, body, reply_to)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    mail.id,
                    format_datetime(mail.ts),
                    mail.kind,
                    mail.recipient,
                    mail.subject,
                    mail.body,
                    mail.reply_to,
                ),
            )

        await self._writer.write(write)

    async def mail_done(self, mail_id: str, sent_at: datetime | None, error: str | None) -> None:
        """Record the SMTP outcome: when it was sent, or why not."""

        def write(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE outbox SET sent_at = ?, error = ? WHERE id = ?",
                (format_datetime(sent_at) if sent_at else None, error, mail_id),
            )

        await self._writer.write(write)
