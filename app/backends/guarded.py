"""Input caps in front of any backend: sizes no real client sends, and ids that could not be
Rocket.Chat's, are refused as INVALID_PARAMS before they reach storage or an upstream server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.backends.base import (
    HISTORY_LIMIT,
    Agent,
    CustomField,
    DeletedMessage,
    FileDownload,
    InvalidParams,
    LivechatBackend,
    Message,
    OfflineMessage,
    OutgoingMessage,
    RemovedVisitor,
    Room,
    RoomEvents,
    SurveyAnswer,
    UploadRequest,
    Visitor,
    VisitorRegistration,
    WidgetConfig,
)
from app.backends.ids import PATH_ID
from app.backends.wrapping import Wrapping


@dataclass(frozen=True)
class InputCaps:
    """Longest accepted value per field, in characters (Rocket.Chat's own ids are 17)."""

    token: int = 256
    identifier: int = 128  # room, message and agent ids
    name: int = 256
    email: int = 254  # RFC 5321
    phone: int = 64
    username: int = 128
    department: int = 128
    message: int = 65_536  # the character limit proper is the backend's (5000 by default)
    status: int = 64
    custom_field_key: int = 128
    custom_field_value: int = 4096
    custom_fields: int = 50  # fields set by one call
    survey_answers: int = 20
    host: int = 2048
    # A page of history, plus the one message more that tells whether an older one exists.
    history: int = HISTORY_LIMIT + 1


def _cap(name: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise InvalidParams(f"'{name}' must NOT have more than {limit} characters")


def _path_id(name: str, value: str, limit: int) -> None:
    """Ids that go into an upstream URL path (a message's, a room's history and realtime
    streams), as Rocket.Chat's ids are made."""
    _cap(name, value, limit)
    if not value:
        raise InvalidParams(f"'{name}' must NOT have fewer than 1 characters")
    if not PATH_ID.fullmatch(value):
        raise InvalidParams(f"'{name}' must be letters, digits, '-' or '_'")


class GuardedBackend(Wrapping):
    """Delegates to `inner` once the input passes the caps."""

    def __init__(self, inner: LivechatBackend, caps: InputCaps = InputCaps()) -> None:
        super().__init__(inner)
        self.caps = caps

    async def register_visitor(self, registration: VisitorRegistration) -> Visitor:
        caps = self.caps
        _cap("token", registration.token, caps.token)
        _cap("name", registration.name, caps.name)
        _cap("email", registration.email, caps.email)
        _cap("phone", registration.phone, caps.phone)
        _cap("username", registration.username, caps.username)
        _cap("department", registration.department, caps.department)
        return await self.inner.register_visitor(registration)

    async def open_room(
        self, token: str, rid: str | None = None, agent_id: str | None = None
    ) -> tuple[Room, bool]:
        _cap("token", token, self.caps.token)
        _cap("rid", rid, self.caps.identifier)
        _cap("agentId", agent_id, self.caps.identifier)
        return await self.inner.open_room(token, rid, agent_id)

    async def send_message(self, outgoing: OutgoingMessage) -> Message:
        caps = self.caps
        _cap("token", outgoing.token, caps.token)
        _cap("rid", outgoing.rid, caps.identifier)
        if outgoing.id is not None:  # a retried send reads the message back by this id
            _path_id("_id", outgoing.id, caps.identifier)
        _cap("msg", outgoing.msg, caps.message)
        if outgoing.agent is not None:
            _cap("agentId", outgoing.agent.agent_id, caps.identifier)
            _cap("username", outgoing.agent.username, caps.username)
        return await self.inner.send_message(outgoing)

    async def message(self, token: str, rid: str, message_id: str) -> Message:
        _cap("token", token, self.caps.token)
        _cap("rid", rid, self.caps.identifier)
        _path_id("_id", message_id, self.caps.identifier)
        return await self.inner.message(token, rid, message_id)

    async def update_message(self, token: str, rid: str, message_id: str, msg: str) -> Message:
        _cap("token", token, self.caps.token)
        _cap("rid", rid, self.caps.identifier)
        _path_id("_id", message_id, self.caps.identifier)
        _cap("msg", msg, self.caps.message)
        return await self.inner.update_message(token, rid, message_id, msg)

    async def delete_message(self, token: str, rid: str, message_id: str) -> DeletedMessage:
        _cap("token", token, self.caps.token)
        _cap("rid", rid, self.caps.identifier)
        _path_id("_id", message_id, self.caps.identifier)
        return await self.inner.delete_message(token, rid, message_id)

    async def close_room(self, token: str, rid: str) -> str:
        _cap("token", token, self.caps.token)
        _cap("rid", rid, self.caps.identifier)
        return await self.inner.close_room(token, rid)

    async def message_history(
        self, token: str, rid: str, limit: int = 20, before: datetime | None = None
    ) -> list[Message]:
        _cap("token", token, self.caps.token)
        _path_id("rid", rid, self.caps.identifier)
        if not 1 <= limit <= self.caps.history:
            raise InvalidParams(f"'limit' must be between 1 and {self.caps.history}")
        return await self.inner.message_history(token, rid, limit, before)

    async def subscribe_room(self, token: str, rid: str) -> RoomEvents:
        _cap("token", token, self.caps.token)
        _path_id("rid", rid, self.caps.identifier)  # the back-fill reads the room's history
        return await self.inner.subscribe_room(token, rid)

    # ---- before and around the chat ----

    async def config(self, token: str | None = None, department: str | None = None) -> WidgetConfig:
        _cap("token", token, self.caps.token)
        _cap("department", department, self.caps.department)
        return await self.inner.config(token, department)

    async def visitor(self, token: str) -> Visitor:
        _path_id("token", token, self.caps.token)  # a path segment: visitor/:token
        return await self.inner.visitor(token)

    async def set_custom_fields(self, token: str, fields: list[CustomField]) -> list[CustomField]:
        caps = self.caps
        _cap("token", token, caps.token)
        if len(fields) > caps.custom_fields:
            raise InvalidParams(f"'fields' must NOT have more than {caps.custom_fields} items")
        for field in fields:
            _cap("key", field.key, caps.custom_field_key)
            _cap("value", field.value, caps.custom_field_value)
        return await self.inner.set_custom_fields(token, fields)

    async def set_visitor_status(self, token: str, status: str) -> str:
        _cap("token", token, self.caps.token)
        _cap("status", status, self.caps.status)
        return await self.inner.set_visitor_status(token, status)

    async def remove_visitor(self, token: str) -> RemovedVisitor:
        _path_id("token", token, self.caps.token)  # a path segment: visitor/:token
        return await self.inner.remove_visitor(token)

    async def send_offline_message(self, offline: OfflineMessage) -> str:
        caps = self.caps
        _cap("name", offline.name, caps.name)
        _cap("email", offline.email, caps.email)
        _cap("message", offline.message, caps.message)
        _cap("department", offline.department, caps.department)
        _cap("host", offline.host, caps.host)
        return await self.inner.send_offline_message(offline)

    async def request_transcript(self, token: str, rid: str, email: str) -> str:
        _cap("token", token, self.caps.token)
        _cap("rid", rid, self.caps.identifier)
        _cap("email", email, self.caps.email)
        return await self.inner.request_transcript(token, rid, email)

    async def transfer_room(self, token: str, rid: str, department: str) -> str:
        _cap("token", token, self.caps.token)
        _cap("rid", rid, self.caps.identifier)
        _cap("department", department, self.caps.department)
        return await self.inner.transfer_room(token, rid, department)

    async def rate_room(
        self, token: str, rid: str, answers: list[SurveyAnswer]
    ) -> list[SurveyAnswer]:
        caps = self.caps
        _cap("token", token, caps.token)
        _cap("rid", rid, caps.identifier)
        if len(answers) > caps.survey_answers:
            raise InvalidParams(f"'data' must NOT have more than {caps.survey_answers} items")
        for answer in answers:
            _cap("name", answer.name, caps.custom_field_key)
            _cap("value", answer.value, caps.custom_field_value)
        return await self.inner.rate_room(token, rid, answers)

    async def agent_info(self, token: str, rid: str) -> tuple[Agent | None, bool]:
        _path_id("token", token, self.caps.token)  # both go into the upstream path
        _path_id("rid", rid, self.caps.identifier)
        return await self.inner.agent_info(token, rid)

    async def set_typing(self, token: str, rid: str, typing: bool) -> None:
        _cap("token", token, self.caps.token)
        _path_id("rid", rid, self.caps.identifier)  # the event name is "<rid>/user-activity"
        return await self.inner.set_typing(token, rid, typing)

    async def upload_file(self, upload: UploadRequest) -> Message:
        _cap("token", upload.token, self.caps.token)
        _path_id("rid", upload.rid, self.caps.identifier)  # a path segment upstream
        _cap("description", upload.description, self.caps.message)
        _cap("msg", upload.msg, self.caps.message)
        _cap("file name", upload.file.name, self.caps.name)
        _cap("file type", upload.file.type, self.caps.name)
        return await self.inner.upload_file(upload)

    async def open_file(
        self, token: str, rid: str, file_id: str, name: str, byte_range: str | None = None
    ) -> FileDownload:
        _cap("token", token, self.caps.token)
        _path_id("rid", rid, self.caps.identifier)
        _path_id("id", file_id, self.caps.identifier)
        _cap("name", name, self.caps.name)
        return await self.inner.open_file(token, rid, file_id, name, byte_range)
