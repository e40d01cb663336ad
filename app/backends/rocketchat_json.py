"""Rocket.Chat's JSON for visitors, rooms and messages, to and from the domain records.

Both the in-process REST routes (which speak Rocket.Chat's bodies) and the upstream backend
(which reads them) go through here, so the two can never disagree on a field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from app.backends.base import Agent, JsonObject, Message, MessageAuthor, Room, Visitor


def format_datetime(moment: datetime) -> str:
    """ISO-8601 with milliseconds and `Z`, as Rocket.Chat (JavaScript's toISOString) writes it:
    a four-digit year, as `isoformat` writes it (strftime's `%Y` drops the zeros of a year
    before 1000), in half the time (two per message answered)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_datetime(value: Any) -> datetime:
    """Read Rocket.Chat's dates: ISO strings (any fraction length) or `{"$date": millis}`."""
    if isinstance(value, dict) and "$date" in value:
        value = value["$date"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def message_to_json(message: Message) -> JsonObject:
    """The message document exactly as Rocket.Chat answers it (`t`, `editedAt` and `editedBy`
    only when set, as Rocket.Chat leaves them out)."""
    document: JsonObject = {
        "_id": message.id,
        "rid": message.rid,
        "msg": message.msg,
        "token": message.token,
        "alias": message.alias,
        "ts": format_datetime(message.ts),
        "u": {"_id": message.u.id, "username": message.u.username, "name": message.u.name},
        "_updatedAt": format_datetime(message.updated_at),
        "urls": message.urls,
        "mentions": message.mentions,
        "channels": message.channels,
        "md": message.md,
    }
    if message.t is not None:
        document["t"] = message.t
    if message.edited_at is not None:
        document["editedAt"] = format_datetime(message.edited_at)
    if message.edited_by is not None:
        document["editedBy"] = {"_id": message.edited_by.id, "username": message.edited_by.username}
    if message.file is not None:
        document["file"] = message.file
    if message.files:
        document["files"] = message.files
    if message.attachments:
        document["attachments"] = message.attachments
    return document


def _author(raw: JsonObject) -> MessageAuthor:
    return MessageAuthor(id=str(raw["_id"]), username=str(raw["username"]), name=raw.get("name"))


def message_from_json(document: JsonObject, md: list[JsonObject] | None = None) -> Message:
    """A message from Rocket.Chat's JSON; `md` replaces the document's (e.g. when it has none)."""
    author = document["u"]
    ts = parse_datetime(document["ts"])
    return Message(
        id=str(document["_id"]),
        rid=str(document["rid"]),
        msg=str(document.get("msg", "")),
        ts=ts,
        u=_author(author),
        updated_at=parse_datetime(document["_updatedAt"]) if "_updatedAt" in document else ts,
        token=document.get("token"),
        alias=document.get("alias"),
        urls=list(document.get("urls") or []),
        mentions=list(document.get("mentions") or []),
        channels=list(document.get("channels") or []),
        md=md if md is not None else list(document.get("md") or []),
        t=document.get("t"),
        edited_at=parse_datetime(document["editedAt"]) if document.get("editedAt") else None,
        edited_by=_author(document["editedBy"]) if document.get("editedBy") else None,
        file=document["file"] if isinstance(document.get("file"), dict) else None,
        files=[entry for entry in document.get("files") or [] if isinstance(entry, dict)],
        attachments=[
            entry for entry in document.get("attachments") or [] if isinstance(entry, dict)
        ],
    )


def visitor_to_json(visitor: Visitor) -> JsonObject:
    """Rocket.Chat's visitor document, leaving out what was never given."""
    document: JsonObject = {"_id": visitor.id, "token": visitor.token, "username": visitor.username}
    if visitor.name is not None:
        document["name"] = visitor.name
    if visitor.email is not None:
        document["visitorEmails"] = [{"address": visitor.email}]
    if visitor.phone is not None:
        document["phone"] = [{"phoneNumber": visitor.phone}]
    if visitor.department is not None:
        document["department"] = visitor.department
    return document


def visitor_from_json(document: JsonObject) -> Visitor:
    """A visitor from Rocket.Chat's document (emails and phones are lists there)."""
    emails = document.get("visitorEmails") or []
    phones = document.get("phone") or []
    return Visitor(
        id=str(document["_id"]),
        token=str(document["token"]),
        username=str(document["username"]),
        name=document.get("name"),
        email=emails[0].get("address") if emails else None,
        phone=phones[0].get("phoneNumber") if phones else None,
        department=document.get("department"),
    )


def room_to_json(room: Room) -> JsonObject:
    """Rocket.Chat's livechat room document, with the fields a visitor's client reads."""
    document: JsonObject = {
        "_id": room.id,
        "t": "l",
        "open": room.open,
        "v": {
            "_id": room.visitor_id,
            "token": room.visitor_token,
            "username": room.visitor_username,
            "status": "online",
        },
    }
    if room.ts is not None:
        document["ts"] = format_datetime(room.ts)
    if room.agent_id is not None:
        document["servedBy"] = {"_id": room.agent_id}
    return document


def room_from_json(document: JsonObject) -> Room:
    """A room from Rocket.Chat's document; a missing `open` means closed, as in Rocket.Chat."""
    visitor = document.get("v") or {}
    served_by = document.get("servedBy") or {}
    return Room(
        id=str(document["_id"]),
        open=bool(document.get("open", False)),
        visitor_id=str(visitor.get("_id", "")),
        visitor_token=str(visitor.get("token", "")),
        visitor_username=str(visitor.get("username", "")),
        ts=parse_datetime(document["ts"]) if document.get("ts") is not None else None,
        agent_id=served_by.get("_id"),
    )


def agent_to_json(agent: Agent, *, show_email: bool = True) -> JsonObject:
    """Rocket.Chat's agent projection (`Users.getAgentInfo`): `emails` only when
    `Livechat_show_agent_email`, `phone` only when set."""
    document: JsonObject = {
        "_id": agent.id,
        "username": agent.username,
        "name": agent.name,
        "status": agent.status,
    }
    if show_email and agent.emails:
        document["emails"] = [{"address": address, "verified": True} for address in agent.emails]
    if agent.phone is not None:
        document["phone"] = agent.phone
    return document


def agent_from_json(document: JsonObject) -> Agent | None:
    """An agent from Rocket.Chat's projection; None for `{"hiddenInfo": true}`. `phone` is a
    string or, as on some servers, a list of `{phoneNumber}`."""
    if document.get("hiddenInfo"):
        return None
    phone = document.get("phone")
    if isinstance(phone, list):
        phone = phone[0].get("phoneNumber") if phone and isinstance(phone[0], dict) else None
    emails = [email for email in document.get("emails") or [] if isinstance(email, dict)]
    return Agent(
        id=str(document["_id"]),
        username=str(document["username"]),
        name=document.get("name"),
        status=document.get("status"),
        emails=tuple(str(email["address"]) for email in emails if email.get("address")),
        phone=phone if isinstance(phone, str) else None,
    )


def file_url(file_id: str, name: str) -> str:
    """Rocket.Chat's `/file-upload/<id>/<name>`, the name percent-encoded as one segment (a
    name of dots too, which URL normalisation would otherwise remove)."""
    segment = quote(name, safe="")
    if segment.strip(".") == "":
        segment = segment.replace(".", "%2E")
    return f"/file-upload/{file_id}/{segment}"
