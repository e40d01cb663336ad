"""The in-process store, on real SQLite files. Group commit: writes queued while a commit is in
flight commit together, each fails alone on its own rules, a full or unwritable database fails
its group with a coded error and the store recovers, and readers never wait for the writer.
Files written before messages had a `ts` column still open and page."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from app.backends.base import (
    LivechatBackend,
    Message,
    OtherLivechatFailure,
    OutgoingMessage,
    RoomClosed,
    StorageFull,
    StorageUnavailable,
    VisitorRegistration,
)
from app.backends.inprocess.service import InProcessBackend
from app.backends.inprocess.store import SqliteStore
from app.backends.rocketchat_json import parse_datetime
from app.main import create_app
from app.settings import Settings
from tests.helpers import CountingIds, SteppingClock
from tests.servers import serving


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path / "store.db")
    yield store
    await store.close()


@pytest.fixture
def backend(store: SqliteStore) -> InProcessBackend:
    return InProcessBackend(
        store,
        markdown_options=Settings().markdown_options(),
        clock=SteppingClock(),
        new_id=CountingIds(),
    )


async def visitor_room(backend: InProcessBackend, token: str) -> str:
    await backend.register_visitor(VisitorRegistration(token=token))
    room, _ = await backend.open_room(token)
    return room.id


class Gate:
    """Holds the store's writer inside a write until opened, so that the writes queued
    meanwhile are taken as one group when it commits."""

    def __init__(self, store: SqliteStore) -> None:
        self._entered = threading.Event()
        self._open = threading.Event()
        self._store = store
        self.held = asyncio.ensure_future(store.writer.write(self._hold))

    def _hold(self, _: sqlite3.Connection) -> None:
        self._entered.set()
        self._open.wait(10)

    @classmethod
    async def closed(cls, store: SqliteStore) -> Gate:
        """A gate the writer is waiting at."""
        gate = cls(store)
        assert await asyncio.to_thread(gate._entered.wait, 10)
        return gate

    def open(self) -> None:
        self._open.set()

    async def group(self, *writes: Coroutine[Any, Any, Any]) -> list[Any]:
        """Queue `writes` behind the gate, open it, and answer their outcomes in order."""
        tasks = [asyncio.ensure_future(write) for write in writes]
        for _ in range(1000):  # until every task has queued its write (reads and parsing first)
            if self._store.stats().queued >= len(tasks) or any(task.done() for task in tasks):
                break
            await asyncio.sleep(0.01)
        self.open()
        await self.held
        return await asyncio.gather(*tasks, return_exceptions=True)


async def test_writes_queued_during_a_commit_share_the_next_one(
    store: SqliteStore, backend: InProcessBackend
) -> None:
    rid = await visitor_room(backend, "ann")
    before = store.stats()
    gate = await Gate.closed(store)
    results = await gate.group(
        *(backend.send_message(OutgoingMessage("ann", rid, f"m{n}")) for n in range(64))
    )
    after = store.stats()
    assert after.writes - before.writes == 65
    assert after.commits - before.commits == 2, "the 64 sends took more than one commit"
    history = await backend.message_history("ann", rid, 100)
    assert [message.msg for message in reversed(history)] == [m.msg for m in results]


async def test_a_write_that_breaks_its_rules_fails_alone(
    store: SqliteStore, backend: InProcessBackend
) -> None:
    ann, bob = await visitor_room(backend, "ann"), await visitor_room(backend, "bob")
    closed = await visitor_room(backend, "cid")
    await backend.send_message(OutgoingMessage("bob", bob, "taken", id="taken-id"))
    await backend.close_room("cid", closed)
    commits = store.stats().commits
    gate = await Gate.closed(store)
    first, duplicate, late, last = await gate.group(
        backend.send_message(OutgoingMessage("ann", ann, "first")),
        backend.send_message(OutgoingMessage("ann", ann, "dup", id="taken-id")),
        backend.send_message(OutgoingMessage("cid", closed, "too late")),
        backend.send_message(OutgoingMessage("ann", ann, "last")),
    )
    assert isinstance(first, Message) and isinstance(last, Message)
    assert isinstance(duplicate, OtherLivechatFailure)
    assert duplicate.upstream_error == "error-duplicate-message-id"
    assert isinstance(late, RoomClosed)
    assert store.stats().commits == commits + 2  # the gate's, then the four together
    history = await backend.message_history("ann", ann, 10)
    assert [message.msg for message in history] == ["last", "first"]
    stored = await backend.message("bob", bob, "taken-id")
    assert stored.msg == "taken"


async def test_ts_order_is_commit_order_within_a_room(
    store: SqliteStore, backend: InProcessBackend
) -> None:
    rid = await visitor_room(backend, "ann")
    long_text = "word " * 400  # parsed off the event loop: it finishes after shorter sends
    await asyncio.gather(
        *(
            backend.send_message(OutgoingMessage("ann", rid, long_text if n % 4 == 0 else f"{n}"))
            for n in range(40)
        )
    )
    history = list(reversed(await backend.message_history("ann", rid, 100)))
    assert len(history) == 40
    stamps = [message.ts for message in history]
    assert stamps == sorted(stamps)


async def test_edits_and_deletes_join_the_group_commit(
    store: SqliteStore, backend: InProcessBackend
) -> None:
    rid = await visitor_room(backend, "ann")
    kept = await backend.send_message(OutgoingMessage("ann", rid, "kept"))
    doomed = await backend.send_message(OutgoingMessage("ann", rid, "doomed"))
    heard: list[tuple[str, str]] = []
    store.on_commit(lambda kind, record: heard.append((kind, record["_id"])))
    commits = store.stats().commits
    gate = await Gate.closed(store)
    sent, edited, deleted = await gate.group(
        backend.send_message(OutgoingMessage("ann", rid, "new", id="new-id")),
        backend.update_message("ann", rid, kept.id, "kept, edited"),
        backend.delete_message("ann", rid, doomed.id),
    )
    assert store.stats().commits == commits + 2  # the gate's, then the three together
    assert isinstance(sent, Message) and isinstance(edited, Message)
    assert deleted.id == doomed.id
    assert sorted(heard) == sorted(
        [("message", "new-id"), ("message.updated", kept.id), ("message.deleted", doomed.id)]
    )
    history = await backend.message_history("ann", rid, 10)
    assert [message.msg for message in history] == ["new", "kept, edited"]


def fill(database: Path) -> int:
    """Pages in the file now, read from outside the server."""
    with sqlite3.connect(database) as connection:
        return int(connection.execute("PRAGMA page_count").fetchone()[0])


async def test_a_full_database_fails_the_group_with_a_code_and_recovers(
    tmp_path: Path, store: SqliteStore, backend: InProcessBackend
) -> None:
    rid = await visitor_room(backend, "ann")
    await store.limit_pages(fill(tmp_path / "store.db"))
    big = "x" * 4000  # each needs a page of its own: the capped file cannot take it
    gate = await Gate.closed(store)
    outcomes = await gate.group(
        *(backend.send_message(OutgoingMessage("ann", rid, big)) for _ in range(8))
    )
    assert all(isinstance(outcome, StorageFull) for outcome in outcomes), outcomes
    assert await backend.message_history("ann", rid, 10) == []  # reads still answer
    await store.limit_pages(1_000_000)  # space returns
    sent = await backend.send_message(OutgoingMessage("ann", rid, big))
    assert [message.id for message in await backend.message_history("ann", rid, 10)] == [sent.id]


async def test_a_database_that_cannot_be_written_answers_storage_unavailable(
    tmp_path: Path, store: SqliteStore, backend: InProcessBackend
) -> None:
    rid = await visitor_room(backend, "ann")
    # Another process (a backup, the sqlite3 shell) holds the write lock past the busy timeout.
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageUnavailable):
            await backend.send_message(OutgoingMessage("ann", rid, "hello"))
        assert await backend.message_history("ann", rid, 5) == []  # reads still answer
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (await backend.send_message(OutgoingMessage("ann", rid, "hello"))).msg == "hello"


async def test_reads_do_not_wait_for_the_writer(
    store: SqliteStore, backend: InProcessBackend
) -> None:
    rid = await visitor_room(backend, "ann")
    await backend.send_message(OutgoingMessage("ann", rid, "kept"))
    gate = await Gate.closed(store)
    try:
        history = await asyncio.wait_for(backend.message_history("ann", rid, 5), timeout=5)
        assert [message.msg for message in history] == ["kept"]
        assert not gate.held.done()
    finally:
        gate.open()
        await gate.held


async def test_commit_listeners_hear_writes_in_commit_order(
    store: SqliteStore, backend: InProcessBackend
) -> None:
    rid = await visitor_room(backend, "ann")
    heard: list[tuple[str, Any]] = []
    store.on_commit(lambda kind, record: heard.append((kind, record)))
    sent = await asyncio.gather(
        *(backend.send_message(OutgoingMessage("ann", rid, f"{n}")) for n in range(20))
    )
    await backend.close_room("ann", rid)
    assert [record["_id"] for kind, record in heard if kind == "message"] == [m.id for m in sent]
    kind, close_message = heard[-1]
    assert (kind, close_message["rid"], close_message["t"]) == (
        "room.closed",
        rid,
        "livechat-close",
    )


@pytest.fixture
def full_server(tmp_path: Path) -> Iterator[tuple[str, list[SqliteStore]]]:
    """The app on a real port whose store the test can cap."""
    stores: list[SqliteStore] = []
    settings = Settings(database=tmp_path / "served.db")

    async def factory(settings: Settings) -> LivechatBackend:
        store = await SqliteStore.open(settings.database)
        stores.append(store)
        return InProcessBackend(store, markdown_options=settings.markdown_options())

    with serving(create_app(settings, backend_factory=factory)) as url:
        yield url, stores


async def test_a_full_database_answers_coded_errors_over_http(
    tmp_path: Path, full_server: tuple[str, list[SqliteStore]]
) -> None:
    url, (store,) = full_server
    async with httpx.AsyncClient(base_url=url) as http:
        await http.post("/api/v1/livechat/visitor", json={"visitor": {"token": "ann"}})
        rid = (await http.get("/api/v1/livechat/room", params={"token": "ann"})).json()["room"][
            "_id"
        ]
        await store.limit_pages(fill(tmp_path / "served.db"))
        body = {"token": "ann", "rid": rid, "msg": "x" * 4000}
        rest = await http.post("/api/v1/livechat/message", json=body)
        assert rest.status_code == 503
        assert rest.json() == {
            "success": False,
            "error": "storage-full",
            "errorType": "STORAGE_FULL",
        }
        graphql = await http.post(
            "/graphql",
            json={
                "query": "mutation($input: SendLivechatMessageInput!) {"
                " sendLivechatMessage(input: $input) { __typename } }",
                "variables": {"input": body},
            },
        )
        assert graphql.status_code == 200
        assert graphql.json()["errors"][0]["extensions"]["code"] == "STORAGE_FULL"
        await store.limit_pages(1_000_000)
        again = await http.post("/api/v1/livechat/message", json=body)
        assert again.status_code == 200 and again.json()["success"] is True


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
        stored, created = await store.add_message(
            "t",
            "r",
            "m2",
            lambda _: {"_id": "m2", "rid": "r", "msg": "2", "ts": "2025-01-02T03:04:06.001Z"},
        )
        assert created and stored["ts"] == "2025-01-02T03:04:06.002Z"
    finally:
        await store.close()


async def test_each_commit_is_observed_with_its_group_size(tmp_path: Path) -> None:
    settings = Settings(database=tmp_path / "metered.db", metrics=True)
    with serving(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            await http.post("/api/v1/livechat/visitor", json={"visitor": {"token": "ann"}})
            room = await http.get("/api/v1/livechat/room", params={"token": "ann"})
            body = {"token": "ann", "rid": room.json()["room"]["_id"], "msg": "hi"}
            sends = await asyncio.gather(
                *(http.post("/api/v1/livechat/message", json=body) for _ in range(20))
            )
            assert all(send.status_code == 200 for send in sends)
            health = (await http.get("/healthz")).json()["store"]
            exposition = (await http.get("/metrics")).text
    found = {
        name: float(number)
        for name, number in (
            line.split(" ") for line in exposition.splitlines() if line.startswith("livechat")
        )
        if "{" not in name
    }
    assert found["livechat_graphql_store_commit_group_size_sum"] == health["writes"] == 22
    assert found["livechat_graphql_store_commit_group_size_count"] == health["commits"]
    assert found["livechat_graphql_store_commit_duration_seconds_count"] == health["commits"]
