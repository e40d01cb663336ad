"""Rocket.Chat's livechat rules, through the GraphQL API, on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import GraphQL


async def conversation(api: GraphQL, token: str = "visitor-token") -> str:
    await api.visitor(token, name="Ann")
    room = await api.room(token)
    return str(room["room"]["id"])


def assert_error(result: dict[str, Any], code: str, upstream_error: str) -> None:
    assert result["__typename"] == "LivechatError"
    assert (result["code"], result["upstreamError"]) == (code, upstream_error)
    assert result["reason"]


async def test_visitors_are_numbered_guests_and_keep_what_they_gave(api: GraphQL) -> None:
    first = await api.visitor("a", name="Ann", email="ann@example.com", phone="+1555")
    second = await api.visitor("b")
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


async def test_registering_a_known_token_updates_that_visitor(api: GraphQL) -> None:
    first = await api.visitor("a", name="Ann")
    again = await api.visitor("a", name="Anna", email="anna@example.com")
    assert again["visitor"]["id"] == first["visitor"]["id"]
    assert again["visitor"]["username"] == "guest-1"
    assert (again["visitor"]["name"], again["visitor"]["email"]) == ("Anna", "anna@example.com")
    newcomer = await api.visitor("b")
    assert newcomer["visitor"]["username"] == "guest-2"


async def test_opening_a_room_twice_returns_the_open_room(api: GraphQL) -> None:
    await api.visitor()
    first = await api.room()
    second = await api.room()
    assert (first["newRoom"], second["newRoom"]) == (True, False)
    assert first["room"]["id"] == second["room"]["id"]
    assert first["room"]["open"] is True
    by_id = await api.room(rid=first["room"]["id"])
    assert (by_id["newRoom"], by_id["room"]["id"]) == (False, first["room"]["id"])


async def test_a_closed_room_is_replaced_by_a_new_one(api: GraphQL) -> None:
    rid = await conversation(api)
    assert (await api.close(token="visitor-token", rid=rid)) == {
        "__typename": "CloseLivechatRoomSuccess",
        "rid": rid,
    }
    reopened = await api.room()
    assert reopened["newRoom"] is True
    assert reopened["room"]["id"] != rid


async def test_room_errors(api: GraphQL) -> None:
    assert_error(await api.room("nobody"), "INVALID_TOKEN", "invalid-token")
    await api.visitor()
    assert_error(await api.room(rid="not-a-room"), "INVALID_ROOM", "invalid-room")
    assert_error(await api.room(""), "INVALID_PARAMS", "invalid-params")


async def test_send_stores_rocket_chats_message_shape(api: GraphQL) -> None:
    rid = await conversation(api)
    text = "Hello **world** :smile: see https://rocket.chat and http://example.com/a?b=1"
    result = await api.send(token="visitor-token", rid=rid, msg=text)
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
    api: GraphQL,
    fields: dict[str, str],
    code: str,
    upstream_error: str,
) -> None:
    rid = await conversation(api)
    await api.visitor("stranger-with-room")
    result = await api.send(rid=rid, **fields)
    assert_error(result, code, upstream_error)
    assert api.stored_messages() == 0


async def test_send_checks_in_rocket_chats_order(api: GraphQL) -> None:
    rid = await conversation(api)
    await api.visitor("other")
    other_rid = (await api.room("other"))["room"]["id"]
    # Someone else's room is invalid-room even when the text is also too long.
    too_long = "x" * 5001
    assert_error(
        await api.send(token="visitor-token", rid=other_rid, msg=too_long),
        "INVALID_ROOM",
        "invalid-room",
    )
    assert_error(
        await api.send(token="visitor-token", rid="no-such-room", msg="hi"),
        "INVALID_ROOM",
        "invalid-room",
    )
    await api.close(token="visitor-token", rid=rid)
    # A closed room is room-closed before the length is looked at.
    assert_error(
        await api.send(token="visitor-token", rid=rid, msg=too_long),
        "ROOM_CLOSED",
        "room-closed",
    )
    assert api.stored_messages() == 1  # the close message alone: no send was stored


async def test_the_limit_counts_utf16_units_like_rocket_chat(api: GraphQL) -> None:
    rid = await conversation(api)
    exactly = "😀" * 2500  # 5000 UTF-16 units
    assert (await api.send(token="visitor-token", rid=rid, msg=exactly))["__typename"] == (
        "SendLivechatMessageSuccess"
    )
    assert_error(
        await api.send(token="visitor-token", rid=rid, msg=exactly + "a"),
        "MESSAGE_TOO_LONG",
        "message-length-exceeds-character-limit",
    )


async def test_a_resent_id_answers_the_stored_message(api: GraphQL) -> None:
    rid = await conversation(api)
    first = await api.send(token="visitor-token", rid=rid, msg="once", id="client-id-1")
    again = await api.send(token="visitor-token", rid=rid, msg="once", id="client-id-1")
    assert first["message"]["id"] == "client-id-1"
    assert again == first
    assert api.stored_messages() == 1


async def test_a_retry_after_closing_still_answers_the_stored_message(api: GraphQL) -> None:
    rid = await conversation(api)
    first = await api.send(token="visitor-token", rid=rid, msg="before", id="late-retry")
    await api.close(token="visitor-token", rid=rid)
    assert await api.send(token="visitor-token", rid=rid, msg="before", id="late-retry") == first


async def test_another_visitor_cannot_take_or_read_an_id(api: GraphQL) -> None:
    rid = await conversation(api)
    await api.send(token="visitor-token", rid=rid, msg="mine", id="shared-id")
    await api.visitor("intruder")
    intruder_rid = (await api.room("intruder"))["room"]["id"]
    result = await api.send(token="intruder", rid=intruder_rid, msg="theirs", id="shared-id")
    assert_error(result, "OTHER", "error-duplicate-message-id")
    assert api.stored_messages() == 1


async def test_close_errors(api: GraphQL) -> None:
    rid = await conversation(api)
    assert_error(await api.close(token="nobody", rid=rid), "INVALID_TOKEN", "invalid-token")
    assert_error(await api.close(token="visitor-token", rid="x"), "INVALID_ROOM", "invalid-room")
    await api.close(token="visitor-token", rid=rid)
    assert_error(await api.close(token="visitor-token", rid=rid), "ROOM_CLOSED", "room-closed")


async def test_history_lists_newest_first(api: GraphQL) -> None:
    rid = await conversation(api)
    for text in ("one", "two", "three"):
        await api.send(token="visitor-token", rid=rid, msg=text)
    data = await api.run("livechatMessages", {"token": "visitor-token", "rid": rid, "limit": 2})
    assert [m["msg"] for m in data["livechatMessages"]["messages"]] == ["three", "two"]
    refused = await api.run("livechatMessages", {"token": "nobody", "rid": rid})
    assert_error(refused["livechatMessages"], "INVALID_TOKEN", "invalid-token")


async def test_a_missing_required_argument_is_a_graphql_validation_error(api: GraphQL) -> None:
    body = await api.raw(
        'mutation { sendLivechatMessage(input: {rid: "r", msg: "m"}) { __typename } }'
    )
    assert body["data"] is None
    assert "token" in body["errors"][0]["message"]
