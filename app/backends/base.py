"""The one interface both backends implement, the domain records it speaks in, and its errors.

Resolvers call a `LivechatBackend` and never see SQL or HTTP. Expected failures are
`LivechatFailure` subclasses, one per Rocket.Chat error id, each carrying its GraphQL code, the id
and a reason. Everything else is derived from these classes, never restated: the GraphQL
`LivechatErrorCode` enum, the upstream backend's reading of Rocket.Chat's bodies, and the
in-process REST routes' error bodies. Adding a Rocket.Chat error is adding a class here.
Infrastructure failures are `BackendFailure` subclasses and become top-level GraphQL errors:

    Exception
    ├── LivechatFailure                 Rocket.Chat said no: becomes LivechatError data
    │   ├── InvalidParams               INVALID_PARAMS    invalid-params (reason: which field)
    │   │   └── EmptyMessage            INVALID_PARAMS    error-invalid-message (an empty edit)
    │   ├── InvalidToken                INVALID_TOKEN     invalid-token
    │   │   └── InvalidVisitor          INVALID_TOKEN     error-invalid-visitor (transcript)
    │   ├── InvalidRoom                 INVALID_ROOM      invalid-room
    │   │   └── ErrorInvalidRoom        INVALID_ROOM      error-invalid-room (transcript, 8.x)
    │   ├── RoomClosed                  ROOM_CLOSED       room-closed
    │   │   └── ConversationClosed      ROOM_CLOSED       This_conversation_is_already_closed (8.x)
    │   ├── MessageTooLong              MESSAGE_TOO_LONG  message-length-exceeds-character-limit
    │   │   └── MessageSizeExceeded     MESSAGE_TOO_LONG  error-message-size-exceeded
    │   ├── InvalidMessage              INVALID_MESSAGE   invalid-message
    │   ├── NotAllowed                  NOT_ALLOWED       error-not-allowed
    │   │   ├── ActionNotAllowed        NOT_ALLOWED       error-action-not-allowed (not one's own)
    │   │   ├── CloseNotAllowed         NOT_ALLOWED       error-not-allowed-to-close-conversation
    │   │   ├── StreamNotAllowed        NOT_ALLOWED       not-allowed (a DDP stream's nosub)
    │   │   ├── Unauthorized            NOT_ALLOWED       unauthorized (an upload's or a file's 403)
    │   │   └── Forbidden               NOT_ALLOWED       forbidden (8.x: the same 403)
    │   ├── UploadDisabled              UPLOAD_DISABLED   error-file-upload-disabled
    │   ├── FileTooLarge                FILE_TOO_LARGE    error-file-too-large
    │   │   └── SizeNotAllowed          FILE_TOO_LARGE    error-size-not-allowed
    │   ├── FileTypeNotAllowed          FILE_TYPE_NOT_ALLOWED  error-type-not-allowed
    │   ├── LivechatDisabled            LIVECHAT_DISABLED error-omnichannel-is-disabled
    │   ├── InvalidDepartment           INVALID_DEPARTMENT error-invalid-department
    │   ├── InvalidEmail                INVALID_EMAIL     error-invalid-email
    │   ├── InvalidCustomField          INVALID_CUSTOM_FIELD invalid-custom-field
    │   │   └── InvalidCustomFieldValue INVALID_CUSTOM_FIELD "Invalid value for <key> field"
    │   ├── VisitorHasOpenRooms         VISITOR_HAS_OPEN_ROOMS visitor-has-open-rooms
    │   ├── InvalidSurveyData           INVALID_PARAMS    invalid-data (no answer kept)
    │   ├── OtherLivechatFailure        OTHER             any other id (kept as given)
    │   │   ├── DuplicateMessageId      OTHER             error-duplicate-message-id
    │   │   ├── TokenParamNotProvided   OTHER             error-token-param-not-provided
    │   │   ├── RemovingVisitorFailed   OTHER             error-removing-visitor
    │   │   ├── OfflineMessageNotSent   OTHER             Error sending Omnichannel offline message
    │   │   ├── RoomOnHold              OTHER             error-room-onHold (7.x transfer)
    │   │   └── TransferFailed          OTHER             error-transfering-chat (8.x transfer)
    │   ├── NoAgent                     NO_AGENT          invalid-agent (nobody serves the room)
    │   │   └── AgentNotFound           NO_AGENT          agent-not-found
    │   └── NoAgentOnline               NO_AGENT_ONLINE   no-agent-online
    └── BackendFailure                  the backend could not answer: a top-level error
        ├── UpstreamUnavailable         UPSTREAM_UNAVAILABLE
        ├── UpstreamTimeout             UPSTREAM_TIMEOUT
        ├── UpstreamError               UPSTREAM_ERROR
        ├── RateLimited                 RATE_LIMITED (retry_after seconds)
        ├── StorageFull                 STORAGE_FULL: the in-process database has no room left
        └── StorageUnavailable          STORAGE_UNAVAILABLE: it cannot be written
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeAlias

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Visitor:
    """A livechat visitor (Rocket.Chat's `livechat_visitor` document)."""

    id: str
    token: str
    username: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    department: str | None = None


@dataclass(frozen=True, slots=True)
class Room:
    """A livechat room as a visitor sees it."""

    id: str
    open: bool
    visitor_id: str
    visitor_token: str
    visitor_username: str
    ts: datetime | None = None
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class MessageAuthor:
    """Rocket.Chat's `u`: who sent the message."""

    id: str
    username: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A stored livechat message in Rocket.Chat's shape; `md` is the parser's raw AST."""

    id: str
    rid: str
    msg: str
    ts: datetime
    u: MessageAuthor
    updated_at: datetime
    token: str | None = None
    alias: str | None = None
    urls: list[JsonObject] = field(default_factory=list)
    mentions: list[JsonObject] = field(default_factory=list)
    channels: list[JsonObject] = field(default_factory=list)
    md: list[JsonObject] = field(default_factory=list)
    t: str | None = None
    """Rocket.Chat's message type: None for text, e.g. "livechat-close" for a system message."""
    edited_at: datetime | None = None
    edited_by: MessageAuthor | None = None
    file: JsonObject | None = None
    """Rocket.Chat's `file` {_id, name, type, size?}: the uploaded file the message carries."""
    files: list[JsonObject] = field(default_factory=list)
    attachments: list[JsonObject] = field(default_factory=list)
    """Rocket.Chat's attachments as it stores them (snake_case keys: title_link, image_url...)."""


@dataclass(frozen=True, slots=True)
class DeletedMessage:
    """What a deletion answers: the message's id and when it was deleted."""

    id: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class VisitorRegistration:
    """The body of POST /api/v1/livechat/visitor."""

    token: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    username: str | None = None
    department: str | None = None


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent as a visitor may see them (Rocket.Chat's `agent.info` projection)."""

    id: str
    username: str
    name: str | None = None
    status: str | None = None
    emails: tuple[str, ...] = ()
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class AgentRef:
    """The optional `agent` of a send: who the message is addressed to."""

    agent_id: str
    username: str


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """The body of POST /api/v1/livechat/message; `id` is the client's `_id`, if any."""

    token: str
    rid: str
    msg: str
    id: str | None = None
    agent: AgentRef | None = None


@dataclass(frozen=True, eq=False, slots=True, weakref_slot=True)
class MessageChanged:
    """A message stored in a room, new or changed (Rocket.Chat's `stream-room-messages`).

    Compared by identity: every subscriber of the room receives this very object, which lets
    the GraphQL layer execute and serialise one event once for all of them."""

    message: Message


@dataclass(frozen=True, eq=False, slots=True, weakref_slot=True)
class MessageDeleted:
    """A message removed from a room (Rocket.Chat's `stream-notify-room <rid>/deleteMessage`)."""

    id: str
    rid: str


@dataclass(frozen=True, eq=False, slots=True, weakref_slot=True)
class Typing:
    """Someone in the room started or stopped typing (`stream-notify-room <rid>/user-activity`).

    `by_visitor` marks the visitor's own typing: it reaches the agents, never the visitor's own
    subscriptions (Rocket.Chat does not send a connection its own activity)."""

    rid: str
    username: str
    typing: bool
    by_visitor: bool = False


@dataclass(frozen=True, eq=False, slots=True, weakref_slot=True)
class AgentChanged:
    """Who serves the room changed (`stream-livechat-room` agentData): `agent` None when the
    room is back in the queue; `hidden` when Rocket.Chat hides agent info."""

    rid: str
    agent: Agent | None
    hidden: bool = False


@dataclass(frozen=True, eq=False, slots=True, weakref_slot=True)
class AgentStatusChanged:
    """The serving agent's presence changed (`stream-livechat-room` agentStatus)."""

    rid: str
    status: str


@dataclass(frozen=True, eq=False, slots=True, weakref_slot=True)
class QueuePosition:
    """The room waits for an agent: its place in the queue (`stream-livechat-room` queueData),
    1 for the next room served."""

    rid: str
    position: int
    estimated_wait_time_seconds: int | None = None


RoomEvent: TypeAlias = (
    MessageChanged | MessageDeleted | Typing | AgentChanged | AgentStatusChanged | QueuePosition
)


class FileUpload(Protocol):
    """A file as it arrives: name and media type from its multipart part's headers, its bytes
    read while they come in (never held whole). `chunks` raises FileTooLarge once more than
    the upload limit has come, and may be iterated once."""

    name: str
    type: str

    def chunks(self) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """POST /api/v1/livechat/upload/:rid: the visitor's token header, the file, and the form's
    `description` (the attachment's) and `msg` (the message's text)."""

    token: str
    rid: str
    file: FileUpload
    description: str | None = None
    msg: str | None = None


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A stored file the in-process backend serves from its own disk."""

    path: Path
    name: str
    type: str
    size: int


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file streamed from Rocket.Chat: its status (200 or 206), the headers that describe
    the body (Content-Type, Content-Length, Content-Range, Accept-Ranges), the body's chunks,
    and `close` to release the connection (also when the reader stops early)."""

    status: int
    headers: dict[str, str]
    name: str
    type: str
    chunks: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]


FileDownload: TypeAlias = LocalFile | RemoteFile


class RoomEvents(Protocol):
    """A live subscription to one room: its events in order, until `aclose()`.

    Ending the iteration means the backend stopped (shutdown); an expected failure met while
    the subscription runs (the room refused on a resubscribe) is raised as `LivechatFailure`.
    """

    def __aiter__(self) -> RoomEvents: ...

    async def __anext__(self) -> RoomEvent: ...

    async def aclose(self) -> None: ...


# ---- before and around the chat: config, custom fields, survey, offline form ----


@dataclass(frozen=True, slots=True)
class Department:
    """A livechat department as the widget sees it (and, in-process, where its mail goes)."""

    id: str
    name: str
    show_on_registration: bool = True
    show_on_offline_form: bool = True
    email: str | None = None


@dataclass(frozen=True, slots=True)
class WidgetSettings:
    """The config answer's `settings` block."""

    registration_form: bool = True
    name_field_registration_form: bool = True
    email_field_registration_form: bool = True
    display_offline_form: bool = True
    file_upload: bool = True
    transcript: bool = False
    visitors_can_close_chat: bool = True
    allow_switching_departments: bool = True
    force_accept_data_processing_consent: bool = False
    show_connecting: bool = False
    agent_hidden_info: bool = False
    limit_text_length: int | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class WidgetTheme:
    title: str | None = None
    color: str | None = None
    offline_title: str | None = None
    offline_color: str | None = None
    position: str | None = None


@dataclass(frozen=True, slots=True)
class WidgetMessages:
    offline_message: str | None = None
    offline_success_message: str | None = None
    offline_unavailable_message: str | None = None
    conversation_finished_message: str | None = None
    conversation_finished_text: str | None = None
    transcript_message: str | None = None
    registration_form_message: str | None = None
    data_processing_consent_text: str | None = None


@dataclass(frozen=True, slots=True)
class Survey:
    items: tuple[str, ...] = ()
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WidgetConfig:
    """GET livechat/config: typed, and `raw` the whole of Rocket.Chat's `config` object."""

    enabled: bool
    online: bool
    raw: JsonObject
    settings: WidgetSettings | None = None
    theme: WidgetTheme | None = None
    messages: WidgetMessages | None = None
    survey: Survey | None = None
    departments: tuple[Department, ...] = ()
    visitor: Visitor | None = None
    room: Room | None = None
    agent: Agent | None = None


@dataclass(frozen=True, slots=True)
class CustomField:
    """One custom field value (POST livechat/custom.field's body without the token)."""

    key: str
    value: str
    overwrite: bool = True


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class RemovedVisitor:
    """DELETE livechat/visitor/:token's answer: whose data went, and when."""

    id: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class OfflineMessage:
    """The body of POST livechat/offline.message (no token: anyone may leave one)."""

    name: str
    email: str
    message: str
    department: str | None = None
    host: str | None = None


HISTORY_LIMIT = 100
"""The most messages one history page holds (the GraphQL `limit` is 1..HISTORY_LIMIT)."""


class LivechatFailure(Exception):
    """Rocket.Chat refused the request with `{success: false, error, errorType}`.

    A subclass names one Rocket.Chat error: `code` (the GraphQL category), `error` (Rocket.Chat's
    id), `reason` (what a person reads; an instance may give a more precise one) and `meteor`
    (whether Rocket.Chat throws it as a Meteor.Error, whose body reads "Reason [id]" with an
    `errorType`, rather than as a plain Error, whose body is the id alone).
    """

    code: ClassVar[str] = "OTHER"
    error: ClassVar[str] = ""
    reason: str = "Rocket.Chat refused the request"
    meteor: ClassVar[bool] = False
    description: ClassVar[str] = ""
    http_status: ClassVar[int] = 400

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason or type(self).reason
        super().__init__(self.reason)

    @property
    def upstream_error(self) -> str:
        return type(self).error

    @classmethod
    def from_upstream(cls, error: str, text: str) -> LivechatFailure:
        """This failure as read from a Rocket.Chat body (`error` the id, `text` its error
        string): the reason is ours, so that every version's wording gives the same answer."""
        return cls()

    def body(self) -> JsonObject:
        """Rocket.Chat's HTTP 400 body for this failure."""
        if self.meteor:
            return {
                "success": False,
                "error": f"{self.reason} [{self.upstream_error}]",
                "errorType": self.upstream_error,
            }
        return {"success": False, "error": self.upstream_error}


class InvalidParams(LivechatFailure):
    code = "INVALID_PARAMS"
    error = "invalid-params"
    reason = "the request's parameters are invalid"
    meteor = True
    description = "A required field is missing, empty or malformed"

    @classmethod
    def from_upstream(cls, error: str, text: str) -> LivechatFailure:
        """Validation names the field at fault: that reason is kept."""
        return cls(text.removesuffix(f" [{error}]"))


class EmptyMessage(InvalidParams):
    error = "error-invalid-message"
    reason = "Message cannot be empty"
    description = "An edit leaves the message empty"

    @classmethod
    def from_upstream(cls, error: str, text: str) -> LivechatFailure:
        return cls()


class InvalidToken(LivechatFailure):
    code = "INVALID_TOKEN"
    error = "invalid-token"
    reason = "no visitor has this token"
    description = "No visitor has this token"


class InvalidRoom(LivechatFailure):
    code = "INVALID_ROOM"
    error = "invalid-room"
    reason = "no room with this id belongs to this visitor"
    description = "The room is unknown or not the visitor's"


class RoomClosed(LivechatFailure):
    code = "ROOM_CLOSED"
    error = "room-closed"
    reason = "the room is closed"
    description = "The room is closed"


class MessageTooLong(LivechatFailure):
    code = "MESSAGE_TOO_LONG"
    error = "message-length-exceeds-character-limit"
    reason = "the message is longer than the character limit"
    description = "The message is over the character limit"


class MessageSizeExceeded(MessageTooLong):
    error = "error-message-size-exceeded"
    meteor = True


class InvalidMessage(LivechatFailure):
    code = "INVALID_MESSAGE"
    error = "invalid-message"
    reason = "no message with this id in this room"
    description = "No message has this id"


class NotAllowed(LivechatFailure):
    code = "NOT_ALLOWED"
    error = "error-not-allowed"
    reason = "Rocket.Chat does not allow this"
    meteor = True
    description = "Rocket.Chat does not allow this"


class ActionNotAllowed(NotAllowed):
    error = "error-action-not-allowed"
    reason = "only the visitor's own messages can be changed"
    meteor = False
    description = "Editing or deleting another's message, or editing switched off"


class CloseNotAllowed(NotAllowed):
    error = "error-not-allowed-to-close-conversation"
    reason = "visitors may not close conversations here"
    meteor = False
    description = "Visitors may not close conversations"


class StreamNotAllowed(NotAllowed):
    error = "not-allowed"
    reason = "Rocket.Chat refused the room's stream"
    description = "Rocket.Chat's realtime API refused the room's stream (nosub not-allowed)"


class InvalidVisitor(InvalidToken):
    error = "error-invalid-visitor"
    reason = "the token is not the room's visitor's"
    meteor = True
    description = "The token is not the room's visitor's (transcript, 8.x transfer)"


class ErrorInvalidRoom(InvalidRoom):
    error = "error-invalid-room"
    reason = "no livechat room has this id"
    meteor = True
    description = "No livechat room has this id (transcript, 8.x transfer)"


class ConversationClosed(RoomClosed):
    error = "This_conversation_is_already_closed"
    reason = "the conversation is already closed"
    description = "The room is closed (8.x transfer)"


class LivechatDisabled(LivechatFailure):
    code = "LIVECHAT_DISABLED"
    error = "error-omnichannel-is-disabled"
    reason = "Omnichannel is disabled"
    meteor = True
    description = "Livechat is switched off on the server"


class InvalidDepartment(LivechatFailure):
    code = "INVALID_DEPARTMENT"
    error = "error-invalid-department"
    reason = "The provided department is invalid"
    meteor = True
    description = "No department has this id or name"


class InvalidEmail(LivechatFailure):
    code = "INVALID_EMAIL"
    error = "error-invalid-email"
    reason = "Invalid email"
    meteor = True
    description = "The email address is not one"

    @classmethod
    def from_upstream(cls, error: str, text: str) -> LivechatFailure:
        """Rocket.Chat names the address ("Invalid email <e>"): kept."""
        return cls(text.removesuffix(f" [{error}]"))


class InvalidCustomField(LivechatFailure):
    code = "INVALID_CUSTOM_FIELD"
    error = "invalid-custom-field"
    reason = "no custom field has this key"
    description = "An unknown custom field, or a value its regexp refuses"


class InvalidCustomFieldValue(InvalidCustomField):
    """Rocket.Chat throws a plain Error whose text is the id: "Invalid value for <key> field"
    (English, no code), so the id is made per key."""

    error = "Invalid value for <key> field"
    reason = "the value does not match the field's regexp"

    PREFIX: ClassVar[str] = "Invalid value for "
    SUFFIX: ClassVar[str] = " field"

    def __init__(self, key: str = "", reason: str | None = None) -> None:
        super().__init__(reason)
        self.key = key

    @property
    def upstream_error(self) -> str:
        return f"{self.PREFIX}{self.key}{self.SUFFIX}"

    @classmethod
    def matches(cls, error: str) -> bool:
        return error.startswith(cls.PREFIX) and error.endswith(cls.SUFFIX)

    @classmethod
    def from_upstream(cls, error: str, text: str) -> LivechatFailure:
        return cls(error.removeprefix(cls.PREFIX).removesuffix(cls.SUFFIX))


class VisitorHasOpenRooms(LivechatFailure):
    code = "VISITOR_HAS_OPEN_ROOMS"
    error = "visitor-has-open-rooms"
    reason = "Cannot remove visitors with opened rooms"
    meteor = True
    description = "The visitor still has an open room"


class InvalidSurveyData(InvalidParams):
    error = "invalid-data"
    reason = "no answer is a survey item with a value from 1 to 5, or additionalFeedback"
    meteor = False
    description = "No survey answer is one Rocket.Chat keeps"

    @classmethod
    def from_upstream(cls, error: str, text: str) -> LivechatFailure:
        return cls()


class Unauthorized(NotAllowed):
    error = "unauthorized"
    reason = "only the room's visitor may do this"
    meteor = False
    http_status = 403
    description = "An upload or download for a visitor or room that is not the caller's, or closed"


class Forbidden(Unauthorized):
    error = "forbidden"
    description = "Rocket.Chat 8.x's word for the same 403"


class _ReasonBody:
    """Rocket.Chat's upload route answers these as `{reason, success: false}`."""

    upstream_error: str

    def body(self) -> JsonObject:
        return {"success": False, "reason": self.upstream_error}


class UploadDisabled(_ReasonBody, LivechatFailure):
    code = "UPLOAD_DISABLED"
    error = "error-file-upload-disabled"
    reason = "file uploads are disabled"
    description = "File uploads are switched off (Livechat_fileupload_enabled, FileUpload_Enabled)"


class FileTooLarge(LivechatFailure):
    code = "FILE_TOO_LARGE"
    error = "error-file-too-large"
    reason = "File size exceeds the allowed limit"
    meteor = True
    description = "The file is over FileUpload_MaxFileSize"


class SizeNotAllowed(FileTooLarge):
    error = "error-size-not-allowed"
    meteor = False


class FileTypeNotAllowed(_ReasonBody, LivechatFailure):
    code = "FILE_TYPE_NOT_ALLOWED"
    error = "error-type-not-allowed"
    reason = "files of this type are not allowed"
    description = "The file's media type is blocked or not in the allow list"


class OtherLivechatFailure(LivechatFailure):
    """A Rocket.Chat error this version has no class for: its id is kept as given."""

    code = "OTHER"
    description = "Any other Rocket.Chat error; upstreamError says which"

    def __init__(self, reason: str | None = None, upstream_error: str = "error") -> None:
        super().__init__(reason)
        self._upstream_error = type(self).error or upstream_error

    @property
    def upstream_error(self) -> str:
        return self._upstream_error

    @classmethod
    def from_upstream(cls, error: str, text: str) -> LivechatFailure:
        """A known id has our reason; an unknown one keeps Rocket.Chat's words."""
        if cls.error:
            return cls()
        return cls(text.removesuffix(f" [{error}]"), error)


class DuplicateMessageId(OtherLivechatFailure):
    error = "error-duplicate-message-id"
    reason = "a message with this id already exists"


class TokenParamNotProvided(OtherLivechatFailure):
    error = "error-token-param-not-provided"
    reason = "the token query parameter is required"


class RemovingVisitorFailed(OtherLivechatFailure):
    error = "error-removing-visitor"
    reason = "An error ocurred while deleting visitor"
    meteor = True


class OfflineMessageNotSent(OtherLivechatFailure):
    """Every refusal of an offline message after validation: Rocket.Chat says no more."""

    error = "Error sending Omnichannel offline message"
    reason = "the offline message was refused (offline form off, or no email)"


class RoomOnHold(OtherLivechatFailure):
    error = "error-room-onHold"
    reason = "the room is on hold"
    meteor = True


class TransferFailed(OtherLivechatFailure):
    error = "error-transfering-chat"
    reason = "the room could not be transferred"


class NoAgent(LivechatFailure):
    code = "NO_AGENT"
    error = "invalid-agent"
    reason = "no agent serves this room yet"
    description = "No agent serves the room yet, or none can be found"


class AgentNotFound(NoAgent):
    error = "agent-not-found"
    reason = "no agent is available"


class NoAgentOnline(LivechatFailure):
    code = "NO_AGENT_ONLINE"
    error = "no-agent-online"
    reason = "Sorry, no online agents"
    meteor = True
    description = "No agent is online and rooms may not wait for one"


def _tree(root: type[LivechatFailure]) -> list[type[LivechatFailure]]:
    return [root, *(kind for child in root.__subclasses__() for kind in _tree(child))]


FAILURES: tuple[type[LivechatFailure], ...] = tuple(_tree(LivechatFailure)[1:])
"""Every Rocket.Chat failure, in the order drawn above."""

FAILURE_BY_ERROR: dict[str, type[LivechatFailure]] = {
    kind.error: kind for kind in FAILURES if kind.error
}
"""Rocket.Chat's error id to the failure it means."""


class BackendFailure(Exception):
    """The backend could not give an answer at all; `code` is the GraphQL extensions code."""

    code: ClassVar[str] = "UPSTREAM_ERROR"


class UpstreamUnavailable(BackendFailure):
    code = "UPSTREAM_UNAVAILABLE"


class UpstreamTimeout(BackendFailure):
    code = "UPSTREAM_TIMEOUT"


class UpstreamError(BackendFailure):
    code = "UPSTREAM_ERROR"


class RateLimited(BackendFailure):
    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageFull(BackendFailure):
    code = "STORAGE_FULL"


class StorageUnavailable(BackendFailure):
    code = "STORAGE_UNAVAILABLE"


class LivechatBackend(Protocol):
    """What the GraphQL resolvers (and the REST routes) need from a backend."""

    async def register_visitor(self, registration: VisitorRegistration) -> Visitor:
        """Create the visitor for this token, or update the one that has it."""
        ...

    async def open_room(
        self, token: str, rid: str | None = None, agent_id: str | None = None
    ) -> tuple[Room, bool]:
        """The visitor's open room, or a new one; the flag says whether it is new."""
        ...

    async def send_message(self, outgoing: OutgoingMessage) -> Message:
        """Store a visitor's message; sending an existing `id` again answers the stored one."""
        ...

    async def message(self, token: str, rid: str, message_id: str) -> Message:
        """One message of the visitor's room (GET /api/v1/livechat/message/:_id)."""
        ...

    async def close_room(self, token: str, rid: str) -> str:
        """Close the visitor's room and answer its id."""
        ...

    async def update_message(self, token: str, rid: str, message_id: str, msg: str) -> Message:
        """Replace the text of one of the visitor's own messages (PUT .../message/:_id)."""
        ...

    async def delete_message(self, token: str, rid: str, message_id: str) -> DeletedMessage:
        """Delete one of the visitor's own messages (DELETE .../message/:_id)."""
        ...

    async def message_history(
        self, token: str, rid: str, limit: int = 20, before: datetime | None = None
    ) -> list[Message]:
        """The room's newest messages older than `before`, newest first, at most `limit`
        (GET .../messages.history/:rid with Rocket.Chat's `end`)."""
        ...

    async def subscribe_room(self, token: str, rid: str) -> RoomEvents:
        """Subscribe to the visitor's open room: every event after this returns, in order.

        Raises InvalidToken, or InvalidRoom for a room that is unknown, another visitor's or
        closed (as Rocket.Chat refuses a closed room's stream).
        """
        ...

    async def config(self, token: str | None = None, department: str | None = None) -> WidgetConfig:
        """GET livechat/config: the widget's settings, `online`, and with `token` the visitor,
        their open room and its agent."""
        ...

    async def visitor(self, token: str) -> Visitor:
        """GET livechat/visitor/:token."""
        ...

    async def set_custom_fields(self, token: str, fields: list[CustomField]) -> list[CustomField]:
        """POST livechat/custom.field once per field, in order; the first refusal stops it."""
        ...

    async def set_visitor_status(self, token: str, status: str) -> str:
        """POST livechat/visitor.status; answers the status set."""
        ...

    async def remove_visitor(self, token: str) -> RemovedVisitor:
        """DELETE livechat/visitor/:token: the visitor with their rooms and messages."""
        ...

    async def send_offline_message(self, offline: OfflineMessage) -> str:
        """POST livechat/offline.message; answers Rocket.Chat's message."""
        ...

    async def request_transcript(self, token: str, rid: str, email: str) -> str:
        """POST livechat/transcript; answers Rocket.Chat's message."""
        ...

    async def transfer_room(self, token: str, rid: str, department: str) -> str:
        """8.x visitor/department.transfer, else 7.x room.transfer; answers the rid."""
        ...

    async def rate_room(
        self, token: str, rid: str, answers: list[SurveyAnswer]
    ) -> list[SurveyAnswer]:
        """POST livechat/room.survey; answers what was kept."""
        ...

    async def agent_info(self, token: str, rid: str) -> tuple[Agent | None, bool]:
        """The agent serving the visitor's room, open or closed (GET .../agent.info/:rid/:token),
        and whether Rocket.Chat hides agent info (then the agent is None)."""
        ...

    async def set_typing(self, token: str, rid: str, typing: bool) -> None:
        """Tell the room's agent that the visitor is typing, or stopped (DDP method
        stream-notify-room <rid>/user-activity)."""
        ...

    async def upload_file(self, upload: UploadRequest) -> Message:
        """Store one file and send it as the visitor's message (Rocket.Chat's upload route):
        refused as soon as a check fails, leaving nothing stored."""
        ...

    async def open_file(
        self, token: str, rid: str, file_id: str, name: str, byte_range: str | None = None
    ) -> FileDownload:
        """A file of the room `rid` for its visitor `token` (open or closed room), else
        Unauthorized; `byte_range` is the request's Range header, passed on."""
        ...

    async def readiness(self) -> str | None:
        """None when the backend can serve requests now, else why it cannot (for /readyz)."""
        ...

    async def aclose(self) -> None:
        """Release connections and files."""
        ...
