"""Requests and answers through orjson, and every refusal of a request as a GraphQL error.

orjson: Strawberry's stdlib `json` was a visible share of every send, the answer carrying the
whole markdown tree twice (`md` and `mdJson`). Refusals: Strawberry answers a request it cannot
run (a body that is not a JSON object, no query, mutations over GET) in plain text, which
GraphQL clients cannot read; here they become `{"errors": [...]}` with a code.
"""

from __future__ import annotations

import json
from typing import Any, overload

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UNSET

from app.middleware import graphql_error_response

CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE"}


class OrjsonGraphQLRouter(GraphQLRouter[Any, Any]):
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
        try:
            return orjson.dumps(data)
        except orjson.JSONEncodeError:
            # What orjson refuses and the stdlib writes: integers beyond 64 bits in `mdJson`.
            return json.dumps(data, separators=(",", ":"))

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
            code = CODES.get(refusal.status_code, "BAD_REQUEST")
            return graphql_error_response(refusal.status_code, refusal.reason, code)
