"""Requests and answers through orjson: Strawberry's stdlib `json` was a visible share of
every send, the answer carrying the whole markdown tree twice (`md` and `mdJson`)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from strawberry.fastapi import GraphQLRouter


class OrjsonGraphQLRouter(GraphQLRouter[Any, Any]):
    def decode_json(self, data: str | bytes) -> object:
        # orjson.JSONDecodeError is a json.JSONDecodeError: Strawberry still answers 400.
        return orjson.loads(data)

    def encode_json(self, data: object) -> str | bytes:
        try:
            return orjson.dumps(data)
        except orjson.JSONEncodeError:
            # What orjson refuses and the stdlib writes: integers beyond 64 bits in `mdJson`.
            return json.dumps(data, separators=(",", ":"))
