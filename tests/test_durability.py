"""Acknowledged sends survive SIGKILL: after a restart each is stored, exactly once.

With 64 senders the store always has a group commit in flight when the process dies: the kill
lands mid-group, and every send acknowledged before it must still be there."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.running import ServerProcess

KILLS = 3
CLIENTS = 16  # senders in the edit and delete case


async def post_json(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """One HTTP/1.1 POST on a kept-alive connection. A bare client, so that 64 senders keep the
    server busy (a full-featured client spends more time per request than the server does)."""
    payload = json.dumps(body).encode()
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in head if line.lower().startswith("content-length:")
    )
    answer: dict[str, Any] = json.loads(await reader.readexactly(length))
    return int(head[0].split()[1]), answer


async def hammer(
    url: str, rooms: list[tuple[str, str]], run: int, acked: set[str], tried: set[str]
) -> None:
    """Send until the server dies, one sender per room on its own connection; remember which
    ids the server acknowledged."""
    host, port = url.removeprefix("http://").split(":")

    async def client(index: int) -> None:
        token, rid = rooms[index]
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for n in range(100_000):
                message_id = f"k{run}-c{index}-n{n}"
                tried.add(message_id)
                body = {"token": token, "rid": rid, "msg": f"{n}", "_id": message_id}
                try:
                    status, answer = await post_json(
                        reader, writer, "/api/v1/livechat/message", body
                    )
                except (OSError, asyncio.IncompleteReadError):
                    return
                if status == 200 and answer["message"]["_id"] == message_id:
                    acked.add(message_id)
        finally:
            writer.close()

    await asyncio.gather(*(client(index) for index in range(len(rooms))))


async def open_rooms(url: str, clients: int) -> list[tuple[str, str]]:
    rooms = []
    async with httpx.AsyncClient(base_url=url) as http:
        for index in range(clients):
            token = f"durable-{index}"
            await http.post("/api/v1/livechat/visitor", json={"visitor": {"token": token}})
            room = (await http.get("/api/v1/livechat/room", params={"token": token})).json()
            rooms.append((token, room["room"]["_id"]))
    return rooms


def stored_ids(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT id FROM messages")]


def group_figures(url: str) -> tuple[int, int]:
    """(commits, writes) of the store so far, from /healthz."""
    store = httpx.get(f"{url}/healthz").json()["store"]
    return store["commits"], store["writes"]


@pytest.mark.parametrize("clients", [16, 64])
async def test_acknowledged_sends_survive_sigkill(tmp_path: Path, clients: int) -> None:
    database = tmp_path / "durable.db"
    server = ServerProcess(database).start()
    rooms = await open_rooms(server.url, clients)
    acked: set[str] = set()
    tried: set[str] = set()
    commits = writes = 0
    try:
        for run in range(KILLS):
            at_start = await asyncio.to_thread(group_figures, server.url)
            load = asyncio.create_task(hammer(server.url, rooms, run, acked, tried))
            await asyncio.sleep(1.5)
            before_kill = await asyncio.to_thread(group_figures, server.url)
            commits += before_kill[0] - at_start[0]
            writes += before_kill[1] - at_start[1]
            await asyncio.to_thread(server.kill)
            await load
            server = ServerProcess(database).start()
        ids = stored_ids(database)
        assert len(ids) == len(set(ids)), "a message is stored twice"
        missing = acked - set(ids)
        assert not missing, f"{len(missing)} acknowledged sends were lost"
        in_flight = tried - acked
        assert in_flight, "no send was in flight at any kill"
        committed_unacknowledged = len(in_flight & set(ids))
        # Clients retry what they never heard back about: still nothing twice.
        async with httpx.AsyncClient(base_url=server.url) as http:
            for message_id in sorted(tried - acked):
                _, index, n = message_id.split("-")
                token, rid = rooms[int(index[1:])]
                retried = await http.post(
                    "/api/v1/livechat/message",
                    json={"token": token, "rid": rid, "msg": n[1:], "_id": message_id},
                )
                assert retried.json()["message"]["_id"] == message_id
        ids = stored_ids(database)
        assert sorted(ids) == sorted(tried)
        print(
            f"senders {clients}, kills {KILLS}, acknowledged {len(acked)}, in flight at the kills"
            f" {len(in_flight)} (of which committed before the kill {committed_unacknowledged}),"
            f" lost 0, duplicates 0, mean group before the kills {writes / max(commits, 1):.1f}"
        )
    finally:
        server.stop()


async def test_acknowledged_edits_and_deletes_survive_sigkill(tmp_path: Path) -> None:
    """Each client sends, edits and deletes in turn until the server is killed; after the
    restart every acknowledged edit and delete is there, and each room's ts still increase."""
    database = tmp_path / "lifecycle.db"
    server = ServerProcess(database).start()
    rooms = await open_rooms(server.url, CLIENTS)
    edited: set[str] = set()
    deleted: set[str] = set()
    deleting: set[str] = set()  # deletes sent, acknowledged or not

    async def client(index: int) -> None:
        token, rid = rooms[index]
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
            try:
                for n in range(100_000):
                    message_id = f"c{index}-n{n}"
                    body = {"token": token, "rid": rid}
                    sent = await http.post(
                        "/api/v1/livechat/message", json={**body, "msg": "draft", "_id": message_id}
                    )
                    if sent.status_code != 200:
                        return
                    path = f"/api/v1/livechat/message/{message_id}"
                    if (await http.put(path, json={**body, "msg": "final"})).status_code == 200:
                        edited.add(message_id)
                    if n % 2:
                        deleting.add(message_id)
                        if (await http.request("DELETE", path, json=body)).status_code == 200:
                            deleted.add(message_id)
            except httpx.TransportError:
                return

    try:
        load = asyncio.gather(*(client(index) for index in range(CLIENTS)))
        # Kill mid-flight, once there is something of each kind to lose.
        for _ in range(300):
            await asyncio.sleep(0.05)
            if len(deleted) >= CLIENTS:
                break
        await asyncio.to_thread(server.kill)
        await load
        server = ServerProcess(database).start()
        with sqlite3.connect(database) as connection:
            rows = connection.execute("SELECT id, rid, ts, document FROM messages").fetchall()
        texts = {row[0]: json.loads(row[3])["msg"] for row in rows}
        assert edited and deleted
        assert not deleted & set(texts), "an acknowledged delete was lost"
        assert all(texts[message_id] == "final" for message_id in edited - deleting)
        # A delete in flight at the kill may have committed without its answer getting out.
        assert all(texts.get(message_id, "final") == "final" for message_id in edited & deleting)
        by_room: dict[str, list[int]] = {}
        for _, rid, ts, _ in sorted(rows, key=lambda row: row[2]):
            by_room.setdefault(rid, []).append(ts)
        assert all(len(set(stamps)) == len(stamps) for stamps in by_room.values())
        print(f"edits {len(edited)}, deletes {len(deleted)} acknowledged; lost 0")
    finally:
        server.stop()
