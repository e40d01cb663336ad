"""Every error the upstream client can raise is mapped to a coded failure, and says truly how far
the request got: a retry policy trusts that to decide whether another attempt is safe."""

from __future__ import annotations

import asyncio
import gzip
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import aiohttp
import httpx
import pytest

from app.backends.base import BackendFailure, UpstreamTimeout, UpstreamUnavailable
from app.backends.upstream.transport import (
    TRANSPORT_ERRORS,
    ClientTimeouts,
    Reached,
    UpstreamClient,
    make_client,
    transport_fault,
)
from tests.servers import free_port


def subclasses(root: type[BaseException]) -> Iterator[type[BaseException]]:
    yield root
    for child in root.__subclasses__():
        yield from subclasses(child)


def bare(cls: type[BaseException]) -> BaseException:
    """An instance without running a constructor whose arguments differ class by class."""
    error = cls.__new__(cls)
    BaseException.__init__(error, "failed")
    return error


HTTPX_ERRORS = sorted(
    {
        value
        for value in vars(httpx).values()
        if inspect.isclass(value) and issubclass(value, Exception)
    },
    key=lambda cls: cls.__name__,
)
AIOHTTP_ERRORS = sorted(set(subclasses(aiohttp.ClientError)), key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", HTTPX_ERRORS, ids=lambda cls: cls.__name__)
def test_every_httpx_exception_is_caught_and_coded(cls: type[Exception]) -> None:
    assert issubclass(cls, TRANSPORT_ERRORS)
    fault = transport_fault(bare(cls))  # type: ignore[arg-type]
    assert isinstance(fault.failure, BackendFailure)


@pytest.mark.parametrize("cls", AIOHTTP_ERRORS, ids=lambda cls: cls.__name__)
def test_every_aiohttp_exception_is_caught_and_coded_raw_or_wrapped(
    cls: type[Exception],
) -> None:
    raw = bare(cls)
    assert isinstance(raw, TRANSPORT_ERRORS)
    wrapped = httpx.ConnectTimeout("wrapped")  # what the aiohttp transport makes of many
    wrapped.__cause__ = raw
    direct, through = transport_fault(raw), transport_fault(wrapped)
    assert through.reached is direct.reached
    assert type(through.failure) is type(direct.failure)
    assert isinstance(direct.failure, BackendFailure)


@pytest.mark.parametrize(
    ("error", "reached", "failure"),
    [
        (aiohttp.ServerDisconnectedError(), Reached.RESET, UpstreamUnavailable),
        (aiohttp.ClientPayloadError("cut"), Reached.RESET, UpstreamUnavailable),
        (aiohttp.SocketTimeoutError(), Reached.TIMEOUT, UpstreamTimeout),
        (aiohttp.ConnectionTimeoutError(), Reached.CONNECT, UpstreamTimeout),
        (httpx.ConnectError("refused"), Reached.CONNECT, UpstreamUnavailable),
        (httpx.PoolTimeout("busy"), Reached.CONNECT, UpstreamTimeout),
        (httpx.ReadTimeout("slow"), Reached.TIMEOUT, UpstreamTimeout),
        (httpx.RemoteProtocolError("cut"), Reached.RESET, UpstreamUnavailable),
        (httpx.UnsupportedProtocol("ftp"), Reached.NEVER, BackendFailure),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_a_fault_says_how_far_the_request_got(
    error: Exception, reached: Reached, failure: type[BackendFailure]
) -> None:
    # The aiohttp transport turns a disconnect into httpx.ConnectTimeout ("nothing was sent"):
    # the cause must win, or a room would be opened twice.
    wrapped = httpx.ConnectTimeout("as the transport maps it")
    wrapped.__cause__ = error
    for raised in [error, wrapped] if isinstance(error, aiohttp.ClientError) else [error]:
        fault = transport_fault(raised)
        assert fault.reached is reached
        assert isinstance(fault.failure, failure)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    """A raw TCP server on a loopback port; every connection is closed when the block ends."""
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # let the closed transports finish


async def read_request(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


async def cut_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"success": tr')
    await writer.drain()
    writer.close()


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await reader.read()  # until the client gives up and closes


async def call(
    client: UpstreamClient, via: str, method: str, path: str, body: bytes | None = None
) -> httpx.Response:
    """A call through httpx's client, or on the client's direct path, as the backend sends."""
    if via == "httpx":
        return await client.request(method, path, content=body)
    assert client.direct is not None
    url = client.base_url.join(path.lstrip("/"))
    headers = dict(client.headers.items())
    return await client.direct(method, url, headers, body, client.timeout.as_dict())


VIAS = pytest.mark.parametrize("via", ["httpx", "direct"])


async def real_fault(url: str, via: str = "httpx") -> Exception:
    timeouts = ClientTimeouts(connect=1, read=0.2)
    async with make_client(url, max_connections=10, timeouts=timeouts) as client:
        with pytest.raises(TRANSPORT_ERRORS) as raised:
            await call(client, via, "POST", "/api/v1/livechat/message", b'{"msg": "hi"}')
    return raised.value


@VIAS
async def test_a_refused_connection_is_reported_as_nothing_sent(via: str) -> None:
    fault = transport_fault(await real_fault(f"http://127.0.0.1:{free_port()}", via))
    assert fault.reached is Reached.CONNECT
    assert isinstance(fault.failure, UpstreamUnavailable)


@pytest.mark.parametrize(
    ("handler", "reached", "failure"),
    [(cut_mid_body, Reached.RESET, UpstreamUnavailable),
     (never_answer, Reached.TIMEOUT, UpstreamTimeout)],
    ids=["cut-mid-body", "no-answer"],
)  # fmt: skip
@VIAS
async def test_a_request_that_reached_the_server_is_never_reported_as_unsent(
    handler: Handler, reached: Reached, failure: type[BackendFailure], via: str
) -> None:
    async with serve(handler) as url:
        fault = transport_fault(await real_fault(url, via))
        assert fault.reached is reached
        assert isinstance(fault.failure, failure)


async def set_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    body = b"cookie" if b"cookie:" in request.lower() else b"clean"
    writer.write(
        b"HTTP/1.1 200 OK\r\nset-cookie: session=visitor-a; Path=/\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()
    writer.close()


@VIAS
async def test_a_cookie_one_answer_sets_never_rides_on_another_call(via: str) -> None:
    async with serve(set_cookie) as url:
        timeouts = ClientTimeouts(connect=3, read=10)
        async with make_client(url, max_connections=10, timeouts=timeouts) as client:
            answers = [
                (await call(client, via, "GET", "/api/v1/livechat/room")).text for _ in range(2)
            ]
    assert answers == ["clean", "clean"]


async def gzipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    body = gzip.compress(b'{"success": true}')
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()
    writer.close()


@VIAS
async def test_a_compressed_answer_is_read_decompressed(via: str) -> None:
    async with serve(gzipped) as url:
        timeouts = ClientTimeouts(connect=3, read=10)
        async with make_client(url, max_connections=10, timeouts=timeouts) as client:
            answer = await call(client, via, "GET", "/api/v1/livechat/config")
    assert answer.json() == {"success": True}
