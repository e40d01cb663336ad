"""Acknowledged sends survive SIGKILL: after a restart each is stored, exactly once."""

from __future__ import annotations

import asyncio
import json
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


async def test_acknowledged_edits_and_deletes_survive_sigkill(tmp_path: Path) -> None:
    """Each client sends, edits and deletes in turn until the server is killed; after the
    restart every acknowledged edit and delete is there, and each room's ts still increase."""
    database = tmp_path / "lifecycle.db"
    server = ServerProcess(database).start()
    rooms = await open_rooms(server.url)
    edited: set[str] = set()
    deleted: set[str] = set()

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
                    if n % 2 and (await http.request("DELETE", path, json=body)).status_code == 200:
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
        assert all(texts[message_id] == "final" for message_id in edited - deleted)
        by_room: dict[str, list[int]] = {}
        for _, rid, ts, _ in sorted(rows, key=lambda row: row[2]):
            by_room.setdefault(rid, []).append(ts)
        assert all(len(set(stamps)) == len(stamps) for stamps in by_room.values())
        print(f"edits {len(edited)}, deletes {len(deleted)} acknowledged; lost 0")
    finally:
        server.stop()
