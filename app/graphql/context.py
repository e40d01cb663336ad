"""What a resolver gets: the backend and the request's id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from app.backends.base import LivechatBackend


@dataclass
class Context(BaseContext):
    """Built per request by the app; resolvers read the backend from here, never import one."""

    backend: LivechatBackend
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        super().__init__()


def request_context(backend: LivechatBackend, request_id: str) -> Context:
    """The context of one request, the same whichever path answers it: Strawberry's view (the
    app's `context_getter`) and the lean POST path (`app.graphql.lean`) both build it here."""
    return Context(backend=backend, request_id=request_id)


Info = StrawberryInfo[Context, None]
