"""Where backend errors become GraphQL: `LivechatError` data or coded top-level errors.

Expected failures (`LivechatFailure`) are data in each mutation's result union. Backend failures
(`BackendFailure`) are top-level errors with `extensions.code`. Anything else is a bug: it is
logged with the request id and answered as a masked INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from app.backends.base import BackendFailure, LivechatFailure, RateLimited
from app.observability import metrics

T = TypeVar("T")

log = logging.getLogger("app.graphql")


@strawberry.enum(description="What kind of failure a LivechatError is.")
class LivechatErrorCode(enum.Enum):
    INVALID_PARAMS = strawberry.enum_value(
        "INVALID_PARAMS", description="A required field is missing or empty (invalid-params)."
    )
    INVALID_TOKEN = strawberry.enum_value(
        "INVALID_TOKEN", description="No visitor has this token (invalid-token)."
    )
    INVALID_ROOM = strawberry.enum_value(
        "INVALID_ROOM", description="The room is unknown or not the visitor's (invalid-room)."
    )
    ROOM_CLOSED = strawberry.enum_value(
        "ROOM_CLOSED", description="The room is closed (room-closed)."
    )
    MESSAGE_TOO_LONG = strawberry.enum_value(
        "MESSAGE_TOO_LONG",
        description="The message is over the character limit "
        "(message-length-exceeds-character-limit, error-message-size-exceeded).",
    )
    INVALID_MESSAGE = strawberry.enum_value(
        "INVALID_MESSAGE", description="No message has this id (invalid-message)."
    )
    NOT_ALLOWED = strawberry.enum_value(
        "NOT_ALLOWED", description="Rocket.Chat does not allow this (error-not-allowed)."
    )
    OTHER = strawberry.enum_value(
        "OTHER", description="Any other Rocket.Chat error; upstreamError says which."
    )


@strawberry.type(
    description="A failure Rocket.Chat answers with {success: false, error, errorType}."
)
class LivechatError:
    code: LivechatErrorCode = strawberry.field(description="The failure's category.")
    reason: str = strawberry.field(description="A sentence a person can read.")
    upstream_error: str = strawberry.field(
        description="Rocket.Chat's own `error` string, verbatim (e.g. invalid-token)."
    )


def livechat_error(failure: LivechatFailure) -> LivechatError:
    """The one place a domain failure becomes GraphQL data."""
    metrics.note_livechat_error(failure.code)
    return LivechatError(
        code=LivechatErrorCode[failure.code],
        reason=failure.reason,
        upstream_error=failure.upstream_error,
    )


def coded_error(failure: BackendFailure) -> GraphQLError:
    """A backend failure as a top-level error that carries its code, never its internals."""
    extensions: dict[str, Any] = {"code": failure.code}
    if isinstance(failure, RateLimited):
        extensions["retryAfter"] = failure.retry_after
    return GraphQLError(str(failure) or failure.code, extensions=extensions)


async def answer(work: Awaitable[T]) -> T | LivechatError:
    """Run a backend call: its result, a LivechatError, or a coded top-level error raised."""
    try:
        return await work
    except LivechatFailure as failure:
        return livechat_error(failure)
    except BackendFailure as failure:
        raise coded_error(failure) from None


TOO_MANY_TOKENS = "Syntax Error: Document contains more than"


def is_coded(error: GraphQLError) -> bool:
    """Errors we raised on purpose carry a code and pass unmasked."""
    original = error.original_error
    if original is None:
        return bool((error.extensions or {}).get("code"))
    return isinstance(original, GraphQLError) and bool((original.extensions or {}).get("code"))


def with_code(error: GraphQLError, code: str) -> GraphQLError:
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code},
    )


def coded_request_error(error: GraphQLError) -> GraphQLError:
    """A parse or validation error with the code Apollo gives it (BAD_REQUEST for limits)."""
    if (error.extensions or {}).get("code"):
        return error
    if error.message.startswith(TOO_MANY_TOKENS):
        return with_code(error, "BAD_REQUEST")
    if isinstance(error, GraphQLSyntaxError):
        return with_code(error, "GRAPHQL_PARSE_FAILED")
    return with_code(error, "GRAPHQL_VALIDATION_FAILED")


class MaskUnexpectedErrors(SchemaExtension):
    """Give every error a code; hide the text of unexpected exceptions (the log keeps it,
    tied to the request id). Codes as Apollo names them, plus the contract's BAD_REQUEST."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not getattr(result, "errors", None):
            return
        request_id = getattr(self.execution_context.context, "request_id", None)
        masked: list[GraphQLError] = []
        for error in result.errors or []:
            if is_coded(error):
                masked.append(error)
                continue
            if error.original_error is None:
                masked.append(coded_request_error(error))
                continue
            if isinstance(error.original_error, GraphQLError):
                # graphql-core's own refusal of the client's input (a variable that does not
                # coerce, for one): the client's mistake, told as such.
                masked.append(with_code(error, "BAD_USER_INPUT"))
                continue
            log.error(
                "unexpected error in %s (request %s)",
                error.path,
                request_id,
                exc_info=error.original_error,
            )
            masked.append(
                GraphQLError(
                    "Internal server error.",
                    nodes=error.nodes,
                    path=error.path,
                    extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                )
            )
        result.errors = masked
