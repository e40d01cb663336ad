"""64 clients sending at once over real HTTP: no errors, nothing lost or doubled, and each room
keeps its order. The suite runs 25 sends per client; the full run is

    .venv/bin/pytest tests/test_load.py --load-sends 100 -s
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import operation
from tests.running import ServerProcess

CLIENTS = 64
SEND = operation("sendLivechatMessage")


async def client_run(url: str, index: int, sends: int) -> str:
    token = f"load-{index}"
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await http.post("/api/v1/livechat/visitor", json={"visitor": {"token": token}})
        rid = (await http.get("/api/v1/livechat/room", params={"token": token})).json()["room"][
            "_id"
        ]
        for n in range(sends):
            variables = {"input": {"token": token, "rid": rid, "msg": f"{index}:{n} **bold**"}}
            answer = await http.post("/graphql", json={"query": SEND, "variables": variables})
            assert answer.status_code == 200
            body = answer.json()
            assert "errors" not in body, body
            assert body["data"]["sendLivechatMessage"]["__typename"] == "SendLivechatMessageSuccess"
    return str(rid)


async def test_sixty_four_clients_at_once(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    sends: int = request.config.getoption("--load-sends")
    server = ServerProcess(tmp_path / "load.db").start()
    try:
        began = time.perf_counter()
        rooms = await asyncio.gather(*(client_run(server.url, i, sends) for i in range(CLIENTS)))
        took = time.perf_counter() - began
    finally:
        server.stop()
    with sqlite3.connect(tmp_path / "load.db") as connection:
        rows = connection.execute(
            "SELECT rid, json_extract(document, '$.msg') FROM messages ORDER BY seq"
        )
        by_room: dict[str, list[str]] = {}
        for rid, msg in rows:
            by_room.setdefault(rid, []).append(msg)
    assert sorted(by_room) == sorted(rooms)
    for index, rid in enumerate(rooms):
        assert by_room[rid] == [f"{index}:{n} **bold**" for n in range(sends)]
    total = CLIENTS * sends
    print(f"{CLIENTS} clients x {sends} sends = {total} in {took:.1f}s ({total / took:.0f}/s), "
          "0 errors, 0 lost, 0 duplicated, order kept in every room")  # fmt: skip
