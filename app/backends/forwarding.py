"""What one incoming request hands to the backend beside the operation: its id and the headers
it may forward. Kept in a context variable so the backend Protocol stays free of HTTP."""

from __future__ import annotations

import contextvars
import itertools
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# A client's own X-Request-Id is kept only when it is a plain token (it goes into logs).
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class _RequestIds:
    """Request ids unique across processes without a uuid4 each (whose 16 bytes from the OS
    were a visible share of a send's CPU): 32 hex digits, a random prefix drawn once per
    process (and again in a forked child) and a counter."""

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


new_request_id = _RequestIds()


@dataclass(frozen=True)
class IncomingRequest:
    request_id: str = field(default_factory=new_request_id)
    forwarded_headers: Mapping[str, str] = field(default_factory=dict)


_current: contextvars.ContextVar[IncomingRequest | None] = contextvars.ContextVar(
    "incoming_request", default=None
)


def header_names(names: Iterable[str]) -> frozenset[bytes]:
    """Header names as an ASGI scope carries them (lower-case bytes), encoded once by each
    caller of `begin`."""
    return frozenset(name.lower().encode("latin-1") for name in names)


def begin(headers: Iterable[tuple[bytes, bytes]], allowed: frozenset[bytes]) -> IncomingRequest:
    """Record the request being served, once, as it arrives, from an ASGI scope's raw headers:
    its id (the client's own X-Request-Id when it is a plain token) and the allow-listed
    headers (`allowed` from `header_names`), without a decoded copy of every header."""
    offered = None
    kept: dict[str, str] = {}
    for name, value in headers:
        if name == b"x-request-id" and offered is None:
            offered = value.decode("latin-1")
        if name in allowed:
            kept[name.decode("latin-1")] = value.decode("latin-1")
    return _begin(offered or "", kept)


def _begin(offered: str, kept: dict[str, str]) -> IncomingRequest:
    incoming = IncomingRequest(
        request_id=offered if REQUEST_ID.fullmatch(offered) else new_request_id(),
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
