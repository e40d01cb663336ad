"""The in-process store's tables for what surrounds a chat: visitor status and custom fields, a
room's department, custom fields and survey, and the mail outbox. Made with the store's own
tables when a database opens (store.py), read and written by widget_store.py."""

from __future__ import annotations

import sqlite3

TABLES = """
CREATE TABLE IF NOT EXISTS visitor_data (
    visitor_id TEXT PRIMARY KEY,
    status TEXT,
    custom_fields BLOB
);
CREATE TABLE IF NOT EXISTS room_data (
    rid TEXT PRIMARY KEY,
    department TEXT,
    custom_fields BLOB,
    survey BLOB
);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    reply_to TEXT,
    sent_at TEXT,
    error TEXT
);
"""


def create_tables(connection: sqlite3.Connection) -> None:
    connection.executescript(TABLES)
