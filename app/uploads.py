"""POST /graphql with a multipart body: the GraphQL multipart request spec, the file streamed.

A form is what a browser sends across sites without asking first, so a multipart request is
only taken with a header that forces a CORS preflight (Apollo Server's CSRF prevention:
`Apollo-Require-Preflight` or `X-Apollo-Operation-Name`, as apollo-upload-client can send).

The parts come in the spec's order: `operations` and `map` (each bounded by MAX_BODY_BYTES),
then the file. The operation runs as soon as the file part begins, with the file in its
variables as a `StreamedFile`: the resolver's backend reads it from the client while it
arrives. So a refusal (a closed room, a blocked type, the size limit passed) ends the request
at once: what the client has not sent yet is never read, and the connection is closed after
the answer. Strawberry's own multipart support parses the whole form first; this replaces it.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.http import process_result

from app import request_scope
from app.graphql.context import request_context
from app.graphql.errors import Code, graphql_error_response
from app.multipart import (
    LingeringResponse,
    MalformedMultipart,
    MultipartStream,
    StreamedFile,
    boundary_of,
)

log = logging.getLogger("app.uploads")

GRAPHQL_PATH = "/graphql"
UPLOAD_ROUTE_PREFIX = "/api/v1/livechat/upload/"
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")
CSRF_REFUSAL = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). "
    "Please either specify a 'content-type' header (with a type that is not one of "
    "application/x-www-form-urlencoded, multipart/form-data, text/plain) or provide a "
    "non-empty value for one of the following headers: Apollo-Require-Preflight, "
    "X-Apollo-Operation-Name"
)


class BadUpload(Exception):
    """The multipart request does not follow the spec: a 400 with the reason."""


def is_multipart_graphql(scope: Scope, path: str) -> bool:
    """A multipart POST to the GraphQL path (bounded by the upload limit, not the body limit)."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != path:
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value).lower().startswith(b"multipart/form-data")
    return False


def bounded_by_upload_limit(scope: Scope) -> bool:
    """A request whose body is a file upload: bounded by FILE_UPLOAD_MAX_SIZE (while it is
    read), not MAX_BODY_BYTES. The GraphQL one, and Rocket.Chat's own upload route."""
    if is_multipart_graphql(scope, GRAPHQL_PATH):
        return True
    path: str = scope["path"]
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and path.startswith(UPLOAD_ROUTE_PREFIX)
    )


def _set_path(operations: Any, path: str, value: object) -> None:
    """Put the file where `map` says (`variables.input.file`)."""
    *parents, last = path.split(".")
    target = operations
    try:
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        elif isinstance(target, dict) and last in target:
            target[last] = value
        else:
            raise KeyError(last)
    except (KeyError, IndexError, ValueError, TypeError):
        raise BadUpload(f"the map names {path!r}, which the operations do not have") from None


class GraphQLUploads:
    """Answers multipart POSTs to `path`; everything else goes to `app` untouched."""

    def __init__(
        self, app: ASGIApp, *, path: str, max_operations_bytes: int, upload_limit: int | None
    ) -> None:
        self.app = app
        self.path = path
        self.max_operations_bytes = max_operations_bytes
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_multipart_graphql(scope, self.path):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not any(headers.get(name, "").strip() for name in PREFLIGHT_HEADERS):
            response: Response = graphql_error_response(
                400, CSRF_REFUSAL, Code.BAD_REQUEST, headers={"Connection": "close"}
            )
            await response(scope, receive, send)
            return
        boundary = boundary_of(headers.get("content-type", ""))
        if boundary is None:
            await self._refuse(scope, receive, send, "the multipart body has no boundary")
            return
        stream = MultipartStream(receive, boundary)
        try:
            response = await self._execute(scope, stream)
        except ClientDisconnect:
            return  # no one to answer; the backend removed what it had begun to write
        except (BadUpload, MalformedMultipart) as error:
            await self._refuse(scope, receive, send, str(error))
            return
        if not stream.complete:
            # The rest of the body is never read: the connection cannot carry another request.
            response = LingeringResponse(response)
        await response(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, reason: str) -> None:
        response = graphql_error_response(
            400,
            f"Invalid multipart request: {reason}",
            Code.BAD_REQUEST,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)

    async def _execute(self, scope: Scope, stream: MultipartStream) -> Response:
        operations = await self._json_part(stream, "operations")
        if not isinstance(operations, dict):
            raise BadUpload("'operations' must be one operation (batches are not served)")
        mapping = await self._json_part(stream, "map")
        if not isinstance(mapping, dict) or not all(
            isinstance(paths, list) and all(isinstance(path, str) for path in paths)
            for paths in mapping.values()
        ):
            raise BadUpload("'map' must be an object of lists of paths")
        if len(mapping) > 1:
            raise BadUpload("one file per request")
        upload: StreamedFile | None = None
        if mapping:
            start = await stream.part()
            if start is None or start.name not in mapping or start.filename is None:
                raise BadUpload("the file part the map names must follow it")
            upload = StreamedFile(stream, start, self.upload_limit)
            for path in mapping[start.name]:
                _set_path(operations, path, upload)
        query = operations.get("query")
        variables = operations.get("variables")
        name = operations.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            raise BadUpload("'operations' needs a 'query' string and 'variables' object")
        schema = scope["app"].state.schema
        context = request_context(scope["app"].state.backend, request_scope.current().request_id)
        result = await schema.execute(
            query,
            variable_values=variables,
            context_value=context,
            operation_name=name if isinstance(name, str) else None,
        )
        if stream.disconnected:
            raise ClientDisconnect
        return Response(orjson.dumps(process_result(result)), media_type="application/json")

    async def _json_part(self, stream: MultipartStream, name: str) -> Any:
        start = await stream.part()
        if start is None or start.name != name or start.filename is not None:
            raise BadUpload(f"the '{name}' field must come here (operations, map, then files)")
        try:
            return orjson.loads(await stream.field(self.max_operations_bytes))
        except orjson.JSONDecodeError:
            raise BadUpload(f"'{name}' is not JSON") from None
