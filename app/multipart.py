"""A multipart/form-data body read as it arrives: parts one after another, a file part's bytes
handed on chunk by chunk, never the whole body in memory; and the answer to a request whose
body was not read to its end.

python-multipart's push parser does the parsing; this turns its callbacks into something a
reader pulls from (`MultipartStream.next`), so that reading the request body is driven by
whoever consumes the file: the in-process store writing it to disk, or the upstream client
sending it on. Whatever is not pulled is not read from the client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.backends.base import FileTooLarge


class MalformedMultipart(Exception):
    """The body is not the multipart form it claims to be."""


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a `multipart/form-data` Content-Type, else None."""
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        return None
    boundary = options.get(b"boundary")
    return boundary or None


@dataclass(slots=True)
class PartStart:
    """A part begins: its form field name, its filename (only for a file) and media type."""

    name: str
    filename: str | None
    content_type: str | None


@dataclass(slots=True)
class PartData:
    data: bytes


@dataclass(slots=True)
class PartEnd:
    pass


Event = PartStart | PartData | PartEnd


@dataclass
class _Headers:
    name: bytearray = field(default_factory=bytearray)
    value: bytearray = field(default_factory=bytearray)
    found: dict[bytes, bytes] = field(default_factory=dict)


class MultipartStream:
    """The events of one multipart body, read from an ASGI `receive` only when asked for.

    `bytes_read` counts the body bytes taken from the client; `complete` says the body was
    read to its end (when not, the connection must be closed after the answer)."""

    def __init__(self, receive: Receive, boundary: bytes, *, max_header_bytes: int = 16384):
        self._receive = receive
        self._events: deque[Event] = deque()
        self._headers = _Headers()
        self._max_header_bytes = max_header_bytes
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
            },
        )
        self.bytes_read = 0
        self.complete = False
        self.disconnected = False

    # python-multipart's callbacks
    def _part_begin(self) -> None:
        self._headers = _Headers()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._headers.name += data[start:end]
        self._check_headers()

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._headers.value += data[start:end]
        self._check_headers()

    def _check_headers(self) -> None:
        if len(self._headers.name) + len(self._headers.value) > self._max_header_bytes:
            raise MalformedMultipart("a part's headers are too long")

    def _header_end(self) -> None:
        headers = self._headers
        headers.found[bytes(headers.name).lower()] = bytes(headers.value)
        headers.name, headers.value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        found = self._headers.found
        disposition, options = parse_options_header(found.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise MalformedMultipart("a part lacks its Content-Disposition: form-data; name")
        filename = options.get(b"filename")
        content_type = found.get(b"content-type")
        self._events.append(
            PartStart(
                name=options[b"name"].decode("utf-8", "replace"),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=content_type.decode("latin-1").strip() if content_type else None,
            )
        )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(PartData(data[start:end]))

    def _part_end(self) -> None:
        self._events.append(PartEnd())

    async def next(self) -> Event | None:
        """The next event; None once the body has ended."""
        while not self._events:
            if self.complete:
                return None
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                raise ClientDisconnect
            body: bytes = message.get("body", b"")
            self.bytes_read += len(body)
            more = message.get("more_body", False)
            try:
                if body:
                    self._parser.write(body)
                if not more:
                    self._parser.finalize()
            except MultipartParseError as error:
                raise MalformedMultipart(str(error)) from None
            if not more:
                self.complete = True
        return self._events.popleft()

    async def part(self) -> PartStart | None:
        """The next part's start (None at the end of the body)."""
        event = await self.next()
        if event is None:
            return None
        if not isinstance(event, PartStart):
            raise MalformedMultipart("a part was not read to its end")
        return event

    async def field(self, limit: int) -> bytes:
        """The rest of the current part, at most `limit` bytes."""
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self.next()
            if isinstance(event, PartEnd):
                return b"".join(chunks)
            if not isinstance(event, PartData):
                raise MalformedMultipart("the body ended inside a part")
            size += len(event.data)
            if size > limit:
                raise MalformedMultipart(f"a form field is longer than {limit} bytes")
            chunks.append(event.data)


class StreamedFile:
    """A file part as the backends take it (`base.FileUpload`): its name and type from the
    part's headers, its bytes pulled from the client by whoever iterates `chunks()`, which
    raises FileTooLarge as soon as more than `limit` bytes have come (None: no limit)."""

    def __init__(self, stream: MultipartStream, start: PartStart, limit: int | None) -> None:
        self.name = start.filename or ""
        self.type = (start.content_type or "application/octet-stream").lower()
        self._stream = stream
        self._limit = limit
        self._taken = False
        self.size = 0
        self.finished = False

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._taken:
            raise RuntimeError("a file part can be read once")
        self._taken = True
        while True:
            event = await self._stream.next()
            if isinstance(event, PartEnd):
                self.finished = True
                return
            if not isinstance(event, PartData):
                raise MalformedMultipart("the body ended inside the file")
            self.size += len(event.data)
            if self._limit is not None and self.size > self._limit:
                raise FileTooLarge
            if event.data:
                yield event.data


# After a refusal, what is still read (and thrown away) so that a client still sending its
# body sees the answer before the connection closes (nginx's lingering close): the answer is
# complete on the wire first, then at most this much, for at most this long.
LINGER_BYTES = 8 << 20
LINGER_SECONDS = 1.0


class LingeringResponse(Response):
    """A JSON answer to a request whose body was not read to its end: sent whole (its
    Content-Length satisfied) with `Connection: close`, then the body is read and discarded
    within the linger bounds before the response completes and the connection closes.
    Closing at once, with the client's bytes unread, would make the kernel reset the
    connection, and a client still sending could lose the answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.body, response.status_code, media_type=None)
        self.raw_headers = [
            (name, value) for name, value in response.raw_headers if name != b"connection"
        ]
        self.raw_headers.append((b"connection", b"close"))
        self.background = response.background

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        drained = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LINGER_SECONDS):
                while drained < LINGER_BYTES:
                    message = await receive()
                    if message["type"] != "http.request":
                        break
                    drained += len(message.get("body", b""))
                    if not message.get("more_body", False):
                        break
        await send({"type": "http.response.body", "body": b""})
        if self.background is not None:
            await self.background()
