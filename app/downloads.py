"""GET /file-upload/{id}/{name}: an uploaded file, for the visitor of its room only.

The visitor names themselves as Rocket.Chat's widget does, with the cookies `rc_rid` and
`rc_token` (or the same as query parameters); the backend checks that the file belongs to that
room and that the room is that visitor's (open or closed), else 403.

A served file must not be able to attack the page that shows it: every answer carries
`X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`, and only raster
images, audio and video are sent `inline`; anything else (HTML, SVG, scripts...) is an
`attachment`, so it never runs as a page of this origin. `Content-Disposition` is built by
Starlette's FileResponse / `content_disposition` below, which quote the name (RFC 6266 with
RFC 5987's `filename*` for anything beyond plain ASCII): a name with quotes, control
characters or `../` is only ever text in a header, never a path.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.backends.base import (
    BackendFailure,
    LivechatBackend,
    LivechatFailure,
    LocalFile,
    RemoteFile,
)

log = logging.getLogger("app.downloads")

# The name may hold "/" (Rocket.Chat's links use encodeURI, which leaves it): it is decoration,
# the id alone finds the file.
PATH = "/file-upload/{id}/{name:path}"
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
    "Cache-Control": "private, max-age=3600",
}
# A media type as RFC 6838 shapes it; anything else is served as bytes.
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
INLINE_KINDS = ("image/", "audio/", "video/")
# Images a browser could run as a document (scripts in SVG), or that are not images at all.
NEVER_INLINE = frozenset({"image/svg+xml", "image/svg", "text/xml"})


def served_type(media_type: str) -> str:
    kind = media_type.strip().lower()
    return kind if MEDIA_TYPE.fullmatch(kind) else "application/octet-stream"


def disposition_type(media_type: str) -> str:
    """`inline` for what browsers only display (raster images, audio, video), else
    `attachment`."""
    if media_type.startswith(INLINE_KINDS) and media_type not in NEVER_INLINE:
        return "inline"
    return "attachment"


def content_disposition(kind: str, name: str) -> str:
    """The header Starlette's FileResponse writes: `filename="..."` when the name is plain,
    else RFC 5987's `filename*=utf-8''<percent-encoded>`."""
    quoted = quote(name)
    if quoted != name:
        return f"{kind}; filename*=utf-8''{quoted}"
    return f'{kind}; filename="{name}"'


def _refused(status: int = 403, error: str = "unauthorized") -> JSONResponse:
    return JSONResponse(
        {"success": False, "error": error}, status_code=status, headers=SAFE_HEADERS
    )


async def download(request: Request) -> Response:
    file_id: str = request.path_params["id"]
    name: str = request.path_params["name"]
    token = request.cookies.get("rc_token") or request.query_params.get("rc_token")
    rid = request.cookies.get("rc_rid") or request.query_params.get("rc_rid")
    if not token or not rid:
        return _refused()
    backend: LivechatBackend = request.app.state.backend
    try:
        found = await backend.open_file(token, rid, file_id, name, request.headers.get("range"))
    except LivechatFailure:
        return _refused()
    except BackendFailure as failure:
        log.warning("download of %s failed: %s", file_id, failure)
        return _refused(503, failure.code)
    media_type = served_type(found.type)
    kind = disposition_type(media_type)
    if isinstance(found, LocalFile):
        return FileResponse(
            found.path,
            media_type=media_type,
            filename=found.name,
            content_disposition_type=kind,
            headers=SAFE_HEADERS,
        )
    assert isinstance(found, RemoteFile)
    headers = {
        **found.headers,
        **SAFE_HEADERS,
        "Content-Disposition": content_disposition(kind, found.name),
    }
    return StreamingResponse(
        found.chunks,
        status_code=found.status,
        headers=headers,
        media_type=media_type,
        background=BackgroundTask(found.close),
    )


def download_route() -> Route:
    return Route(PATH, download, methods=["GET", "HEAD"])
