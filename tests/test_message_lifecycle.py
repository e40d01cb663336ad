"""A message's life after the send: edit, delete, read one, page back. Through the GraphQL API,
on both backends (upstream forwarding to our Rocket.Chat routes over real HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.backends import inprocess_backend
from app.backends.base import LivechatBackend
from app.main import create_app
from app.settings import Settings
from tests.helpers import CountingIds, GraphQL
from tests.test_livechat_rules import assert_error, conversation

TOKEN = "visitor-token"


async def edit(api: GraphQL, rid: str, message_id: str, msg: str, token: str = TOKEN) -> Any:
    data = await api.run(
        "updateLivechatMessage",
        {"input": {"token": token, "rid": rid, "id": message_id, "msg": msg}},
    )
    return data["updateLivechatMessage"]


async def delete(api: GraphQL, rid: str, message_id: str, token: str = TOKEN) -> Any:
    data = await api.run(
        "deleteLivechatMessage", {"input": {"token": token, "rid": rid, "id": message_id}}
    )
    return data["deleteLivechatMessage"]


async def read(api: GraphQL, rid: str, message_id: str, token: str = TOKEN) -> Any:
    data = await api.run("livechatMessage", {"token": token, "rid": rid, "id": message_id})
    return data["livechatMessage"]


async def history(api: GraphQL, rid: str, token: str = TOKEN, **arguments: Any) -> Any:
    data = await api.run("livechatMessages", {"token": token, "rid": rid, **arguments})
    return data["livechatMessages"]


async def sent(api: GraphQL, rid: str, msg: str, token: str = TOKEN) -> dict[str, Any]:
    message: dict[str, Any] = (await api.send(token=token, rid=rid, msg=msg))["message"]
    return message


async def test_an_edit_recomputes_the_text_and_keeps_id_and_ts(api: GraphQL) -> None:
    rid = await conversation(api)
    original = await sent(api, rid, "Helo wrold")
    result = await edit(api, rid, original["id"], "Hello **world** https://rocket.chat")
    edited = result["message"]
    assert (edited["id"], edited["ts"], edited["rid"]) == (
        original["id"],
        original["ts"],
        rid,
    )
    assert edited["msg"] == "Hello **world** https://rocket.chat"
    assert [url["url"] for url in edited["urls"]] == ["https://rocket.chat"]
    assert original["urls"] == []
    assert "BOLD" in str(edited["mdJson"]) and "BOLD" not in str(original["mdJson"])
    assert original["editedAt"] is None and edited["editedAt"] is not None
    assert edited["editedAt"] == edited["updatedAt"] > original["updatedAt"]
    assert edited["editedBy"]["id"] == original["u"]["id"]
    assert edited["editedBy"]["username"] == original["u"]["username"]
    # What is read back afterwards is the edited message.
    assert (await read(api, rid, original["id"]))["message"] == edited
    assert (await history(api, rid))["messages"] == [edited]


async def test_only_the_visitors_own_message_can_be_edited_or_deleted(api: GraphQL) -> None:
    rid = await conversation(api)
    mine = await sent(api, rid, "mine")
    await api.visitor("intruder")
    intruder_rid = str((await api.room("intruder"))["room"]["id"])
    # The intruder names their own room: the message is found by id alone, then refused.
    for refused in (
        await edit(api, intruder_rid, mine["id"], "hijacked", token="intruder"),
        await delete(api, intruder_rid, mine["id"], token="intruder"),
    ):
        assert_error(refused, "NOT_ALLOWED", "error-action-not-allowed")
    # Another visitor's room is not theirs to name at all.
    assert_error(
        await edit(api, rid, mine["id"], "hijacked", token="intruder"),
        "INVALID_ROOM",
        "invalid-room",
    )
    assert (await read(api, rid, mine["id"]))["message"] == mine


async def test_unknown_ids_are_invalid_message(api: GraphQL) -> None:
    rid = await conversation(api)
    await sent(api, rid, "here")
    assert_error(await edit(api, rid, "noSuchMessage", "x"), "INVALID_MESSAGE", "invalid-message")
    assert_error(await delete(api, rid, "noSuchMessage"), "INVALID_MESSAGE", "invalid-message")
    assert_error(await read(api, rid, "noSuchMessage"), "INVALID_MESSAGE", "invalid-message")


async def test_checks_run_in_rocket_chats_order(api: GraphQL) -> None:
    """Token before room before message before ownership before the text."""
    rid = await conversation(api)
    mine = await sent(api, rid, "mine")
    assert_error(
        await edit(api, "noSuchRoom", "noSuchMessage", "", token="nobody"),
        "INVALID_TOKEN",
        "invalid-token",
    )
    assert_error(await edit(api, "noSuchRoom", "noSuchMessage", ""), "INVALID_ROOM", "invalid-room")
    assert_error(await edit(api, rid, "noSuchMessage", ""), "INVALID_MESSAGE", "invalid-message")
    assert_error(await edit(api, rid, mine["id"], "  "), "INVALID_PARAMS", "error-invalid-message")


async def test_a_bad_edit_changes_nothing(api: GraphQL) -> None:
    rid = await conversation(api)
    mine = await sent(api, rid, "mine")
    assert_error(await edit(api, rid, mine["id"], ""), "INVALID_PARAMS", "error-invalid-message")
    assert_error(
        await edit(api, rid, mine["id"], "x" * 5001),
        "MESSAGE_TOO_LONG",
        "message-length-exceeds-character-limit",
    )
    assert (await read(api, rid, mine["id"]))["message"] == mine


async def test_a_message_in_a_closed_room_can_still_be_edited_and_deleted(api: GraphQL) -> None:
    rid = await conversation(api)
    first, second = await sent(api, rid, "first"), await sent(api, rid, "second")
    await api.close(token=TOKEN, rid=rid)
    assert (await edit(api, rid, first["id"], "first, edited"))["message"]["msg"] == (
        "first, edited"
    )
    assert (await delete(api, rid, second["id"]))["id"] == second["id"]


async def test_a_deleted_message_is_gone(api: GraphQL) -> None:
    rid = await conversation(api)
    keep, drop = await sent(api, rid, "keep"), await sent(api, rid, "drop")
    deleted = await delete(api, rid, drop["id"])
    assert deleted["__typename"] == "DeleteLivechatMessageSuccess"
    assert deleted["id"] == drop["id"] and deleted["ts"] > drop["ts"]
    assert_error(await read(api, rid, drop["id"]), "INVALID_MESSAGE", "invalid-message")
    assert (await history(api, rid))["messages"] == [keep]
    assert_error(await delete(api, rid, drop["id"]), "INVALID_MESSAGE", "invalid-message")
    assert_error(await edit(api, rid, drop["id"], "back"), "INVALID_MESSAGE", "invalid-message")


async def test_reading_one_message_is_scoped_to_the_room(api: GraphQL) -> None:
    rid = await conversation(api)
    message = await sent(api, rid, "in the first room")
    await api.close(token=TOKEN, rid=rid)
    other_rid = str((await api.room(TOKEN))["room"]["id"])
    assert (await read(api, rid, message["id"]))["message"] == message
    assert_error(await read(api, other_rid, message["id"]), "INVALID_MESSAGE", "invalid-message")


async def test_closing_writes_the_close_message_into_history(api: GraphQL) -> None:
    rid = await conversation(api)
    await sent(api, rid, "bye")
    await api.close(token=TOKEN, rid=rid)
    newest, bye = (await history(api, rid))["messages"]
    assert (newest["t"], newest["msg"], bye["t"]) == ("livechat-close", "Closed by visitor", None)
    assert newest["u"]["id"] == bye["u"]["id"]
    assert newest["ts"] > bye["ts"]


async def test_paging_back_walks_every_message_once(api: GraphQL) -> None:
    rid = await conversation(api)
    texts = [f"message {number}" for number in range(7)]
    for text in texts:
        await sent(api, rid, text)
    seen: list[str] = []
    page = await history(api, rid, limit=3)
    pages = 1
    while page["hasMore"]:
        seen += [message["msg"] for message in page["messages"]]
        page = await history(api, rid, limit=3, before=page["messages"][-1]["ts"])
        pages += 1
    seen += [message["msg"] for message in page["messages"]]
    assert seen == texts[::-1]
    assert pages == 3
    exact = await history(api, rid, limit=7)
    assert (len(exact["messages"]), exact["hasMore"]) == (7, False)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"limit": 0}, "'limit'"),
        ({"limit": 10_000}, "'limit'"),
        ({"limit": -1}, "'limit'"),
        ({"before": "yesterday"}, "'before'"),
        ({"before": "2025-13-45T00:00:00.000Z"}, "'before'"),
    ],
)
async def test_bad_history_arguments_are_invalid_params(
    api: GraphQL, arguments: dict[str, Any], field: str
) -> None:
    rid = await conversation(api)
    refused = await history(api, rid, **arguments)
    assert_error(refused, "INVALID_PARAMS", "invalid-params")
    assert field in refused["reason"]


@pytest.mark.parametrize("bad_id", ["", "../room.close", "a/b", "a?b=c", "x" * 129])
async def test_ids_of_the_wrong_shape_are_invalid_params_and_change_nothing(
    api: GraphQL, bad_id: str
) -> None:
    rid = await conversation(api)
    mine = await sent(api, rid, "mine")
    for refused in (
        await edit(api, rid, bad_id, "changed"),
        await delete(api, rid, bad_id),
        await read(api, rid, bad_id),
    ):
        assert refused["code"] == "INVALID_PARAMS", refused
    refused_history = await history(api, bad_id)
    assert refused_history["code"] in {"INVALID_PARAMS", "INVALID_ROOM"}, refused_history
    assert (await history(api, rid))["messages"] == [mine]


class SameInstant:
    """A clock stuck on one millisecond: every message would have the same ts."""

    def __call__(self) -> datetime:
        return datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@pytest.fixture
async def stuck_clock_api(settings: Settings) -> AsyncIterator[GraphQL]:
    async def factory(settings: Settings) -> LivechatBackend:
        return await inprocess_backend(settings, clock=SameInstant(), new_id=CountingIds())

    app = create_app(settings, backend_factory=factory)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield GraphQL(client, settings.database)


async def test_messages_of_one_millisecond_still_get_strictly_increasing_ts(
    stuck_clock_api: GraphQL,
) -> None:
    api = stuck_clock_api
    rid = await conversation(api)
    for number in range(5):
        await sent(api, rid, f"message {number}")
    await api.close(token=TOKEN, rid=rid)
    everything = (await history(api, rid, limit=100))["messages"]
    stamps = [message["ts"] for message in everything]
    assert stamps == sorted(set(stamps), reverse=True)
    assert stamps[-1] == "2025-01-02T03:04:05.678Z"
    assert stamps[0] == "2025-01-02T03:04:05.683Z"
    walked: list[str] = []
    page = await history(api, rid, limit=2)
    walked += [message["id"] for message in page["messages"]]
    while page["hasMore"]:
        page = await history(api, rid, limit=2, before=page["messages"][-1]["ts"])
        walked += [message["id"] for message in page["messages"]]
    assert walked == [message["id"] for message in everything]
