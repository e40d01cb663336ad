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
                run, index, n = message_id.split("-")
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
