"""Requests and answers through orjson, and every refusal of a request as a GraphQL error.

orjson: Strawberry's stdlib `json` was a visible share of every send, the answer carrying the
whole markdown tree twice (`md` and `mdJson`). Refusals: Strawberry answers a request it cannot
run (a body that is not a JSON object, no query, mutations over GET) in plain text, which
GraphQL clients cannot read; here they become `{"errors": [...]}` with a code.

Over WebSocket, a subscription event's payload is serialised once for every subscriber that
received the same result (the executor shares it, see execution.py), and sent as text, which
is what graphql-ws clients parse. A subscribe message's document is kept for as long as its
subscription runs, by Strawberry's operation: subscribers that send the same text share one
copy of it, and the received text is not kept once decoded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from json import JSONDecodeError
from typing import Any, overload

import orjson
from cachetools import LRUCache
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.fastapi import GraphQLRouter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.types.unset import UNSET

from app.graphql.answer_limit import capped
from app.graphql.errors import Code, graphql_error_response
from app.graphql.transport_ws import CheckedTransportWSHandler

CODES = {404: Code.NOT_FOUND, 405: Code.METHOD_NOT_ALLOWED, 415: Code.UNSUPPORTED_MEDIA_TYPE}
# id(payload data) -> (data, its JSON): the data is kept in the entry, so an id is never reused.
_encoded_events: LRUCache[int, tuple[object, bytes]] = LRUCache(1024)
# Document text -> the one copy of it that subscriptions keep. Bounded by the characters it
# holds, not by entries: documents that never parse are not in the parser's cache, and a flood
# of large distinct ones must evict, not grow it.
DOCUMENT_CHARACTERS = 4_000_000
_documents: LRUCache[str, str] = LRUCache(DOCUMENT_CHARACTERS, getsizeof=len)


def encode(data: object) -> bytes:
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        # What orjson refuses and the stdlib writes: integers beyond 64 bits in `mdJson`.
        return json.dumps(data, separators=(",", ":")).encode()


def encode_frame(message: Mapping[str, Any]) -> str:
    """A graphql-transport-ws frame; a `next` whose data was encoded already reuses it."""
    payload = message.get("payload")
    if message.get("type") != "next" or not isinstance(payload, dict) or len(payload) != 1:
        return encode(message).decode()
    data = payload.get("data")
    cached = _encoded_events.get(id(data))
    if cached is None or cached[0] is not data:
        cached = (data, encode(data))
        _encoded_events[id(data)] = cached
    frame = {"id": message["id"], "type": "next", "payload": {"data": orjson.Fragment(cached[1])}}
    return orjson.dumps(frame).decode()


def shared_document(message: object) -> object:
    """A subscribe message whose document is the copy already held for the same text.

    Every tab of a chat subscribes with the same document (the shipped one is 12 KB), and
    Strawberry's operation keeps the text for the subscription's life: 1,000 subscriptions
    kept 1,000 equal copies, 12 MiB."""
    if not isinstance(message, dict) or message.get("type") != "subscribe":
        return message
    payload = message.get("payload")
    if isinstance(payload, dict):
        query = payload.get("query")
        if isinstance(query, str) and len(query) <= DOCUMENT_CHARACTERS // 4:
            payload["query"] = _documents.setdefault(query, query)
    return message


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        """Strawberry's loop, but the received text is not held in a local while the
        generator waits for the next message (a subscribe message would stay alive, 12 KB,
        for the connection's life), and equal documents are shared."""
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                try:
                    yield shared_document(self.view.decode_json(await self.ws.receive_text()))
                except JSONDecodeError as error:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from error
        except KeyError as error:
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Mapping[str, object]) -> None:
        """Strawberry's, except that a message for a socket that is gone is dropped before it
        is encoded: a socket closed for reading too slowly (app/websocket_protocol.py) has its
        subscriptions' events still coming until its receive loop ends them, and each would
        otherwise be encoded, then refused, then logged as a failed task."""
        if self.ws.application_state is not WebSocketState.CONNECTED:
            return
        try:
            await self.ws.send_text(encode_frame(message))
        except WebSocketDisconnect:
            return


class OrjsonGraphQLRouter(GraphQLRouter[Any, Any]):
    websocket_adapter_class = TextWebSocketAdapter
    graphql_transport_ws_handler_class = CheckedTransportWSHandler

    def decode_json(self, data: str | bytes) -> object:
        # orjson.JSONDecodeError is a json.JSONDecodeError: Strawberry answers 400.
        value = orjson.loads(data)
        if not isinstance(value, dict | list):
            # Strawberry reads whatever this returns as a request: only objects (and lists,
            # refused as batches) are one.
            kind = "null" if value is None else type(value).__name__
            raise HTTPException(400, f"Expected a JSON object ({{query, variables}}), not {kind}.")
        return value

    def encode_json(self, data: object) -> str | bytes:
        body = encode(data)
        # The served schema's answer cap (`app.graphql.schema.Preparation`), as the lean path.
        preparation = getattr(self.schema, "preparation", None)
        return body if preparation is None else capped(body, preparation.max_answer_bytes)

    @overload
    async def run(
        self, request: Request, context: Any = UNSET, root_value: Any = UNSET
    ) -> Response: ...

    @overload
    async def run(
        self, request: WebSocket, context: Any = UNSET, root_value: Any = UNSET
    ) -> WebSocket: ...

    async def run(
        self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET
    ) -> Response | WebSocket:
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as refusal:
            code = CODES.get(refusal.status_code, Code.BAD_REQUEST)
            return graphql_error_response(refusal.status_code, refusal.reason, code)
