"""Every operation in queries/ run against the app on both backends, answers snapshotted.

The clock and ids are injected, so the snapshots are stable. A new file in queries/ fails here
until it has a scenario: what users copy is always exercised.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from PIL import Image
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.amber import AmberSnapshotExtension
from syrupy.location import PyTestLocation
from syrupy.types import SnapshotIndex

from tests.helpers import QUERIES, GraphQL, operation

WALKTHROUGH = "Hello **world** :smile: see https://rocket.chat"

Scenario = Callable[[GraphQL], Awaitable[dict[str, Any]]]


async def _room(graphql: GraphQL) -> str:
    await graphql.visitor("snapshot-token", name="Baek", email="baek@example.com")
    return str((await graphql.room("snapshot-token"))["room"]["id"])


async def register(graphql: GraphQL) -> dict[str, Any]:
    return await graphql.run(
        "registerLivechatVisitor",
        {"input": {"token": "snapshot-token", "name": "Baek", "phone": "+5511999999999"}},
    )


async def open_room(graphql: GraphQL) -> dict[str, Any]:
    await graphql.visitor("snapshot-token", name="Baek")
    return await graphql.run("openLivechatRoom", {"input": {"token": "snapshot-token"}})


async def send(graphql: GraphQL) -> dict[str, Any]:
    rid = await _room(graphql)
    return await graphql.run(
        "sendLivechatMessage",
        {"input": {"token": "snapshot-token", "rid": rid, "msg": WALKTHROUGH}},
    )


async def close(graphql: GraphQL) -> dict[str, Any]:
    rid = await _room(graphql)
    return await graphql.run(
        "closeLivechatRoom", {"input": {"token": "snapshot-token", "rid": rid}}
    )


async def history(graphql: GraphQL) -> dict[str, Any]:
    rid = await _room(graphql)
    for text in ("first", "> quoted\n- item *one*\n- item _two_", "`code` and @ann in #general"):
        await graphql.send(token="snapshot-token", rid=rid, msg=text)
    return await graphql.run("livechatMessages", {"token": "snapshot-token", "rid": rid})


async def read_one(graphql: GraphQL) -> dict[str, Any]:
    rid = await _room(graphql)
    sent = await graphql.send(token="snapshot-token", rid=rid, msg=WALKTHROUGH)
    return await graphql.run(
        "livechatMessage", {"token": "snapshot-token", "rid": rid, "id": sent["message"]["id"]}
    )


async def edit(graphql: GraphQL) -> dict[str, Any]:
    rid = await _room(graphql)
    sent = await graphql.send(token="snapshot-token", rid=rid, msg="Helo wrold")
    return await graphql.run(
        "updateLivechatMessage",
        {
            "input": {
                "token": "snapshot-token",
                "rid": rid,
                "id": sent["message"]["id"],
                "msg": WALKTHROUGH,
            }
        },
    )


async def delete(graphql: GraphQL) -> dict[str, Any]:
    rid = await _room(graphql)
    sent = await graphql.send(token="snapshot-token", rid=rid, msg="oops")
    return await graphql.run(
        "deleteLivechatMessage",
        {"input": {"token": "snapshot-token", "rid": rid, "id": sent["message"]["id"]}},
    )


async def page_back(graphql: GraphQL) -> dict[str, Any]:
    """A closed room's history, second page: older than the first page's last message."""
    rid = await _room(graphql)
    for text in ("one", "two", "three"):
        await graphql.send(token="snapshot-token", rid=rid, msg=text)
    await graphql.close(token="snapshot-token", rid=rid)
    variables = {"token": "snapshot-token", "rid": rid, "limit": 2}
    first = (await graphql.run("livechatMessages", variables))["livechatMessages"]
    second = await graphql.run(
        "livechatMessages", {**variables, "before": first["messages"][-1]["ts"]}
    )
    return {"first": first, "second": second["livechatMessages"]}


async def room_events_of_another_visitor(graphql: GraphQL) -> dict[str, Any]:
    """The subscription refused (another visitor's room): one error event, then the stream
    ends. Over Apollo's multipart HTTP subscriptions, whose answer ends with the stream; the
    events of a visitor's own room are tested over WebSockets in test_subscriptions.py."""
    await _room(graphql)
    await graphql.visitor("stranger-token", name="Stranger")
    stranger = str((await graphql.room("stranger-token"))["room"]["id"])
    answer = await graphql.client.post(
        "/graphql",
        json={
            "query": operation("livechatRoomEvents"),
            "variables": {"token": "snapshot-token", "rid": stranger},
        },
        headers={"Accept": "multipart/mixed;subscriptionSpec=1.0, application/json"},
    )
    assert answer.status_code == 200, answer.text
    parts = [part.partition("\r\n\r\n")[2].strip() for part in answer.text.split("--graphql")]
    # Empty objects are the transport's heartbeats.
    events = [orjson.loads(part)["payload"] for part in parts if part not in ("", "{}", "--")]
    return {"events": events}


# ---- before and around the chat ----


async def config(graphql: GraphQL) -> dict[str, Any]:
    """A registered visitor of the Sales department (named, not by id) with an open room."""
    await graphql.visitor("snapshot-token", name="Baek", department="Sales")
    await graphql.room("snapshot-token")
    return await graphql.run("livechatConfig", {"token": "snapshot-token"})


async def config_unknown_token(graphql: GraphQL) -> dict[str, Any]:
    """What the widget's first call answers before any registration."""
    return await graphql.run("livechatConfig", {"token": "nobody-yet"})


async def read_visitor(graphql: GraphQL) -> dict[str, Any]:
    await graphql.visitor("snapshot-token", name="Baek", email=" Baek@Example.COM ")
    return await graphql.run("livechatVisitor", {"token": "snapshot-token"})


async def custom_fields(graphql: GraphQL) -> dict[str, Any]:
    await _room(graphql)
    fields = [
        {"key": "plan", "value": "gold"},
        {"key": "order", "value": "A-42", "overwrite": False},
    ]
    return await graphql.run(
        "setLivechatCustomFields", {"input": {"token": "snapshot-token", "fields": fields}}
    )


async def custom_field_refused(graphql: GraphQL) -> dict[str, Any]:
    """The second field's value fails its regexp: the first is set, the third never sent."""
    await graphql.visitor("snapshot-token", name="Baek")
    fields = [
        {"key": "plan", "value": "silver"},
        {"key": "plan", "value": "platinum"},
        {"key": "unknown", "value": "x"},
    ]
    return await graphql.run(
        "setLivechatCustomFields", {"input": {"token": "snapshot-token", "fields": fields}}
    )


async def visitor_status(graphql: GraphQL) -> dict[str, Any]:
    await _room(graphql)
    return await graphql.run(
        "setLivechatVisitorStatus", {"input": {"token": "snapshot-token", "status": "away"}}
    )


async def remove_visitor(graphql: GraphQL) -> dict[str, Any]:
    """A closed conversation's visitor removed, then asked for again."""
    rid = await _room(graphql)
    await graphql.send(token="snapshot-token", rid=rid, msg="forget me")
    await graphql.close(token="snapshot-token", rid=rid)
    removed = await graphql.run("removeLivechatVisitor", {"input": {"token": "snapshot-token"}})
    after = await graphql.run("livechatVisitor", {"token": "snapshot-token"})
    history = await graphql.run("livechatMessages", {"token": "snapshot-token", "rid": rid})
    return {**removed, **after, **history}


async def remove_visitor_with_open_room(graphql: GraphQL) -> dict[str, Any]:
    await _room(graphql)
    return await graphql.run("removeLivechatVisitor", {"input": {"token": "snapshot-token"}})


async def offline_message(graphql: GraphQL) -> dict[str, Any]:
    return await graphql.run(
        "sendLivechatOfflineMessage",
        {
            "input": {
                "name": "Baek",
                "email": "baek@example.com",
                "message": "Do you ship to Seoul?",
                "department": "Sales",
                "host": "https://shop.example.com",
            }
        },
    )


async def transcript(graphql: GraphQL) -> dict[str, Any]:
    rid = await _room(graphql)
    await graphql.send(token="snapshot-token", rid=rid, msg="Hello")
    asked = await graphql.run(
        "requestLivechatTranscript",
        {"input": {"token": "snapshot-token", "rid": rid, "email": "baek@example.com"}},
    )
    stranger = await graphql.run(
        "requestLivechatTranscript",
        {"input": {"token": "stranger-token", "rid": rid, "email": "x@example.com"}},
    )
    return {"asked": asked, "stranger": stranger}


async def transfer(graphql: GraphQL) -> dict[str, Any]:
    rid = await _room(graphql)
    moved = await graphql.run(
        "transferLivechatRoom",
        {"input": {"token": "snapshot-token", "rid": rid, "department": "dep-support"}},
    )
    unknown = await graphql.run(
        "transferLivechatRoom",
        {"input": {"token": "snapshot-token", "rid": rid, "department": "dep-nowhere"}},
    )
    after = await graphql.run("livechatConfig", {"token": "snapshot-token"})
    return {
        "moved": moved,
        "unknown": unknown,
        "room": after["livechatConfig"]["config"]["raw"]["room"],
    }


async def rate(graphql: GraphQL) -> dict[str, Any]:
    rid = await _room(graphql)
    await graphql.close(token="snapshot-token", rid=rid)
    answers = [
        {"name": "satisfaction", "value": "5"},
        {"name": "agentKnowledge", "value": "9"},
        {"name": "additionalFeedback", "value": "Quick and kind"},
    ]
    return await graphql.run(
        "rateLivechatRoom", {"input": {"token": "snapshot-token", "rid": rid, "answers": answers}}
    )


async def register_reuses_phone(graphql: GraphQL) -> dict[str, Any]:
    """A new token with a known phone is the known visitor, with their own token."""
    await graphql.visitor("first-token", name="Baek", phone="+5511999999999")
    again = await graphql.run(
        "registerLivechatVisitor",
        {"input": {"token": "second-token", "name": "Baek K.", "phone": "+5511999999999"}},
    )
    return again


async def register_refused(graphql: GraphQL) -> dict[str, Any]:
    bad_email = await graphql.run(
        "registerLivechatVisitor", {"input": {"token": "snapshot-token", "email": "baek@"}}
    )
    bad_department = await graphql.run(
        "registerLivechatVisitor", {"input": {"token": "snapshot-token", "department": "Legal"}}
    )
    return {"email": bad_email, "department": bad_department}


async def agent_info(graphql: GraphQL) -> dict[str, Any]:
    """A new room with no agent configured waits in the queue: nobody serves it yet."""
    rid = await _room(graphql)
    return await graphql.run("livechatAgent", {"token": "snapshot-token", "rid": rid})


async def typing(graphql: GraphQL) -> dict[str, Any]:
    rid = await _room(graphql)
    return await graphql.run(
        "setLivechatTyping", {"input": {"token": "snapshot-token", "rid": rid, "typing": True}}
    )


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


async def upload_file(graphql: GraphQL) -> dict[str, Any]:
    """A screenshot with a description and a text: the file message's every field."""
    rid = await _room(graphql)
    answer = await graphql.upload(
        ("screen shot.png", _png(), "image/png"),
        token="snapshot-token", rid=rid, description="the error", msg="see **this**",
    )  # fmt: skip
    return {"uploadLivechatFile": answer}


async def upload_refusals(graphql: GraphQL) -> dict[str, Any]:
    """Rocket.Chat's refusals of an upload: a blocked type (SVG), a closed room."""
    rid = await _room(graphql)
    svg = await graphql.upload(
        ("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        token="snapshot-token", rid=rid,
    )  # fmt: skip
    await graphql.close(token="snapshot-token", rid=rid)
    closed = await graphql.upload(
        ("a.txt", b"hello", "text/plain"), token="snapshot-token", rid=rid
    )
    return {"svg": svg, "closed": closed}


async def history_with_files(graphql: GraphQL) -> dict[str, Any]:
    """A room's history with an audio file and another file: each attachment's fields."""
    rid = await _room(graphql)
    for file in (
        ("voice.ogg", b"OggS" + bytes(200), "audio/ogg"),
        ("notes.txt", b"text", "text/plain"),
    ):
        await graphql.upload(file, token="snapshot-token", rid=rid)
    return await graphql.run("livechatMessages", {"token": "snapshot-token", "rid": rid})


SCENARIOS: dict[str, Scenario] = {
    "registerLivechatVisitor": register,
    "openLivechatRoom": open_room,
    "sendLivechatMessage": send,
    "closeLivechatRoom": close,
    "livechatMessages": history,
    "livechatMessage": read_one,
    "updateLivechatMessage": edit,
    "deleteLivechatMessage": delete,
    "livechatRoomEvents": room_events_of_another_visitor,
    "livechatConfig": config,
    "livechatVisitor": read_visitor,
    "setLivechatCustomFields": custom_fields,
    "setLivechatVisitorStatus": visitor_status,
    "removeLivechatVisitor": remove_visitor,
    "sendLivechatOfflineMessage": offline_message,
    "requestLivechatTranscript": transcript,
    "transferLivechatRoom": transfer,
    "rateLivechatRoom": rate,
    "livechatAgent": agent_info,
    "setLivechatTyping": typing,
    "uploadLivechatFile": upload_file,
}

# More scenarios for an operation, each with its own snapshot.
MORE_SCENARIOS: dict[str, Scenario] = {
    "livechatMessages-paged": page_back,
    "livechatConfig-unknown-token": config_unknown_token,
    "setLivechatCustomFields-refused": custom_field_refused,
    "removeLivechatVisitor-open-room": remove_visitor_with_open_room,
    "registerLivechatVisitor-phone-reuse": register_reuses_phone,
    "registerLivechatVisitor-refused": register_refused,
    "uploadLivechatFile-refused": upload_refusals,
    "livechatMessages-files": history_with_files,
}


def test_every_shipped_operation_has_a_scenario() -> None:
    assert sorted(path.stem for path in QUERIES.glob("*.graphql")) == sorted(SCENARIOS)


class OnePerOperation(AmberSnapshotExtension):
    """The snapshot named by the operation alone: the request path (`app`'s parameter, front
    door or view) must not change an answer, so both paths compare with the same one."""

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        return f"{test_location.methodname}[{index}]"


@pytest.mark.parametrize("name", sorted(SCENARIOS | MORE_SCENARIOS))
async def test_operation_snapshot(
    graphql: GraphQL, upstream_graphql: GraphQL, snapshot: SnapshotAssertion, name: str
) -> None:
    """One snapshot per operation, which both backends must produce: in-process directly, and
    upstream forwarding over real HTTP to a Rocket.Chat (our in-process REST routes)."""
    scenario = (SCENARIOS | MORE_SCENARIOS)[name]
    in_process = await scenario(graphql)
    upstream = await scenario(upstream_graphql)
    assert upstream == in_process, "the upstream backend answers differently"
    assert in_process == snapshot(extension_class=OnePerOperation, name=name)
