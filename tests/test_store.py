"""The SQLite store: files written before messages had a `ts` column still open and page."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from app.backends.inprocess.store import SqliteStore
from app.backends.rocketchat_json import parse_datetime

BEFORE_TS_COLUMN = """
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    rid TEXT NOT NULL,
    document BLOB NOT NULL
);
CREATE INDEX messages_by_room ON messages (rid, seq);
"""


async def test_an_older_file_gets_its_ts_column_and_pages_by_it(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    with sqlite3.connect(database) as connection:
        connection.executescript(BEFORE_TS_COLUMN)
        for number, ts in enumerate(["2025-01-02T03:04:05.678Z", "2025-01-02T03:04:06.001Z"]):
            document = {"_id": f"m{number}", "rid": "r", "msg": str(number), "ts": ts}
            connection.execute(
                "INSERT INTO messages (id, rid, document) VALUES (?, ?, ?)",
                (document["_id"], "r", orjson.dumps(document)),
            )
    store = await SqliteStore.open(database)
    try:
        newest_first = await store.room_messages("r", 10)
        assert [document["_id"] for document in newest_first] == ["m1", "m0"]
        older = await store.room_messages("r", 10, parse_datetime("2025-01-02T03:04:06.001Z"))
        assert [document["_id"] for document in older] == ["m0"]
        stored, created = await store.insert_message(
            {"_id": "m2", "rid": "r", "msg": "2", "ts": "2025-01-02T03:04:06.001Z"}
        )
        assert created and stored["ts"] == "2025-01-02T03:04:06.002Z"
    finally:
        await store.close()
