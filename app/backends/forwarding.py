"""What one incoming request hands to the backend beside the operation: its id and the headers
it may forward. Kept in a context variable so the backend Protocol stays free of HTTP."""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# A client's own X-Request-Id is kept only when it is a plain token (it goes into logs).
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class IncomingRequest:
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    forwarded_headers: Mapping[str, str] = field(default_factory=dict)


_current: contextvars.ContextVar[IncomingRequest | None] = contextvars.ContextVar(
    "incoming_request", default=None
)


def begin(headers: Mapping[str, str], allowed: Iterable[str]) -> IncomingRequest:
    """Record the request being served, once, as it arrives: its id (the client's own
    X-Request-Id when it is a plain token) and the allow-listed headers."""
    allow = {name.lower() for name in allowed}
    kept = {name: value for name, value in headers.items() if name.lower() in allow}
    offered = headers.get("x-request-id") or ""
    incoming = IncomingRequest(
        request_id=offered if REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex,
        forwarded_headers=kept,
    )
    _current.set(incoming)
    return incoming


def current() -> IncomingRequest:
    return _current.get() or IncomingRequest()


def request_id() -> str | None:
    """The id of the request being served, if any (for log lines)."""
    incoming = _current.get()
    return None if incoming is None else incoming.request_id
