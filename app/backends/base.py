"""The one interface both backends implement, the domain records it speaks in, and its errors.

Resolvers call a `LivechatBackend` and never see SQL or HTTP. Expected failures are
`LivechatFailure` subclasses, one per Rocket.Chat error string, so that the GraphQL layer can map
them to `LivechatError` data in a single place. Infrastructure failures are `BackendFailure`
subclasses and become top-level GraphQL errors:

    Exception
    ├── LivechatFailure            Rocket.Chat said no: becomes LivechatError data
    │   ├── InvalidParams          invalid-params
    │   ├── InvalidToken           invalid-token
    │   ├── InvalidRoom            invalid-room
    │   ├── RoomClosed             room-closed
    │   ├── MessageTooLong         message-length-exceeds-character-limit
    │   ├── InvalidMessage         invalid-message
    │   ├── NotAllowed             error-not-allowed
    │   └── OtherLivechatFailure   any other Rocket.Chat error string
    └── BackendFailure             the backend could not answer: a top-level error
        ├── UpstreamUnavailable    UPSTREAM_UNAVAILABLE
        ├── UpstreamTimeout        UPSTREAM_TIMEOUT
        ├── UpstreamError          UPSTREAM_ERROR
        └── RateLimited            RATE_LIMITED (retry_after seconds)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

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


class LivechatFailure(Exception):
    """Rocket.Chat refused the request with `{success: false, error}`."""

    code: ClassVar[str] = "OTHER"
    upstream_error: str

    def __init__(self, reason: str, upstream_error: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.upstream_error = upstream_error or type(self).default_upstream_error

    default_upstream_error: ClassVar[str] = "error"


class InvalidParams(LivechatFailure):
    code = "INVALID_PARAMS"
    default_upstream_error = "invalid-params"


class InvalidToken(LivechatFailure):
    code = "INVALID_TOKEN"
    default_upstream_error = "invalid-token"


class InvalidRoom(LivechatFailure):
    code = "INVALID_ROOM"
    default_upstream_error = "invalid-room"


class RoomClosed(LivechatFailure):
    code = "ROOM_CLOSED"
    default_upstream_error = "room-closed"


class MessageTooLong(LivechatFailure):
    code = "MESSAGE_TOO_LONG"
    default_upstream_error = "message-length-exceeds-character-limit"


class InvalidMessage(LivechatFailure):
    code = "INVALID_MESSAGE"
    default_upstream_error = "invalid-message"


class NotAllowed(LivechatFailure):
    code = "NOT_ALLOWED"
    default_upstream_error = "error-not-allowed"


class OtherLivechatFailure(LivechatFailure):
    code = "OTHER"


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

    async def message_history(self, token: str, rid: str, limit: int = 20) -> list[Message]:
        """The room's newest messages, newest first, as Rocket.Chat's history answers them."""
        ...

    async def readiness(self) -> str | None:
        """None when the backend can serve requests now, else why it cannot (for /readyz)."""
        ...

    async def aclose(self) -> None:
        """Release connections and files."""
        ...
