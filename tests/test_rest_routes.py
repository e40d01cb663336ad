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
