"""Rocket.Chat's livechat rules, through the GraphQL API on the in-process backend."""

from __future__ import annotations

from typing import Any

import pytest

from app.backends.inprocess.service import InProcessBackend
from tests.conftest import GraphQL


async def conversation(graphql: GraphQL, token: str = "visitor-token") -> str:
    await graphql.visitor(token, name="Ann")
    room = await graphql.room(token)
    return str(room["room"]["id"])


def assert_error(result: dict[str, Any], code: str, upstream_error: str) -> None:
    assert result["__typename"] == "LivechatError"
    assert (result["code"], result["upstreamError"]) == (code, upstream_error)
    assert result["reason"]


async def test_visitors_are_numbered_guests_and_keep_what_they_gave(graphql: GraphQL) -> None:
    first = await graphql.visitor("a", name="Ann", email="ann@example.com", phone="+1555")
    second = await graphql.visitor("b")
    assert first["visitor"]["username"] == "guest-1"
    assert second["visitor"]["username"] == "guest-2"
    assert first["visitor"] | {"id": None} == {
        "id": None,
        "token": "a",
        "username": "guest-1",
        "name": "Ann",
        "email": "ann@example.com",
        "phone": "+1555",
    }


async def test_registering_a_known_token_updates_that_visitor(graphql: GraphQL) -> None:
    first = await graphql.visitor("a", name="Ann")
    again = await graphql.visitor("a", name="Anna", email="anna@example.com")
    assert again["visitor"]["id"] == first["visitor"]["id"]
    assert again["visitor"]["username"] == "guest-1"
    assert (again["visitor"]["name"], again["visitor"]["email"]) == ("Anna", "anna@example.com")
    newcomer = await graphql.visitor("b")
    assert newcomer["visitor"]["username"] == "guest-2"


async def test_opening_a_room_twice_returns_the_open_room(graphql: GraphQL) -> None:
    await graphql.visitor()
    first = await graphql.room()
    second = await graphql.room()
    assert (first["newRoom"], second["newRoom"]) == (True, False)
    assert first["room"]["id"] == second["room"]["id"]
    assert first["room"]["open"] is True
    by_id = await graphql.room(rid=first["room"]["id"])
    assert (by_id["newRoom"], by_id["room"]["id"]) == (False, first["room"]["id"])


async def test_a_closed_room_is_replaced_by_a_new_one(graphql: GraphQL) -> None:
    rid = await conversation(graphql)
    assert (await graphql.close(token="visitor-token", rid=rid)) == {
        "__typename": "CloseLivechatRoomSuccess",
        "rid": rid,
    }
    reopened = await graphql.room()
    assert reopened["newRoom"] is True
    assert reopened["room"]["id"] != rid


async def test_room_errors(graphql: GraphQL) -> None:
    assert_error(await graphql.room("nobody"), "INVALID_TOKEN", "invalid-token")
    await graphql.visitor()
    assert_error(await graphql.room(rid="not-a-room"), "INVALID_ROOM", "invalid-room")
    assert_error(await graphql.room(""), "INVALID_PARAMS", "invalid-params")


async def test_send_stores_rocket_chats_message_shape(graphql: GraphQL) -> None:
    rid = await conversation(graphql)
    text = "Hello **world** :smile: see https://rocket.chat and http://example.com/a?b=1"
    result = await graphql.send(token="visitor-token", rid=rid, msg=text)
    assert result["__typename"] == "SendLivechatMessageSuccess"
    message = result["message"]
    assert message["msg"] == text
    assert message["rid"] == rid
    assert (message["token"], message["alias"]) == ("visitor-token", "Ann")
    assert message["u"]["username"] == "guest-1"
    assert message["u"]["name"] == "Ann"
    assert [url["url"] for url in message["urls"]] == [
        "https://rocket.chat",
        "http://example.com/a?b=1",
    ]
    assert (message["mentions"], message["channels"]) == ([], [])
    assert message["ts"].endswith("Z") and len(message["ts"]) == 24
    assert message["mdJson"][0]["type"] == "PARAGRAPH"


@pytest.mark.parametrize(
    ("fields", "code", "upstream_error"),
    [
        ({"token": "", "msg": "hi"}, "INVALID_PARAMS", "invalid-params"),
        ({"token": "visitor-token", "msg": ""}, "INVALID_PARAMS", "invalid-params"),
        ({"token": "stranger", "msg": "hi"}, "INVALID_TOKEN", "invalid-token"),
        (
            {"token": "visitor-token", "msg": "x" * 5001},
            "MESSAGE_TOO_LONG",
            "message-length-exceeds-character-limit",
        ),
    ],
    ids=["empty-token", "empty-msg", "unknown-token", "too-long"],
)
async def test_send_refusals(
    graphql: GraphQL,
    backend: InProcessBackend,
    fields: dict[str, str],
    code: str,
    upstream_error: str,
) -> None:
    rid = await conversation(graphql)
    await graphql.visitor("stranger-with-room")
    result = await graphql.send(rid=rid, **fields)
    assert_error(result, code, upstream_error)
    assert await backend._store.count_messages() == 0


async def test_send_checks_in_rocket_chats_order(
    graphql: GraphQL, backend: InProcessBackend
) -> None:
    rid = await conversation(graphql)
    await graphql.visitor("other")
    other_rid = (await graphql.room("other"))["room"]["id"]
    # Someone else's room is invalid-room even when the text is also too long.
    too_long = "x" * 5001
    assert_error(
        await graphql.send(token="visitor-token", rid=other_rid, msg=too_long),
        "INVALID_ROOM",
        "invalid-room",
    )
    assert_error(
        await graphql.send(token="visitor-token", rid="no-such-room", msg="hi"),
        "INVALID_ROOM",
        "invalid-room",
    )
    await graphql.close(token="visitor-token", rid=rid)
    # A closed room is room-closed before the length is looked at.
    assert_error(
        await graphql.send(token="visitor-token", rid=rid, msg=too_long),
        "ROOM_CLOSED",
        "room-closed",
    )
    assert await backend._store.count_messages() == 0


async def test_the_limit_counts_utf16_units_like_rocket_chat(graphql: GraphQL) -> None:
    rid = await conversation(graphql)
    exactly = "😀" * 2500  # 5000 UTF-16 units
    assert (await graphql.send(token="visitor-token", rid=rid, msg=exactly))["__typename"] == (
        "SendLivechatMessageSuccess"
    )
    assert_error(
        await graphql.send(token="visitor-token", rid=rid, msg=exactly + "a"),
        "MESSAGE_TOO_LONG",
        "message-length-exceeds-character-limit",
    )


async def test_a_resent_id_answers_the_stored_message(
    graphql: GraphQL, backend: InProcessBackend
) -> None:
    rid = await conversation(graphql)
    first = await graphql.send(token="visitor-token", rid=rid, msg="once", id="client-id-1")
    again = await graphql.send(token="visitor-token", rid=rid, msg="once", id="client-id-1")
    assert first["message"]["id"] == "client-id-1"
    assert again == first
    assert await backend._store.count_messages() == 1


async def test_a_retry_after_closing_still_answers_the_stored_message(graphql: GraphQL) -> None:
    rid = await conversation(graphql)
    first = await graphql.send(token="visitor-token", rid=rid, msg="before", id="late-retry")
    await graphql.close(token="visitor-token", rid=rid)
    assert (
        await graphql.send(token="visitor-token", rid=rid, msg="before", id="late-retry") == first
    )


async def test_another_visitor_cannot_take_or_read_an_id(
    graphql: GraphQL, backend: InProcessBackend
) -> None:
    rid = await conversation(graphql)
    await graphql.send(token="visitor-token", rid=rid, msg="mine", id="shared-id")
    await graphql.visitor("intruder")
    intruder_rid = (await graphql.room("intruder"))["room"]["id"]
    result = await graphql.send(token="intruder", rid=intruder_rid, msg="theirs", id="shared-id")
    assert_error(result, "OTHER", "error-duplicate-message-id")
    assert await backend._store.count_messages() == 1


async def test_close_errors(graphql: GraphQL) -> None:
    rid = await conversation(graphql)
    assert_error(await graphql.close(token="nobody", rid=rid), "INVALID_TOKEN", "invalid-token")
    assert_error(
        await graphql.close(token="visitor-token", rid="x"), "INVALID_ROOM", "invalid-room"
    )
    await graphql.close(token="visitor-token", rid=rid)
    assert_error(await graphql.close(token="visitor-token", rid=rid), "ROOM_CLOSED", "room-closed")


async def test_history_lists_newest_first(graphql: GraphQL) -> None:
    rid = await conversation(graphql)
    for text in ("one", "two", "three"):
        await graphql.send(token="visitor-token", rid=rid, msg=text)
    data = await graphql.run("livechatMessages", {"token": "visitor-token", "rid": rid, "limit": 2})
    assert [m["msg"] for m in data["livechatMessages"]["messages"]] == ["three", "two"]
    refused = await graphql.run("livechatMessages", {"token": "nobody", "rid": rid})
    assert_error(refused["livechatMessages"], "INVALID_TOKEN", "invalid-token")


async def test_a_missing_required_argument_is_a_graphql_validation_error(graphql: GraphQL) -> None:
    body = await graphql.raw(
        'mutation { sendLivechatMessage(input: {rid: "r", msg: "m"}) { __typename } }'
    )
    assert body["data"] is None
    assert "token" in body["errors"][0]["message"]
