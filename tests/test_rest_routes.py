"""Rocket.Chat's own REST routes on the in-process backend: its bodies and its error format."""

from __future__ import annotations

import httpx


async def visitor_and_room(client: httpx.AsyncClient, token: str = "rest-token") -> str:
    response = await client.post(
        "/api/v1/livechat/visitor", json={"visitor": {"token": token, "name": "Kim"}}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["visitor"]["username"] == "guest-1"
    room = (await client.get("/api/v1/livechat/room", params={"token": token})).json()
    assert room["success"] is True and room["newRoom"] is True
    assert room["room"]["v"]["token"] == token
    return str(room["room"]["_id"])


async def test_the_whole_conversation_in_rocket_chats_bodies(client: httpx.AsyncClient) -> None:
    rid = await visitor_and_room(client)
    sent = await client.post(
        "/api/v1/livechat/message",
        json={"token": "rest-token", "rid": rid, "msg": "Hello World!", "_id": "abcdje928390"},
    )
    assert sent.status_code == 200
    message = sent.json()["message"]
    assert set(message) >= {
        "_id",
        "rid",
        "msg",
        "token",
        "alias",
        "ts",
        "u",
        "_updatedAt",
        "urls",
        "mentions",
        "channels",
        "md",
    }
    assert message["_id"] == "abcdje928390"
    assert message["md"] == [
        {"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": "Hello World!"}]}
    ]
    fetched = await client.get(
        "/api/v1/livechat/message/abcdje928390", params={"token": "rest-token", "rid": rid}
    )
    assert fetched.json()["message"] == message
    history = await client.get(
        f"/api/v1/livechat/messages.history/{rid}", params={"token": "rest-token"}
    )
    assert history.json()["messages"] == [message]
    closed = await client.post(
        "/api/v1/livechat/room.close", json={"token": "rest-token", "rid": rid}
    )
    assert closed.json() == {"rid": rid, "comment": "Closed by visitor", "success": True}


async def test_refusals_use_rocket_chats_error_format(client: httpx.AsyncClient) -> None:
    rid = await visitor_and_room(client)
    missing = await client.post("/api/v1/livechat/message", json={"rid": rid, "msg": "x"})
    assert missing.status_code == 400
    assert missing.json() == {
        "success": False,
        "error": "must have required property 'token' [invalid-params]",
        "errorType": "invalid-params",
    }
    wrong_token = await client.post(
        "/api/v1/livechat/message", json={"token": "nope", "rid": rid, "msg": "x"}
    )
    assert (wrong_token.status_code, wrong_token.json()) == (
        400,
        {"success": False, "error": "invalid-token"},
    )
    unknown_message = await client.get(
        "/api/v1/livechat/message/none", params={"token": "rest-token", "rid": rid}
    )
    assert unknown_message.json() == {"success": False, "error": "invalid-message"}
    no_token = await client.get(f"/api/v1/livechat/messages.history/{rid}")
    assert no_token.json() == {"success": False, "error": "error-token-param-not-provided"}


async def test_bodies_that_are_not_json_objects_are_invalid_params(
    client: httpx.AsyncClient,
) -> None:
    for content in (b"not json", b"[1, 2]", b'{"visitor": "x"}'):
        response = await client.post(
            "/api/v1/livechat/visitor",
            content=content,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["errorType"] == "invalid-params"
    wrong_type = await client.post(
        "/api/v1/livechat/message", json={"token": 1, "rid": "r", "msg": "m"}
    )
    assert wrong_type.json()["error"] == "/token must be string [invalid-params]"


async def test_edit_delete_and_page_back_in_rocket_chats_bodies(client: httpx.AsyncClient) -> None:
    rid = await visitor_and_room(client)
    for number in range(3):
        await client.post(
            "/api/v1/livechat/message",
            json={"token": "rest-token", "rid": rid, "msg": f"m{number}", "_id": f"msg{number}"},
        )
    edited = await client.put(
        "/api/v1/livechat/message/msg0",
        json={"token": "rest-token", "rid": rid, "msg": "m0 *edited*"},
    )
    assert edited.status_code == 200
    message = edited.json()["message"]
    assert (message["_id"], message["msg"], edited.json()["success"]) == (
        "msg0",
        "m0 *edited*",
        True,
    )
    assert message["editedBy"] == {"_id": message["u"]["_id"], "username": "guest-1"}
    assert message["editedAt"] == message["_updatedAt"]
    deleted = await client.request(
        "DELETE", "/api/v1/livechat/message/msg1", json={"token": "rest-token", "rid": rid}
    )
    assert deleted.status_code == 200
    assert set(deleted.json()) == {"message", "success"}
    assert deleted.json()["message"]["_id"] == "msg1"
    history = await client.get(
        f"/api/v1/livechat/messages.history/{rid}", params={"token": "rest-token", "limit": "1"}
    )
    [newest] = history.json()["messages"]
    assert newest["_id"] == "msg2"
    older = await client.get(
        f"/api/v1/livechat/messages.history/{rid}",
        params={"token": "rest-token", "end": newest["ts"]},
    )
    assert [m["_id"] for m in older.json()["messages"]] == ["msg0"]
    assert older.json()["messages"][0] == message


async def test_edit_and_delete_refusals_use_rocket_chats_error_format(
    client: httpx.AsyncClient,
) -> None:
    rid = await visitor_and_room(client)
    await client.post(
        "/api/v1/livechat/message",
        json={"token": "rest-token", "rid": rid, "msg": "mine", "_id": "mine"},
    )
    await client.post("/api/v1/livechat/visitor", json={"visitor": {"token": "other"}})
    other_rid = (await client.get("/api/v1/livechat/room", params={"token": "other"})).json()[
        "room"
    ]["_id"]

    async def put(body: dict[str, object], message_id: str = "mine") -> httpx.Response:
        return await client.put(f"/api/v1/livechat/message/{message_id}", json=body)

    not_own = await put({"token": "other", "rid": other_rid, "msg": "x"})
    assert (not_own.status_code, not_own.json()) == (
        400,
        {"success": False, "error": "error-action-not-allowed"},
    )
    empty = await put({"token": "rest-token", "rid": rid, "msg": " "})
    assert empty.json() == {
        "success": False,
        "error": "Message cannot be empty [error-invalid-message]",
        "errorType": "error-invalid-message",
    }
    extra = await put({"token": "rest-token", "rid": rid, "msg": "x", "t": "rm"})
    assert extra.json()["errorType"] == "invalid-params"
    unknown = await put({"token": "rest-token", "rid": rid, "msg": "x"}, "none")
    assert unknown.json() == {"success": False, "error": "invalid-message"}
    not_own_delete = await client.request(
        "DELETE", "/api/v1/livechat/message/mine", json={"token": "other", "rid": other_rid}
    )
    assert not_own_delete.json() == {"success": False, "error": "error-action-not-allowed"}
    bad_end = await client.get(
        f"/api/v1/livechat/messages.history/{rid}", params={"token": "rest-token", "end": "soon"}
    )
    assert bad_end.json() == {
        "success": False,
        "error": "/end must be a date [invalid-params]",
        "errorType": "invalid-params",
    }
    still = await client.get(
        "/api/v1/livechat/message/mine", params={"token": "rest-token", "rid": rid}
    )
    assert (still.json()["message"]["msg"], "editedAt" in still.json()["message"]) == (
        "mine",
        False,
    )
