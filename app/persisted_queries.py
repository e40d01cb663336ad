"""Automatic persisted queries at the HTTP edge: the documents a request names by hash put
into it before Strawberry's view reads it (the protocol itself is `app.graphql.persisted`'s).
Works over POST and over GET (cacheable queries; Strawberry still refuses mutations over GET).

The front door (`app/front.py`) resolves the POSTs it answers itself, with `resolve`. Every
other POST to /graphql is buffered and parsed here once more, with or without APQ: a
middleware cannot peek at a body without reading it, and orjson makes the second parse cheap
next to execution.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.graphql.errors import Code, graphql_error_response
from app.graphql.persisted import DocumentCache, Refusal, resolve
from app.uploads import is_multipart_graphql


class PersistedQueries:
    def __init__(self, app: ASGIApp, cache: DocumentCache, path: str = "/graphql") -> None:
        self.app = app
        self.cache = cache
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        if is_multipart_graphql(scope, self.path):
            # An upload: its body is streamed to the backend (app.uploads), never read here.
            await self.app(scope, receive, send)
            return
        try:
            if scope["method"] == "GET":
                scope = self._get(scope)
            elif scope["method"] == "POST":
                scope, receive = await self._post(scope, receive)
        except Refusal as refusal:
            response = graphql_error_response(refusal.status, refusal.message, refusal.code)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _get(self, scope: Scope) -> Scope:
        params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "extensions" not in params:
            return scope
        try:
            extensions = orjson.loads(params["extensions"])
        except orjson.JSONDecodeError:
            raise Refusal(400, "The extensions parameter is not JSON.", Code.BAD_REQUEST) from None
        document = resolve(self.cache, params.get("query"), extensions)
        if document is None:
            return scope
        params["query"] = document
        return {**scope, "query_string": urlencode(params).encode("latin-1")}

    async def _post(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return scope, replay([message], receive)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        if isinstance(payload, dict):
            document = resolve(self.cache, payload.get("query"), payload.get("extensions"))
            if document is not None and payload.get("query") != document:
                body = orjson.dumps({**payload, "query": document})
        headers = [(name, value) for name, value in scope["headers"] if name != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        return {**scope, "headers": headers}, replay(
            [{"type": "http.request", "body": body, "more_body": False}], receive
        )


def replay(messages: list[Message], then: Receive) -> Receive:
    """The messages already read, then the connection's own: a streamed answer (a multipart
    subscription) listens on it for the client leaving, and must not hear it too soon."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive
