"""graphql-transport-ws messages checked for their shape before Strawberry reads them.

Strawberry's handler indexes a message as the protocol describes it: a message that is a JSON
list, an `id` that is a list or an object, a `payload` that is not an object each raised
inside it, ending the socket with a logged traceback per message (a client could write a
traceback as fast as it could send). The protocol's answer to a message it cannot read is a
close with 4400, which is what such a message now gets, with nothing logged.
"""

from __future__ import annotations

from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message

OPTIONAL_OBJECTS = ("variables", "extensions")


def malformed(message: object) -> str | None:
    """Why `message` is not a graphql-transport-ws message, or None when it has the shape."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "Failed to parse message"
    if "id" in message and not isinstance(message["id"], str):
        return "The message's id must be a string"
    payload = message.get("payload")
    if message["type"] != "subscribe":
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "A subscribe message's payload must have a query string"
    if any(not isinstance(payload.get(name), dict | None) for name in OPTIONAL_OBJECTS):
        return "A subscribe message's variables and extensions must be objects"
    if not isinstance(payload.get("operationName"), str | None):
        return "A subscribe message's operationName must be a string"
    return None


class CheckedTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    async def handle_message(self, message: Message) -> None:
        reason = malformed(message)
        if reason is not None:
            await self.handle_invalid_message(reason)
            return
        await super().handle_message(message)
