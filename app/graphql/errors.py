"""Where backend errors become GraphQL: `LivechatError` data or coded top-level errors.

Expected failures (`LivechatFailure`) are data in each operation's result union: resolvers let
them propagate, and `LivechatFailureHandler` (a `strawberry.ExceptionHandler`) turns them into
`LivechatError`, the one place this happens. Backend failures (`BackendFailure`) are top-level
errors with `extensions.code`. Anything else is a bug: it is logged with the request id and
answered as a masked INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.responses import JSONResponse
from strawberry.extensions import SchemaExtension
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from app.backends.base import FAILURES, BackendFailure, LivechatFailure, RateLimited
from app.observability import metrics

log = logging.getLogger("app.graphql")


class Code(enum.StrEnum):
    """The `extensions.code`s this service gives a request it refuses or fails, beside the
    backend failures' own (`LivechatFailure.code`, `BackendFailure.code`). Every error this
    service answers names one of these, and metrics label by `ERROR_CODES`."""

    BAD_REQUEST = "BAD_REQUEST"  # a limit, a malformed body or a persisted query's hash
    BAD_USER_INPUT = "BAD_USER_INPUT"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"


def _family(kind: type[BackendFailure]) -> list[type[BackendFailure]]:
    return [kind, *(member for sub in kind.__subclasses__() for member in _family(sub))]


# Every code an answer can carry: the one vocabulary metrics take their labels from.
ERROR_CODES = frozenset(
    [
        *(code.value for code in Code),
        *(kind.code for kind in FAILURES),
        *(kind.code for kind in _family(BackendFailure)),
    ]
)


def _code_values() -> dict[str, Any]:
    """One enum value per code, described by the failures that carry it."""
    values: dict[str, Any] = {}
    for code in dict.fromkeys(kind.code for kind in FAILURES):
        kinds = [kind for kind in FAILURES if kind.code == code]
        ids = ", ".join(kind.error for kind in kinds if kind.error)
        values[code] = strawberry.enum_value(
            code, description=f"{kinds[0].description}" + (f" ({ids})." if ids else ".")
        )
    return values


_CODES: type[enum.Enum] = enum.Enum("LivechatErrorCode", _code_values())  # type: ignore[misc]
LivechatErrorCode = strawberry.enum(_CODES, description="What kind of failure a LivechatError is.")


@strawberry.type(
    description="A failure Rocket.Chat answers with {success: false, error, errorType}."
)
class LivechatError:
    code: LivechatErrorCode = strawberry.field(description="The failure's category.")  # type: ignore[valid-type]
    reason: str = strawberry.field(description="A sentence a person can read.")
    upstream_error: str = strawberry.field(
        description="Rocket.Chat's error id: its `errorType` when the body has one (a Meteor "
        'error "Reason [x]" gives x), else its `error` string (e.g. invalid-token).'
    )


def livechat_error(failure: LivechatFailure) -> LivechatError:
    """A domain failure as GraphQL data, counted by its code."""
    metrics.note_livechat_error(failure.code)
    return LivechatError(
        code=LivechatErrorCode[failure.code],
        reason=failure.reason,
        upstream_error=failure.upstream_error,
    )


class LivechatFailureHandler(strawberry.ExceptionHandler[LivechatFailure, LivechatError]):
    """The one place a domain failure becomes GraphQL data: every field whose result union
    holds `LivechatError` answers it when its resolver raises a `LivechatFailure`."""

    def handle(
        self, exception: LivechatFailure, *, field: StrawberryField, info: Info[Any, Any]
    ) -> LivechatError:
        return livechat_error(exception)


def coded_error(failure: BackendFailure) -> GraphQLError:
    """A backend failure as a top-level error that carries its code, never its internals."""
    extensions: dict[str, Any] = {"code": failure.code}
    if isinstance(failure, RateLimited):
        extensions["retryAfter"] = failure.retry_after
    return GraphQLError(str(failure) or failure.code, extensions=extensions)


TOO_MANY_TOKENS = "Syntax Error: Document contains more than"


def is_coded(error: GraphQLError) -> bool:
    """Errors we raised on purpose carry a code and pass unmasked."""
    original = error.original_error
    if original is None:
        return bool((error.extensions or {}).get("code"))
    return isinstance(original, GraphQLError) and bool((original.extensions or {}).get("code"))


def with_code(error: GraphQLError, code: Code) -> GraphQLError:
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
        return with_code(error, Code.BAD_REQUEST)
    if isinstance(error, GraphQLSyntaxError):
        return with_code(error, Code.GRAPHQL_PARSE_FAILED)
    return with_code(error, Code.GRAPHQL_VALIDATION_FAILED)


def mask_errors(errors: list[GraphQLError], request_id: str | None) -> list[GraphQLError]:
    """Every error with a code; unexpected exceptions told only as INTERNAL_SERVER_ERROR (the
    log keeps their text, tied to the request id). Codes as Apollo names them, plus the
    contract's BAD_REQUEST. Both ways a POST is answered (the lean one and Strawberry's view,
    through `MaskUnexpectedErrors`) mask with this."""
    masked: list[GraphQLError] = []
    for error in errors:
        if is_coded(error):
            masked.append(error)
            continue
        if isinstance(error.original_error, BackendFailure):
            coded = coded_error(error.original_error)
            masked.append(
                GraphQLError(
                    coded.message,
                    nodes=error.nodes,
                    path=error.path,
                    extensions=coded.extensions,
                )
            )
            continue
        if error.original_error is None:
            masked.append(coded_request_error(error))
            continue
        if isinstance(error.original_error, GraphQLError):
            # graphql-core's own refusal of the client's input (a variable that does not
            # coerce, for one): the client's mistake, told as such.
            masked.append(with_code(error, Code.BAD_USER_INPUT))
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
                extensions={"code": Code.INTERNAL_SERVER_ERROR, "requestId": request_id},
            )
        )
    return masked


class MaskUnexpectedErrors(SchemaExtension):
    """`mask_errors` over the result of each operation Strawberry runs."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not getattr(result, "errors", None):
            return
        request_id = getattr(self.execution_context.context, "request_id", None)
        result.errors = mask_errors(result.errors or [], request_id)


def graphql_error_response(
    status: int, message: str, code: Code, headers: dict[str, str] | None = None, **extra: str
) -> JSONResponse:
    """A GraphQL-over-HTTP error body, for answers given before (or instead of) GraphQL."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **extra}}]}
    return JSONResponse(body, status_code=status, headers=headers)
