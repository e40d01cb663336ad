"""Rocket.Chat's livechat rules (checks, their order, the stored message's shape) over the store.

The check order of each operation follows Rocket.Chat's `apps/meteor/app/livechat/server/api/v1/
message.ts` and `lib/messages.ts` (7.x) with `app/lib/server/functions/updateMessage.ts` and
`deleteMessage.ts`; each method's docstring gives it.

Where we differ from Rocket.Chat on purpose: sending an `_id` that is already stored in the same
room answers the stored message instead of failing on the duplicate key, so a client may retry
any send safely.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from app.backends.base import (
    ActionNotAllowed,
    Agent,
    BackendFailure,
    CloseNotAllowed,
    DeletedMessage,
    DuplicateMessageId,
    EmptyMessage,
    InvalidDepartment,
    InvalidMessage,
    InvalidParams,
    InvalidRoom,
    InvalidToken,
    JsonObject,
    LivechatDisabled,
    LocalFile,
    Message,
    MessageAuthor,
    MessageChanged,
    MessageDeleted,
    MessageTooLong,
    OutgoingMessage,
    Room,
    RoomClosed,
    RoomEvent,
    RoomEvents,
    Typing,
    Unauthorized,
    UploadDisabled,
    UploadRequest,
    Visitor,
    VisitorRegistration,
)
from app.backends.ids import Clock, IdGenerator, random_id, utc_now
from app.backends.inprocess.agents import DEFAULT_POLICY, AgentAccount, AgentDesk, AgentPolicy
from app.backends.inprocess.broker import Broker
from app.backends.inprocess.files import FileStore, attachment, identify_image
from app.backends.inprocess.mail import Mailer
from app.backends.inprocess.store import Lookup, SqliteStore
from app.backends.inprocess.widget import WidgetRules, valid_email
from app.backends.inprocess.widget_config import WidgetOptions
from app.backends.inprocess.widget_store import WidgetStore
from app.backends.rocketchat_json import message_from_json, message_to_json, parse_datetime
from app.markdown import MarkdownSyntaxError, parse
from app.settings import Settings

READINESS_TIMEOUT = 2.0  # seconds a readiness probe waits for the write lock


class MarkdownParser(Protocol):
    def __call__(
        self, text: str, options: Mapping[str, Any] | None = None, *, now: datetime | None = None
    ) -> list[JsonObject]: ...


# The comment of a room closed by its visitor (Rocket.Chat's i18n 'Closed_by_visitor').
CLOSED_BY_VISITOR = "Closed by visitor"

# Messages longer than this are parsed in a worker thread (a few ms of parsing at most inline).
INLINE_PARSE_LIMIT = 1000

# Rocket.Chat's getMessageUrlRegex: what it lists in a message's `urls`.
MESSAGE_URL = re.compile(
    r"([A-Za-z]{3,9}):\/\/([-;:&=\+\$,\w]+@{1})?[-A-Za-z0-9\.]+:?(\d+)?"
    r"((\/[-\+=!:~%\/\.@\,\w]*)?\??([-\+=&!:;%@\/\.\,\w]+)?(?:#([^\s\)]+))?)?"
)


def utf16_length(text: str) -> int:
    """JavaScript's `string.length`, which is what Rocket.Chat's character limit counts."""
    return len(text.encode("utf-16-le")) // 2


def _urls(text: str) -> list[JsonObject]:
    return [{"url": match.group(0)} for match in MESSAGE_URL.finditer(text)]


def require_text(**fields: str | None) -> None:
    """Rocket.Chat's body validation: each named field is a non-empty string."""
    for name, value in fields.items():
        if value is None:
            raise InvalidParams(f"must have required property '{name}'")
        if value == "":
            raise InvalidParams(f"'{name}' must NOT have fewer than 1 characters")


class InProcessBackend(WidgetRules):
    """The whole livechat behaviour with no Rocket.Chat: visitors, rooms, messages, markdown,
    and (WidgetRules) what surrounds a chat."""

    def __init__(
        self,
        store: SqliteStore,
        *,
        markdown_options: Mapping[str, Any],
        character_limit: int = Settings.model_fields["message_character_limit"].default,
        clock: Clock = utc_now,
        new_id: IdGenerator = random_id,
        parse_markdown: MarkdownParser = parse,
        broker: Broker | None = None,
        widget: WidgetOptions | None = None,
        smtp_url: str | None = None,
        mail_from: str = Settings.model_fields["mail_from"].default,
        agents: Sequence[AgentAccount] = (),
        agent_policy: AgentPolicy = DEFAULT_POLICY,
        files: FileStore | None = None,
    ) -> None:
        self._store = store
        self.widget = widget or WidgetOptions()
        self._widget_store = WidgetStore(store)
        self._mailer = Mailer(
            self._widget_store, smtp_url=smtp_url, sender=mail_from, clock=clock, new_id=new_id
        )
        self._files = files
        self.broker = broker or Broker()
        # Subscribers hear what the store committed, in commit order, before it is acknowledged.
        store.on_commit(self._publish)
        self._markdown_options = dict(markdown_options)
        self._character_limit = character_limit
        self._clock = clock
        self._new_id = new_id
        self._parse_markdown = parse_markdown
        self.agents = AgentDesk(self, agents, agent_policy)
        self._closers: list[Callable[[], Awaitable[None]]] = []

    # ---- what the agents' side (agents.py) shares with the visitor's ----

    @property
    def store(self) -> SqliteStore:
        return self._store

    def now(self) -> datetime:
        return self._clock()

    def new_id(self) -> str:
        return self._new_id()

    def urls(self, text: str) -> list[JsonObject]:
        return _urls(text)

    def check_length(self, text: str) -> None:
        self._check_length(text)

    async def markdown(self, text: str, now: datetime) -> list[JsonObject]:
        return await self._markdown(text, now)

    async def checked_room(self, token: str, rid: str) -> Room:
        """invalid-token, then invalid-room (a closed room passes): the visitor's room."""
        require_text(token=token, rid=rid)
        return visitors_room(token, await self._checked(token, rid))

    async def agent_info(self, token: str, rid: str) -> tuple[Agent | None, bool]:
        return await self.agents.agent_info(token, rid)

    async def set_typing(self, token: str, rid: str, typing: bool) -> None:
        await self.agents.visitor_typing(token, rid, typing)

    def _publish(self, kind: str, record: JsonObject) -> None:
        """A committed change (the store's `on_commit`) to the room's subscribers."""
        rid = str(record["rid"])
        if kind == "message.deleted":
            self.broker.publish(rid, MessageDeleted(id=str(record["_id"]), rid=rid))
        else:  # "message", "message.updated", "room.closed" (its close message)
            self.broker.publish(rid, MessageChanged(message_from_json(record)))

    async def readiness(self) -> str | None:
        try:
            await asyncio.wait_for(self._store.check_writable(), READINESS_TIMEOUT)
        except TimeoutError:
            return (
                f"the SQLite database took no write within {READINESS_TIMEOUT:g} s"
                " (locked by another process?)"
            )
        except BackendFailure as error:  # the store's StorageFull or StorageUnavailable
            return f"the SQLite database cannot be written: {error}"
        return None

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run `closer` first when the backend closes (what runs beside it: the demo agent)."""
        self._closers.append(closer)

    async def aclose(self) -> None:
        for closer in self._closers:
            await closer()
        self.broker.close()
        await self._store.close()

    def health(self) -> JsonObject:
        """The store's group commit so far: how many commits, how many writes they carried, and
        how many writes wait for the next one."""
        stats = self._store.stats()
        return {"store": {"commits": stats.commits, "writes": stats.writes, "queued": stats.queued}}

    async def _checked(self, token: str, rid: str, message_id: str | None = None) -> Lookup:
        """The visitor, their room and a message, read at once; invalid-token, then
        invalid-room, as every visitor request checks them first."""
        found = await self._store.lookup(token, rid, message_id)
        visitors_room(token, found)
        return found

    async def register_visitor(self, registration: VisitorRegistration) -> Visitor:
        """POST livechat/visitor: params → the email trimmed, lower-cased and validated
        (error-invalid-email) → a department (id or name) other than the stored one must exist
        (error-invalid-department; the id is stored) → the visitor with this token is updated;
        else the one with this phone is reused with its own token; else the one with this email
        is reused and takes the sent token; else a new one ("guest-N")."""
        require_text(token=registration.token)
        email = valid_email(registration.email) if registration.email is not None else None
        other = await self._widget_store.match_visitor(
            registration.token, registration.phone, email
        )

        def department_id(existing: Visitor | None) -> str | None:
            wanted = registration.department
            if not wanted or (existing is not None and existing.department == wanted):
                return wanted or None
            found = self.widget.department(wanted)
            if found is None:
                raise InvalidDepartment
            return found.id

        def make(existing: Visitor | None, guest_number: int) -> Visitor:
            given = {
                "name": registration.name,
                "email": email,
                "phone": registration.phone,
                "department": department_id(existing),
            }
            if existing is not None:
                changes = {key: value for key, value in given.items() if value is not None}
                if registration.username:
                    changes["username"] = registration.username
                return replace(existing, **changes)
            return Visitor(
                id=self._new_id(),
                token=registration.token,
                username=registration.username or f"guest-{guest_number}",
                **given,
            )

        if other is not None and other.token != registration.token:
            reuse_token = bool(registration.phone) and other.phone == registration.phone
            return await self._store.upsert_visitor(
                other.token,
                lambda existing, number: make(
                    existing
                    if reuse_token or existing is None
                    else replace(existing, token=registration.token),
                    number,
                ),
            )
        return await self._store.upsert_visitor(registration.token, make)

    async def open_room(
        self, token: str, rid: str | None = None, agent_id: str | None = None
    ) -> tuple[Room, bool]:
        require_text(token=token)
        if rid:
            room = visitors_room(token, await self._checked(token, rid))
            if not room.open:
                raise InvalidRoom
            return room, False

        def new_room(visitor: Visitor | None, loads: Mapping[str, int]) -> Room:
            if visitor is None:
                raise InvalidToken
            if not self.widget.enabled:
                raise LivechatDisabled
            return Room(
                id=self._new_id(),
                open=True,
                visitor_id=visitor.id,
                visitor_token=visitor.token,
                visitor_username=visitor.username,
                ts=self._clock(),
                agent_id=self.agents.choose(visitor.department, loads, agent_id),
            )

        room, created = await self._store.open_room_for(token, new_room)
        if created and room.agent_id is None:
            await self.agents.announce_queue()
        return room, created

    async def send_message(self, outgoing: OutgoingMessage) -> Message:
        """One write: the checks and the insert run together in the store's transaction, in
        Rocket.Chat's order (token, room, a retried `_id`, closed room, length)."""
        require_text(token=outgoing.token, rid=outgoing.rid, msg=outgoing.msg)
        too_long = utf16_length(outgoing.msg) > self._character_limit
        now = self._clock()
        md = [] if too_long else await self._markdown(outgoing.msg, now)
        urls = _urls(outgoing.msg)
        built: list[tuple[Message, JsonObject]] = []

        def decide(found: Lookup) -> JsonObject:
            room = visitors_room(outgoing.token, found)
            visitor = found.visitor
            assert visitor is not None  # visitors_room refuses a missing visitor
            if found.message is not None:
                self._stored_retry(found.message, outgoing)
                return found.message
            if not room.open:
                raise RoomClosed
            if too_long:
                raise MessageTooLong
            message = Message(
                id=outgoing.id or self._new_id(),
                rid=room.id,
                msg=outgoing.msg,
                ts=now,
                u=MessageAuthor(id=visitor.id, username=visitor.username, name=visitor.name),
                updated_at=now,
                token=visitor.token,
                alias=visitor.name,
                urls=urls,
                md=md,
            )
            built.append((message, message_to_json(message)))
            return built[-1][1]

        document, created = await self._store.add_message(
            outgoing.token, outgoing.rid, outgoing.id, decide
        )
        if not created:
            return message_from_json(document)  # a retry: the message stored the first time
        message, decided = built[-1]
        if document is decided:
            return message
        moved = parse_datetime(document["ts"])  # stored 1 ms past the room's last message
        return replace(message, ts=moved, updated_at=moved)

    def _check_length(self, text: str) -> None:
        if utf16_length(text) > self._character_limit:
            raise MessageTooLong

    def _stored_retry(self, document: JsonObject, outgoing: OutgoingMessage) -> Message:
        """A retry of a stored send answers it; an `_id` taken by another sender is refused."""
        if document.get("rid") != outgoing.rid or document.get("token") != outgoing.token:
            raise DuplicateMessageId
        return message_from_json(document)

    async def _markdown(self, text: str, now: datetime) -> list[JsonObject]:
        """The parsed text; long messages are parsed off the event loop so that one huge
        message cannot stall every other request. Rocket.Chat leaves `md` unset when the
        parser throws; so do we."""
        try:
            if len(text) <= INLINE_PARSE_LIMIT:
                return self._parse_markdown(text, self._markdown_options, now=now)
            return await asyncio.to_thread(
                self._parse_markdown, text, self._markdown_options, now=now
            )
        except MarkdownSyntaxError:
            return []

    async def message(self, token: str, rid: str, message_id: str) -> Message:
        """GET: params → invalid-token → invalid-room → the message of this room by id, else
        invalid-message."""
        require_text(token=token, rid=rid)
        document = (await self._checked(token, rid, message_id)).message
        if document is None or document.get("rid") != rid:
            raise InvalidMessage
        return message_from_json(document)

    async def _own_message(self, token: str, rid: str, message_id: str) -> tuple[Visitor, Message]:
        """PUT and DELETE alike: invalid-token → invalid-room (a closed room passes) → the
        message by id alone (not scoped to `rid`), else invalid-message → not the visitor's
        own → error-action-not-allowed."""
        found = await self._checked(token, rid, message_id)
        visitor, document = found.visitor, found.message
        assert visitor is not None  # _checked refuses a missing visitor
        if document is None:
            raise InvalidMessage
        message = message_from_json(document)
        if message.u.id != visitor.id:
            raise ActionNotAllowed
        return visitor, message

    async def update_message(self, token: str, rid: str, message_id: str, msg: str) -> Message:
        """PUT: params → the checks of `_own_message` → a deleted placeholder (t "rm") is not
        editable → an empty text is error-invalid-message → the send's length limit. The
        message keeps its id, room and ts; text, md and urls are new; editedAt and editedBy
        say when and who."""
        require_text(token=token, rid=rid)
        visitor, message = await self._own_message(token, rid, message_id)
        if message.t == "rm":
            raise ActionNotAllowed
        if not msg.strip():
            raise EmptyMessage
        self._check_length(msg)
        now = self._clock()
        edited = replace(
            message,
            msg=msg,
            urls=_urls(msg),
            md=await self._markdown(msg, now),
            updated_at=now,
            edited_at=now,
            edited_by=MessageAuthor(id=visitor.id, username=visitor.username),
        )
        if not await self._store.replace_message(message_to_json(edited)):
            raise InvalidMessage
        return edited

    async def delete_message(self, token: str, rid: str, message_id: str) -> DeletedMessage:
        """DELETE: params → the checks of `_own_message` → gone (with its file, if it carries
        one); answers the id and when."""
        require_text(token=token, rid=rid)
        await self._own_message(token, rid, message_id)
        files: list[str] = []
        if not await self._store.delete_message(message_id, files):
            raise InvalidMessage
        if self._files is not None:  # a file message's file goes with it, as Rocket.Chat's
            for file_id in files:
                await self._files.remove(file_id)
        return DeletedMessage(id=message_id, ts=self._clock())

    async def close_room(self, token: str, rid: str) -> str:
        """room.close: params → VISITORS_CAN_CLOSE_CHAT off → error-not-allowed-to-close-
        conversation → invalid-token → invalid-room → room-closed; the room's
        "livechat-close" system message is stored with the closing, as Rocket.Chat's
        closeRoom saves it (the visitor as its author, the comment as its text)."""
        require_text(token=token, rid=rid)
        if not self.widget.visitors_can_close_chat:
            raise CloseNotAllowed
        found = await self._checked(token, rid)
        room, visitor = visitors_room(token, found), found.visitor
        assert visitor is not None  # _checked refuses a missing visitor
        if not room.open:
            raise RoomClosed
        now = self._clock()
        close_message = Message(
            id=self._new_id(),
            rid=room.id,
            msg=CLOSED_BY_VISITOR,
            ts=now,
            u=MessageAuthor(id=visitor.id, username=visitor.username),
            updated_at=now,
            t="livechat-close",
        )
        if await self._store.close_room(room.id, message_to_json(close_message)) is None:
            raise RoomClosed
        if room.agent_id is None:  # it left the queue: the rooms behind it move up
            await self.agents.announce_queue()
        return room.id

    async def subscribe_room(self, token: str, rid: str) -> RoomEvents:
        require_text(token=token, rid=rid)
        # Subscribed before the checks read the room: a close that commits meanwhile is either
        # seen by the check or delivered as an event, never lost in between.
        subscription = self.broker.subscribe(rid, skip=_visitors_own)
        try:
            room = visitors_room(token, await self._store.lookup(token, rid))
            if not room.open:
                raise InvalidRoom("the room is closed")
        except BaseException:
            await subscription.aclose()
            raise
        return subscription

    async def upload_file(self, upload: UploadRequest) -> Message:
        """livechat/upload/:rid: params → uploads off: error-file-upload-disabled → no visitor
        with the token, or the room not their open one: unauthorized (403) → the media type
        (error-type-not-allowed) → the file, written to disk while it arrives, refused past
        the size limit (error-file-too-large) → its row and message committed together, the
        room checked again. Any refusal on the way leaves no file behind."""
        require_text(token=upload.token, rid=upload.rid)
        files = self._files
        if files is None or not files.enabled:
            raise UploadDisabled
        found = await self._store.lookup(upload.token, upload.rid)
        room = found.room
        if found.visitor is None or room is None or room.visitor_token != upload.token:
            raise Unauthorized
        if not room.open:
            raise Unauthorized
        media_type = upload.file.type
        files.check_type(media_type)
        file_id = self._new_id()
        size = await files.receive(file_id, upload.file.chunks())
        try:
            image = None
            if media_type.startswith("image/"):
                image = await asyncio.to_thread(identify_image, files.path(file_id))
            now = self._clock()
            text = upload.msg or ""
            record = {"_id": file_id, "name": upload.file.name, "type": media_type, "size": size}
            md = await self._markdown(text, now) if text else []

            def decide(lookup: Lookup) -> JsonObject:
                visitor, current = lookup.visitor, lookup.room
                if visitor is None or current is None or not current.open:
                    raise Unauthorized
                return message_to_json(
                    Message(
                        id=self._new_id(),
                        rid=current.id,
                        msg=text,
                        ts=now,
                        u=MessageAuthor(
                            id=visitor.id, username=visitor.username, name=visitor.name
                        ),
                        updated_at=now,
                        token=visitor.token,
                        alias=visitor.name,
                        urls=_urls(text),
                        md=md,
                        file=record,
                        files=[record],
                        attachments=[
                            attachment(
                                file_id,
                                upload.file.name,
                                media_type,
                                size,
                                upload.description,
                                image,
                            )
                        ],
                    )
                )

            stored = await self._store.add_file_message(upload.token, upload.rid, record, decide)
        except BaseException:
            await files.remove(file_id)
            raise
        return message_from_json(stored)

    async def open_file(
        self, token: str, rid: str, file_id: str, name: str, byte_range: str | None = None
    ) -> LocalFile:
        """A stored file of the room `rid` whose visitor is `token` (open or closed room);
        anything else is unauthorized. The name in the URL is not checked, as Rocket.Chat."""
        if self._files is None:
            raise Unauthorized
        found = await self._store.upload(file_id)
        if found is None:
            raise Unauthorized
        record, room_token = found
        if record["rid"] != rid or room_token != token:
            raise Unauthorized
        return LocalFile(
            path=self._files.path(file_id),
            name=str(record["name"]),
            type=str(record["type"]),
            size=int(record["size"]),
        )

    async def message_history(
        self, token: str, rid: str, limit: int = 20, before: datetime | None = None
    ) -> list[Message]:
        """messages.history: params → invalid-token → invalid-room (a closed room is
        readable); newest first, `ts < before`."""
        require_text(token=token, rid=rid)
        await self._checked(token, rid)
        documents = await self._store.room_messages(rid, limit, before)
        return [message_from_json(document) for document in documents]


def _visitors_own(event: RoomEvent) -> bool:
    """The visitor's own typing is not sent back to them (Rocket.Chat's retransmitToSelf)."""
    return isinstance(event, Typing) and event.by_visitor


def visitors_room(token: str, found: Lookup) -> Room:
    """Rocket.Chat's first two checks of any visitor request, in its order: a visitor with
    this token, then a room with this id that is theirs."""
    if found.visitor is None:
        raise InvalidToken
    if found.room is None or found.room.visitor_token != token:
        raise InvalidRoom
    return found.room
