"""The request being served, as the rest of the app sees it: its id, the headers it may forward,
and who sent it (the visitor's address and User-Agent, which the upstream backend passes on to
Rocket.Chat so that its per-address rate limits count each visitor on their own).

Kept in a context variable, written once by the HTTP edge as a request arrives, so that the
backend Protocol stays free of HTTP. This is a bottom module: it imports nothing of ours.

The address is the ASGI scope's `client`: the TCP peer, or, when the peer is a trusted proxy,
what uvicorn's `ProxyHeadersMiddleware` (wrapped around the app for `TRUSTED_PROXIES`) took
from X-Forwarded-For. A client that is not a trusted proxy cannot choose it.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# A client's own X-Request-Id is kept only when it is a plain token (it goes into logs).
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The longest User-Agent passed on; browsers send a few hundred characters.
USER_AGENT_LIMIT = 512


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
    client_address: str | None = None
    user_agent: str | None = None

    def visitor_headers(self) -> dict[str, str]:
        """What tells Rocket.Chat who the visitor is: X-Forwarded-For (one value, whatever
        the client sent) and X-Real-IP with their address, and their User-Agent."""
        headers = {}
        if self.client_address:
            headers["x-forwarded-for"] = headers["x-real-ip"] = self.client_address
        if self.user_agent:
            headers["user-agent"] = self.user_agent
        return headers


_current: contextvars.ContextVar[IncomingRequest | None] = contextvars.ContextVar(
    "incoming_request", default=None
)


def header_names(names: Iterable[str]) -> frozenset[bytes]:
    """Header names as an ASGI scope carries them (lower-case bytes), encoded once by each
    caller of `begin`."""
    return frozenset(name.lower().encode("latin-1") for name in names)


def begin(scope: Mapping[str, Any], allowed: frozenset[bytes]) -> IncomingRequest:
    """Record the request being served, once, as it arrives, from an ASGI scope: its id (the
    client's own X-Request-Id when it is a plain token), the allow-listed headers (`allowed`
    from `header_names`), its client's address and User-Agent, without a decoded copy of
    every header."""
    offered = None
    agent = None
    kept: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name == b"x-request-id" and offered is None:
            offered = value.decode("latin-1")
        elif name == b"user-agent" and agent is None:
            agent = value[:USER_AGENT_LIMIT].decode("latin-1")
        if name in allowed:
            kept[name.decode("latin-1")] = value.decode("latin-1")
    client = scope.get("client")
    incoming = IncomingRequest(
        request_id=offered if offered and REQUEST_ID.fullmatch(offered) else new_request_id(),
        forwarded_headers=kept,
        client_address=client[0] if client else None,
        user_agent=agent,
    )
    _current.set(incoming)
    return incoming


def current() -> IncomingRequest:
    return _current.get() or IncomingRequest()


def request_id() -> str | None:
    """The id of the request being served, if any (for log lines)."""
    incoming = _current.get()
    return None if incoming is None else incoming.request_id
