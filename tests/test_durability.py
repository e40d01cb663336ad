"""Acknowledged sends survive SIGKILL: after a restart each is stored, exactly once."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx

from tests.running import ServerProcess

KILLS = 3
CLIENTS = 16


async def hammer(
    url: str, rooms: list[tuple[str, str]], run: int, acked: set[str], tried: set[str]
) -> None:
    """Send until the server dies; remember which ids it acknowledged."""

    async def client(index: int) -> None:
        token, rid = rooms[index]
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            for n in range(100_000):
                message_id = f"k{run}-c{index}-n{n}"
                tried.add(message_id)
                try:
                    answer = await http.post(
                        "/api/v1/livechat/message",
                        json={"token": token, "rid": rid, "msg": f"{n}", "_id": message_id},
                    )
                except httpx.TransportError:
                    return
                if answer.status_code == 200 and answer.json()["message"]["_id"] == message_id:
                    acked.add(message_id)

    await asyncio.gather(*(client(index) for index in range(CLIENTS)))


async def open_rooms(url: str) -> list[tuple[str, str]]:
    rooms = []
    async with httpx.AsyncClient(base_url=url) as http:
        for index in range(CLIENTS):
            token = f"durable-{index}"
            await http.post("/api/v1/livechat/visitor", json={"visitor": {"token": token}})
            room = (await http.get("/api/v1/livechat/room", params={"token": token})).json()
            rooms.append((token, room["room"]["_id"]))
    return rooms


def stored_ids(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT id FROM messages")]


async def test_acknowledged_sends_survive_sigkill(tmp_path: Path) -> None:
    database = tmp_path / "durable.db"
    server = ServerProcess(database).start()
    rooms = await open_rooms(server.url)
    acked: set[str] = set()
    tried: set[str] = set()
    try:
        for run in range(KILLS):
            load = asyncio.create_task(hammer(server.url, rooms, run, acked, tried))
            await asyncio.sleep(1.0)
            await asyncio.to_thread(server.kill)
            await load
            server = ServerProcess(database).start()
        ids = stored_ids(database)
        assert len(ids) == len(set(ids)), "a message is stored twice"
        missing = acked - set(ids)
        assert not missing, f"{len(missing)} acknowledged sends were lost"
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
        print(f"kills {KILLS}, acknowledged {len(acked)}, stored {len(ids)}, lost 0, duplicates 0")
    finally:
        server.stop()
