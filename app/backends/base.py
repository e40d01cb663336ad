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
    │   ├── InvalidRoom                 INVALID_ROOM      invalid-room
    │   ├── RoomClosed                  ROOM_CLOSED       room-closed
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
    │   └── OtherLivechatFailure        OTHER             any other id (kept as given)
    │       ├── DuplicateMessageId      OTHER             error-duplicate-message-id
    │       └── TokenParamNotProvided   OTHER             error-token-param-not-provided
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


RoomEvent: TypeAlias = MessageChanged | MessageDeleted


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
