"""The real server: `livechat-graphql serve` on a loopback port, driven over HTTP by httpx."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import operation
from tests.running import ServerProcess

WALKTHROUGH = "Hello **world** :smile: see https://rocket.chat"


@contextmanager
def running_server(database: Path) -> Iterator[str]:
    server = ServerProcess(database).start()
    try:
        yield server.url
    finally:
        server.stop()


def call(client: httpx.Client, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": operation(name), "variables": variables})
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def test_walkthrough_over_a_real_socket_survives_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "served.db"
    with running_server(database) as base_url, httpx.Client(base_url=base_url) as client:
        assert "graphiql" in client.get("/graphql", headers={"accept": "text/html"}).text.lower()
        visitor = call(
            client, "registerLivechatVisitor", {"input": {"token": "tok", "name": "Ann"}}
        )
        assert visitor["registerLivechatVisitor"]["visitor"]["username"] == "guest-1"
        room = call(client, "openLivechatRoom", {"input": {"token": "tok"}})["openLivechatRoom"]
        rid = room["room"]["id"]
        sent = call(
            client,
            "sendLivechatMessage",
            {"input": {"token": "tok", "rid": rid, "msg": WALKTHROUGH}},
        )["sendLivechatMessage"]
        assert sent["__typename"] == "SendLivechatMessageSuccess"
        assert sent["message"]["md"][0]["__typename"] == "Paragraph"
        assert sent["message"]["urls"] == [{"url": "https://rocket.chat", "meta": None}]

    with running_server(database) as base_url, httpx.Client(base_url=base_url) as client:
        history = call(client, "livechatMessages", {"token": "tok", "rid": rid})
        assert history["livechatMessages"]["messages"] == [sent["message"]]
        again = call(client, "openLivechatRoom", {"input": {"token": "tok"}})["openLivechatRoom"]
        assert (again["newRoom"], again["room"]["id"]) == (False, rid)
        closed = call(client, "closeLivechatRoom", {"input": {"token": "tok", "rid": rid}})
        assert closed["closeLivechatRoom"] == {"__typename": "CloseLivechatRoomSuccess", "rid": rid}
        refused = call(
            client, "sendLivechatMessage", {"input": {"token": "tok", "rid": rid, "msg": "late"}}
        )["sendLivechatMessage"]
        assert (refused["code"], refused["upstreamError"]) == ("ROOM_CLOSED", "room-closed")


def test_edit_delete_read_and_page_back_over_a_real_socket_survive_a_restart(
    tmp_path: Path,
) -> None:
    database = tmp_path / "served.db"
    with running_server(database) as base_url, httpx.Client(base_url=base_url) as client:
        call(client, "registerLivechatVisitor", {"input": {"token": "tok"}})
        rid = call(client, "openLivechatRoom", {"input": {"token": "tok"}})["openLivechatRoom"][
            "room"
        ]["id"]
        ids = [
            call(client, "sendLivechatMessage", {"input": {"token": "tok", "rid": rid, "msg": m}})[
                "sendLivechatMessage"
            ]["message"]["id"]
            for m in ("one", "two", "three")
        ]
        edited = call(
            client,
            "updateLivechatMessage",
            {"input": {"token": "tok", "rid": rid, "id": ids[0], "msg": "one, *edited*"}},
        )["updateLivechatMessage"]["message"]
        deleted = call(
            client, "deleteLivechatMessage", {"input": {"token": "tok", "rid": rid, "id": ids[1]}}
        )["deleteLivechatMessage"]
        assert (deleted["__typename"], deleted["id"]) == ("DeleteLivechatMessageSuccess", ids[1])

    with running_server(database) as base_url, httpx.Client(base_url=base_url) as client:
        read = call(client, "livechatMessage", {"token": "tok", "rid": rid, "id": ids[0]})
        assert read["livechatMessage"]["message"] == edited
        first = call(client, "livechatMessages", {"token": "tok", "rid": rid, "limit": 1})[
            "livechatMessages"
        ]
        assert ([m["msg"] for m in first["messages"]], first["hasMore"]) == (["three"], True)
        rest = call(
            client,
            "livechatMessages",
            {"token": "tok", "rid": rid, "limit": 1, "before": first["messages"][0]["ts"]},
        )["livechatMessages"]
        assert (rest["messages"], rest["hasMore"]) == ([edited], False)
