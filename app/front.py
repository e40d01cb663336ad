"""The front door: the requests clients send most, answered before FastAPI's machinery.

Every request through FastAPI passes its telemetry check (it looks up OpenTelemetry's global
providers, each time), its own middlewares (error telemetry, body limit), ours (RequestScope,
JsonErrors, BodySizeLimit, PersistedQueries), its router and dependency solving, then
Strawberry's view and `Schema.execute` with its extensions: for a send, more CPU than the
GraphQL execution itself. Two kinds of request come here first:

- `POST /graphql` with a JSON body of known length: the guards are applied here in one pass
  (the request id and forwarded headers, the body limit, a JSON 500 for a bug), the body is
  read and parsed once, persisted queries are resolved, and `app.graphql.lean` runs it. What
  that cannot answer exactly as Strawberry would (see `lean.prepare`) goes on to the FastAPI
  app untouched, its body replayed: the guards there apply as to any request.
- Rocket.Chat's REST routes (in-process backend): the request id and the JSON 500 given here,
  the matched endpoint called at once, without FastAPI's router in between; a body of unknown
  or excessive length goes through the guard classes the FastAPI app uses.

Everything else (GET, GraphiQL, WebSockets, multipart, health, metrics) goes to FastAPI.

What every request needs whichever way it is answered (CORS, the current metrics, the server
span, the drain) wraps this door rather than sitting inside FastAPI (`app.main.LivechatApp`):
one entrance, so that none of them sends a request the slow way.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence

import orjson
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import request_scope
from app.graphql import lean
from app.graphql.persisted import DocumentCache
from app.graphql.schema import Schema
from app.middleware import BodySizeLimit, JsonErrors, RequestScope, answer_bug
from app.persisted_queries import replay
from app.uploads import bounded_by_upload_limit

GRAPHQL_PATH = "/graphql"
JSON = b"application/json"
STREAMED = b"multipart/mixed"


class Front:
    """Wraps the FastAPI app (see `app.main.LivechatApp`)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        schema: Schema | None,
        documents: DocumentCache,
        routes: Sequence[Route],
        forward_headers: Iterable[str],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.schema = schema
        self.documents = documents
        self.forward_headers = list(forward_headers)
        self.forwarded = request_scope.header_names(self.forward_headers)
        self.max_body_bytes = max_body_bytes
        # Each route behind the guards the FastAPI app puts in front of it, in the same order.
        self.routes = [
            (
                route,
                RequestScope(
                    JsonErrors(
                        BodySizeLimit(route.handle, max_body_bytes, exempt=bounded_by_upload_limit)
                    ),
                    forward_headers,
                ),
            )
            for route in routes
        ]
        self.route_prefix = _common_prefix([getattr(route, "path", "") for route in routes])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == GRAPHQL_PATH and scope["method"] == "POST" and self.schema is not None:
                await self._graphql(scope, receive, send)
                return
            if self.routes and path.startswith(self.route_prefix):
                for route, guarded in self.routes:
                    match, child_scope = route.matches(scope)
                    if match is Match.FULL:
                        scope.update(child_scope)
                        await self._route(route, guarded, scope, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _route(
        self, route: Route, guarded: ASGIApp, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """A body of declared length within the limit (or none at all): the guards' work done
        here and the endpoint called at once. A body of unknown length (chunked), or one
        declared too long, goes through the guard classes, which count or refuse it."""
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                await guarded(scope, receive, send)
                return
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await guarded(scope, receive, send)
            return
        request_id = request_scope.begin(scope, self.forwarded).request_id
        try:
            response = await route.endpoint(Request(scope, receive, send))
        except Exception:
            await answer_bug(scope, receive, send, request_id)
            return
        response.headers["X-Request-Id"] = request_id
        await response(scope, receive, send)

    async def _graphql(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = content_type = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"accept" and STREAMED in value:
                length = None  # a multipart answer is Strawberry's view's
                break
        if (
            length is None
            or content_type is None
            or not content_type.startswith(JSON)
            or not length.isdigit()
            or int(length) > self.max_body_bytes
        ):
            # No length (chunked), too long, or not JSON: BodySizeLimit and the view answer.
            await self.app(scope, receive, send)
            return
        read: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        prepared = None
        if read[-1]["type"] == "http.request" and len(body) <= self.max_body_bytes:
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                payload = None
            if isinstance(payload, dict):
                assert self.schema is not None
                prepared = lean.prepare(self.schema, self.documents, payload)
        if prepared is None:
            await self.app(scope, replay(read, receive), send)
            return
        request_id = request_scope.begin(scope, self.forwarded).request_id
        try:
            answer = await prepared.answer(scope["app"].state.backend, request_id)
        except Exception:
            await answer_bug(scope, receive, send, request_id)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(answer)).encode()),
                    (b"content-type", JSON),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})


def _common_prefix(paths: list[str]) -> str:
    """The start every route's path shares (up to its last '/'), to skip the rest fast."""
    if not paths:
        return ""
    return posixpath.commonpath([posixpath.dirname(path) for path in paths]).rstrip("/") + "/"
