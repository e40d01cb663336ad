"""Uploads and downloads through Rocket.Chat, streamed both ways.

An upload is sent to `POST /api/v1/livechat/upload/:rid` as a multipart body made while the
file arrives from the visitor (the form's text fields first, then the file's chunks as they
come): the facade holds one chunk at a time, never the file. It is sent once, never retried
(its body cannot be replayed).

A download is `GET /file-upload/<id>/<name>` with the visitor's `rc_rid`/`rc_token` cookies
(Rocket.Chat's FileUpload_ProtectFiles), the visitor's Range passed on, the answer's body
streamed back. Rocket.Chat only checks that the cookies name *a* room of that visitor, so the
file's own room is checked first, from the room's history: the file must be one of its
messages' files.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from app.backends.base import (
    FileUpload,
    JsonObject,
    Message,
    RemoteFile,
    Unauthorized,
    UpstreamError,
)
from app.backends.rocketchat_json import file_url

# Headers of Rocket.Chat's file answer that describe the body, passed on to the visitor.
PASSED_HEADERS = ("content-length", "content-range", "accept-ranges", "last-modified", "etag")
# How far back the room's history is searched for a download's file.
HISTORY_PAGE = 100
HISTORY_PAGES = 20


def _quoted(value: str) -> str:
    """A multipart header parameter's value: quotes and line breaks escaped as browsers do
    (WHATWG's multipart/form-data encoding)."""
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


def multipart_body(
    fields: dict[str, str], upload: FileUpload, boundary: str, failed: list[BaseException]
) -> AsyncIterator[bytes]:
    """The form, text fields first and the file last, produced while the file arrives. What
    stops the file (over the limit, the visitor gone) is kept in `failed`: the HTTP client
    sees only that its body broke off."""

    async def body() -> AsyncIterator[bytes]:
        for name, value in fields.items():
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            ).encode()
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{_quoted(upload.name)}"\r\n'
            f"Content-Type: {_quoted(upload.type)}\r\n\r\n"
        ).encode()
        try:
            async for chunk in upload.chunks():
                yield chunk
        except BaseException as error:
            failed.append(error)
            raise
        yield f"\r\n--{boundary}--\r\n".encode()

    return body()


def upload_request(
    url: httpx.URL,
    headers: dict[str, str],
    token: str,
    upload: FileUpload,
    fields: dict[str, str],
    timeout: dict[str, float | None],
    failed: list[BaseException],
) -> httpx.Request:
    boundary = "livechat" + secrets.token_hex(16)
    return httpx.Request(
        "POST",
        url,
        content=multipart_body(fields, upload, boundary, failed),
        headers={
            **headers,
            "x-visitor-token": token,
            "content-type": f"multipart/form-data; boundary={boundary}",
        },
        extensions={"timeout": timeout},
    )


def uploaded_message(body: JsonObject) -> JsonObject:
    """The message in the upload's answer: Rocket.Chat 6.x/7.x put its fields at the top
    level beside `success`, `newRoom` and `showConnecting`; a `message` object if there is one."""
    inner = body.get("message")
    if isinstance(inner, dict):
        return inner
    return {
        key: value
        for key, value in body.items()
        if key not in ("success", "newRoom", "showConnecting")
    }


def has_file(message: Message, file_id: str) -> bool:
    files = [*message.files, *([message.file] if message.file else [])]
    return any(entry.get("_id") == file_id for entry in files)


async def find_file(
    history: Callable[[int, Message | None], Awaitable[list[Message]]], file_id: str
) -> Message | None:
    """The message of the room that carries `file_id`, searching back page by page."""
    last: Message | None = None
    for _ in range(HISTORY_PAGES):
        page = await history(HISTORY_PAGE, last)
        for message in page:
            if has_file(message, file_id):
                return message
        if len(page) < HISTORY_PAGE:
            return None
        last = page[-1]
    return None


def download_request(
    base_url: httpx.URL,
    headers: dict[str, str],
    token: str,
    rid: str,
    file_id: str,
    name: str,
    byte_range: str | None,
    timeout: dict[str, float | None],
) -> httpx.Request:
    sent = {**headers, "cookie": f"rc_rid={rid}; rc_token={token}; rc_room_type=l"}
    if byte_range:
        sent["range"] = byte_range
    # Rocket.Chat finds the file by id; the name is decoration, and aiohttp's URL parsing
    # would undo the escaping of a name made of dots ("%2E%2E" is ".." to it).
    path = file_url(file_id, name if name.strip(".") else "file").lstrip("/")
    return httpx.Request(
        "GET",
        base_url.join(path),
        headers=sent,
        extensions={"timeout": timeout, "stream_body": True},
    )


def remote_file(response: httpx.Response, name: str, media_type: str) -> RemoteFile:
    """The streamed answer; anything but 200/206 is refused (403/404: not the visitor's)."""
    if response.status_code in (401, 403, 404):
        raise Unauthorized
    if response.status_code not in (200, 206):
        raise UpstreamError(f"the upstream answered {response.status_code} for a file")
    passed = {name: response.headers[name] for name in PASSED_HEADERS if name in response.headers}

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        finally:
            await response.aclose()

    return RemoteFile(
        status=response.status_code,
        headers=passed,
        name=name,
        type=response.headers.get("content-type", media_type).split(";")[0].strip(),
        chunks=chunks(),
        close=response.aclose,
    )
