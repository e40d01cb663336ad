"""Rocket.Chat's rules for what surrounds a chat, in-process: the config answer, the visitor's
data (custom fields, status, removal), the offline form, transcripts, department transfer and
the survey. Each method's docstring gives the check order it follows
(../reference: Rocket.Chat's `api/v1/config.ts`, `visitor.ts`, `customField.ts`,
`offlineMessage.ts`, `transcript.ts`, `room.ts`).

A mixin of `InProcessBackend`, over the same store, clock and ids.
"""

from __future__ import annotations

import re

from app.backends.base import (
    Agent,
    ConversationClosed,
    CustomField,
    ErrorInvalidRoom,
    InvalidCustomField,
    InvalidCustomFieldValue,
    InvalidDepartment,
    InvalidEmail,
    InvalidParams,
    InvalidRoom,
    InvalidSurveyData,
    InvalidToken,
    InvalidVisitor,
    Message,
    OfflineMessage,
    OfflineMessageNotSent,
    RemovedVisitor,
    Room,
    SurveyAnswer,
    Visitor,
    VisitorHasOpenRooms,
    WidgetConfig,
)
from app.backends.ids import Clock, IdGenerator
from app.backends.inprocess.agents import AgentDesk
from app.backends.inprocess.files import FileStore
from app.backends.inprocess.mail import Mailer
from app.backends.inprocess.store import SqliteStore
from app.backends.inprocess.widget_config import WidgetOptions
from app.backends.inprocess.widget_store import WidgetStore
from app.backends.rocketchat_json import format_datetime, message_from_json
from app.backends.widget_json import SURVEY_ITEMS, SURVEY_VALUES, config_from_json

# Rocket.Chat's validateEmail (apps/meteor/lib/emailValidator.ts).
EMAIL = re.compile(
    r"^(([^<>()\[\]\\.,;:\s@\"]+(\.[^<>()\[\]\\.,;:\s@\"]+)*)|(\".+\"))@"
    r"((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$"
)

OFFLINE_MESSAGE_SENT = "Livechat offline message sent"
TRANSCRIPT_SENT = "Omnichannel transcript sent"
TRANSCRIPT_SUBJECT = "Transcript of your omnichannel conversation."
# Message types a transcript leaves out (Rocket.Chat's sendTranscript).
NOT_IN_TRANSCRIPT = {
    "livechat_navigation_history",
    "livechat_transcript_history",
    "command",
    "livechat-close",
    "livechat-started",
    "livechat_video_call",
}


def valid_email(address: str) -> str:
    """Rocket.Chat's registration rule: trimmed, lower-cased, then validated."""
    email = address.strip().lower()
    if not EMAIL.match(email):
        raise InvalidEmail(f"Invalid email {email}")
    return email


def _transcript_line(message: Message, visitor: Visitor) -> str:
    author = visitor.name or visitor.username if message.u.id == visitor.id else message.u.username
    return f"{format_datetime(message.ts)} {author}: {message.msg}"


class WidgetRules:
    """The widget's operations; `InProcessBackend` provides the attributes below."""

    _store: SqliteStore
    _clock: Clock
    _new_id: IdGenerator
    widget: WidgetOptions
    _widget_store: WidgetStore
    _mailer: Mailer

    agents: AgentDesk
    _files: FileStore | None

    def _agent(self, agent_id: str) -> Agent | None:
        """The agent serving a room, as the visitor may see them: none when agent info is
        hidden (Rocket.Chat answers `{hiddenInfo: true}` there)."""
        if not self.agents.policy.show_agent_info:
            return None
        return self.agents.agent(agent_id)

    def _agents_online(self, department: str | None) -> bool:
        """Whether chats are accepted now: with no agent, or an agent (of the department, when
        given) is online."""
        return self.widget.online(department, self.agents.online)

    async def config(self, token: str | None = None, department: str | None = None) -> WidgetConfig:
        """GET livechat/config: disabled → `{enabled: false}`; else the settings, `online`
        (for `department` when given), and with a known `token` the visitor (`guest`), their
        first open room and its agent."""
        options = self.widget
        if not options.enabled:
            return config_from_json(options.config_json(online=False))
        visitor = room = agent = None
        room_department = None
        if token:
            state = await self._widget_store.state(token)
            visitor, room = state.visitor, state.open_room
            if room is not None:
                room_department = state.department or (visitor.department if visitor else None)
                if room.agent_id is not None:
                    agent = self._agent(room.agent_id)
        raw = options.config_json(
            online=self._agents_online(department),
            visitor=visitor,
            room=room,
            room_department=room_department,
            agent=agent,
        )
        return config_from_json(raw)

    async def visitor(self, token: str) -> Visitor:
        """GET livechat/visitor/:token: unknown → invalid-token."""
        _required(token=token)
        found = (await self._widget_store.state(token)).visitor
        if found is None:
            raise InvalidToken
        return found

    async def set_custom_fields(self, token: str, fields: list[CustomField]) -> list[CustomField]:
        """POST livechat/custom.field, per field in order: params → invalid-token → unknown
        key → invalid-custom-field → a value the field's regexp refuses → "Invalid value for
        <key> field" → set on the visitor (scope visitor) or their rooms (scope room). An
        existing value is kept when `overwrite` is false (Rocket.Chat's newest answer: still a
        success). The first refusal stops the rest."""
        done: list[CustomField] = []
        for item in fields:
            _required(token=token, key=item.key)
            definition = self.widget.custom_field(item.key)
            visitor_known = (await self._widget_store.state(token)).visitor is not None
            if not visitor_known:
                raise InvalidToken
            if definition is None:
                raise InvalidCustomField
            if not definition.accepts(item.value):
                raise InvalidCustomFieldValue(item.key)
            if not await self._widget_store.set_custom_field(
                token, definition.scope, item.key, item.value, item.overwrite
            ):
                raise InvalidToken
            done.append(item)
        return done

    async def set_visitor_status(self, token: str, status: str) -> str:
        """POST livechat/visitor.status: params → invalid-token → stored (any string)."""
        _required(token=token, status=status)
        if not await self._widget_store.set_status(token, status):
            raise InvalidToken
        return status

    async def remove_visitor(self, token: str) -> RemovedVisitor:
        """DELETE livechat/visitor/:token: invalid-token → an open room → visitor-has-open-rooms
        → the visitor, every room of theirs and what the rooms hold, in one transaction."""
        _required(token=token)

        def decide(visitor: Visitor | None, rooms: list[Room]) -> Visitor:
            if visitor is None:
                raise InvalidToken
            if any(room.open for room in rooms):
                raise VisitorHasOpenRooms
            return visitor

        removed, file_ids = await self._widget_store.remove_visitor(token, decide)
        if self._files is not None:
            for file_id in file_ids:
                await self._files.remove(file_id)
        return RemovedVisitor(id=removed.id, ts=self._clock())

    async def send_offline_message(self, offline: OfflineMessage) -> str:
        """POST livechat/offline.message: params → the offline form off, an empty or invalid
        email, or an unknown department → "Error sending Omnichannel offline message" → mail
        to the department's email, else OFFLINE_EMAIL; kept in the outbox in any case (with no
        recipient it is kept, not sent)."""
        _required(name=offline.name, email=offline.email, message=offline.message)
        options = self.widget
        if not options.display_offline_form or not EMAIL.match(offline.email.strip()):
            raise OfflineMessageNotSent
        recipient = options.offline_email or None
        if offline.department:
            department = options.department(offline.department)
            if department is None:
                raise OfflineMessageNotSent
            recipient = department.email or recipient
        subject = f"Livechat offline message from {offline.name}: {offline.message[:20]}"
        host = f"\n\nSent from {offline.host}" if offline.host else ""
        body = f"Visitor name: {offline.name}\nVisitor email: {offline.email}\n\n{offline.message}"
        await self._mailer.send(
            "offline-message", recipient, subject, body + host, reply_to=offline.email.strip()
        )
        return OFFLINE_MESSAGE_SENT

    async def request_transcript(self, token: str, rid: str, email: str) -> str:
        """POST livechat/transcript: params → no such room → error-invalid-room → the token is
        not the room's visitor's → error-invalid-visitor → an invalid address →
        error-invalid-email → the room's messages (open or closed room) mailed to `email`."""
        _required(token=token, rid=rid, email=email)
        found = await self._store.lookup(token, rid)
        if found.room is None:
            raise ErrorInvalidRoom
        if found.room.visitor_token != token or found.visitor is None:
            raise InvalidVisitor
        address = valid_email(email)
        visitor = found.visitor
        documents = await self._store.room_messages(rid, 10_000)
        lines = [
            _transcript_line(message, visitor)
            for message in reversed([message_from_json(document) for document in documents])
            if message.t not in NOT_IN_TRANSCRIPT
        ]
        await self._mailer.send("transcript", address, TRANSCRIPT_SUBJECT, "\n".join(lines))
        return TRANSCRIPT_SENT

    async def transfer_room(self, token: str, rid: str, department: str) -> str:
        """visitor/department.transfer (8.x): params → invalid-token → no such room, or not
        the visitor's → error-invalid-room → closed → This_conversation_is_already_closed →
        unknown department (id or name) → error-invalid-department → the room's department
        is the new one."""
        _required(token=token, rid=rid, department=department)
        found = await self._store.lookup(token, rid)
        if found.visitor is None:
            raise InvalidToken
        room = found.room
        if room is None or room.visitor_token != token:
            raise ErrorInvalidRoom
        if not room.open:
            raise ConversationClosed
        target = self.widget.department(department)
        if target is None:
            raise InvalidDepartment
        await self._widget_store.set_department(room.id, target.id)
        return room.id

    async def rate_room(
        self, token: str, rid: str, answers: list[SurveyAnswer]
    ) -> list[SurveyAnswer]:
        """POST livechat/room.survey: params (at least one answer) → invalid-token →
        invalid-room (a closed room is accepted) → keeps the answers whose name is a survey
        item with a value "1".."5", or additionalFeedback; none → invalid-data."""
        _required(token=token, rid=rid)
        if not answers:
            raise InvalidParams("'data' must NOT have fewer than 1 items")
        found = await self._store.lookup(token, rid)
        if found.visitor is None:
            raise InvalidToken
        if found.room is None or found.room.visitor_token != token:
            raise InvalidRoom
        kept: dict[str, str] = {}
        for answer in answers:
            if answer.name == "additionalFeedback" or (
                answer.name in SURVEY_ITEMS and answer.value in SURVEY_VALUES
            ):
                kept[answer.name] = answer.value
        if not kept:
            raise InvalidSurveyData
        await self._widget_store.save_survey(rid, kept)
        return [SurveyAnswer(name=name, value=value) for name, value in kept.items()]


def _required(**fields: str | None) -> None:
    for name, value in fields.items():
        if value is None:
            raise InvalidParams(f"must have required property '{name}'")
        if value == "":
            raise InvalidParams(f"'{name}' must NOT have fewer than 1 characters")
