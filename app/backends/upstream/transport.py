"""The HTTP client to the upstream server, and what each of its errors means for a retry.

The client is httpx (its API, timeouts, errors and test seams) over aiohttp's connection pool
(`httpx_aiohttp.AiohttpTransport`). httpx's own pool (httpcore) costs more per request than
the whole GraphQL layer and collapses under concurrency: on the facade benchmark it capped a
pass-through at about 500 requests/s at 32 connections, aiohttp's pool at about 3,000. httpx's
client over aiohttp still cost more CPU than aiohttp itself, and aiohttp's client more than the
exchange it makes, so the calls whose answers are read whole (every operation but files) take
the direct path under it (`DirectSend`): the lean HTTP/1.1 client of `wire` (its own pool, the
same request on the wire as aiohttp sent, httpx's errors), the same metrics, without httpx's
request, client and response machinery nor aiohttp's. A client wrapped by something that needs
httpx's request (the tracing transport, a test's transport) is called through httpx, over
aiohttp, as before; so are files, streamed as they come.

Every error a call can raise is mapped here, once, to a `TransportFault`: the domain failure it
becomes and whether the request may have reached the server (which decides whether a retry is
safe). On the httpx path the aiohttp transport converts aiohttp's errors into httpx's, but
coarsely (a server that closed the connection mid-answer becomes `httpx.ConnectTimeout`, which
would claim that nothing was sent), so the aiohttp error it came from, kept as `__cause__`, is
read first. The direct path raises httpx's errors itself, each for what happened (see `wire`),
with no aiohttp cause:

    aiohttp (the cause, when there is one: the httpx path)
      ClientConnectorError and subclasses (refused, DNS, TLS)  -> CONNECT  UpstreamUnavailable
      ConnectionTimeoutError (no connection in time)           -> CONNECT  UpstreamTimeout
      SocketTimeoutError, ServerTimeoutError (no answer)       -> TIMEOUT  UpstreamTimeout
      ServerDisconnectedError, ClientOSError, ClientPayloadError,
        ClientConnectionResetError, other ClientConnectionError -> RESET   UpstreamUnavailable
      any other ClientError (bad URL, redirects, proxy answer) -> NEVER    UpstreamError
    httpx (the direct path raises these: what it raises for which, in brackets)
      ConnectError (refused, DNS, TLS)                         -> CONNECT  UpstreamUnavailable
      ConnectTimeout, PoolTimeout (nothing sent)               -> CONNECT  UpstreamTimeout
      ReadTimeout (no answer), WriteTimeout, other TimeoutException
                                                               -> TIMEOUT  UpstreamTimeout
      ReadError (reset), RemoteProtocolError (closed before the answer ended, or a malformed
        answer), WriteError, CloseError                        -> RESET    UpstreamUnavailable
      NetworkError, ProtocolError (others)                     -> RESET    UpstreamUnavailable
      every other HTTPError, StreamError, InvalidURL, CookieConflict -> NEVER UpstreamError
    OSError (a socket error neither library wrapped)           -> RESET    UpstreamUnavailable
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

from app.backends.base import (
    BackendFailure,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from app.backends.upstream.wire import Pool

# What a call may raise: everything `transport_fault` knows how to map.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.HTTPError,
    httpx.StreamError,
    httpx.InvalidURL,
    httpx.CookieConflict,
    aiohttp.ClientError,
    OSError,
)


# Seconds an idle upstream connection is kept. Rocket.Chat's HTTP server (Node's, whose
# `keepAliveTimeout` is 5 s by default) closes one idle for 5 s; a client that kept it as long
# could send on it just as it is closed, and a call that may not be retried would fail. So it
# is let go of a second before.
KEEPALIVE_EXPIRY = 4.0


class Reached(enum.Enum):
    """How far a failed request got, which decides which retry policies allow another try."""

    CONNECT = "nothing was sent"
    TIMEOUT = "sent, and no answer in time"
    RESET = "sent, and the connection broke"
    NEVER = "a mistake a retry cannot fix"


@dataclass(frozen=True)
class TransportFault:
    failure: BackendFailure
    reached: Reached

    @property
    def kind(self) -> str:
        """The label metrics give it: timeout, connect_error, reset or error."""
        if isinstance(self.failure, UpstreamTimeout):
            return "timeout"
        if self.reached is Reached.CONNECT:
            return "connect_error"
        if self.reached is Reached.RESET:
            return "reset"
        return "error"


def _unavailable(reached: Reached) -> TransportFault:
    message = (
        "the upstream server is unreachable"
        if reached is Reached.CONNECT
        else "the connection to the upstream server broke"
    )
    return TransportFault(UpstreamUnavailable(message), reached)


def _timeout(reached: Reached) -> TransportFault:
    return TransportFault(UpstreamTimeout("the upstream server did not answer in time"), reached)


def _never() -> TransportFault:
    return TransportFault(
        UpstreamError("the call to the upstream server could not be made"), Reached.NEVER
    )


def _aiohttp_fault(error: aiohttp.ClientError) -> TransportFault:
    if isinstance(error, aiohttp.ClientConnectorError):
        return _unavailable(Reached.CONNECT)
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return _timeout(Reached.CONNECT)
    if isinstance(error, aiohttp.ServerTimeoutError):
        return _timeout(Reached.TIMEOUT)
    if isinstance(error, aiohttp.ServerFingerprintMismatch):
        return _never()
    if isinstance(error, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        return _unavailable(Reached.RESET)
    return _never()


def _httpx_fault(error: Exception) -> TransportFault:
    if isinstance(error, httpx.ConnectError):
        return _unavailable(Reached.CONNECT)
    if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout):
        return _timeout(Reached.CONNECT)
    if isinstance(error, httpx.TimeoutException):
        return _timeout(Reached.TIMEOUT)
    if isinstance(error, httpx.NetworkError | httpx.ProtocolError):
        return _unavailable(Reached.RESET)
    if isinstance(error, OSError):
        return _unavailable(Reached.RESET)
    return _never()


def transport_fault(error: Exception) -> TransportFault:
    """The one mapping of a call's error (any of `TRANSPORT_ERRORS`) to a coded failure."""
    cause = error.__cause__
    if isinstance(error, aiohttp.ClientError):
        return _aiohttp_fault(error)
    if isinstance(cause, aiohttp.ClientError):
        return _aiohttp_fault(cause)
    return _httpx_fault(error)


def _unwrapped(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    return transport


@dataclass(frozen=True)
class ClientTimeouts:
    """Seconds per attempt: to connect (and to wait for a pooled connection), and to read or
    write."""

    connect: float
    read: float


class TransportStats:
    """Counted for the test that proves httpx and httpx-aiohttp still reach these shortcuts
    (tests/test_library_seams.py): a new release that went round them would only cost CPU."""

    cookies_skipped = 0
    bodies_read = 0  # on httpx's path
    direct_sends = 0  # on the direct path (`_ReadTransport.send_direct`)


class _NoCookies(httpx.Cookies):
    """httpx keeps cookies per client too: a jar that never takes one, for the same reason as
    the session's (see `make_client`), and that skips httpx's per-answer conversion of the answer
    and its request into urllib's shapes just to find that out (a visible share of each call)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        TransportStats.cookies_skipped += 1


class _CookielessClient(httpx.AsyncClient):
    """httpx's client with `_NoCookies` for its jar, whatever it is given (it holds nothing,
    so one serves every client)."""

    _no_cookies: ClassVar[httpx.Cookies] = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        return None


Timeouts = Mapping[str, float | None]


class DirectSend(Protocol):
    """One attempt sent on the lean client's pool without httpx's client around it (see
    `_ReadTransport.send_direct`): the answer as httpx's `send` would give it, read whole."""

    def __call__(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        content: bytes | None,
        timeouts: Timeouts,
    ) -> Awaitable[httpx.Response]: ...


class _ReadTransport(AiohttpTransport):
    """The aiohttp transport with each answer's body read at once, by aiohttp's own `read`,
    and handed to httpx as bytes. httpx reads the whole body of every answer we ask for
    anyway; through the transport's stream it took aiohttp's chunk iterator, an exception
    mapping per chunk and a close of the aiohttp answer, more CPU than the rest of httpx's
    read. The errors of the read are mapped as the stream maps them (and their aiohttp cause
    kept); the body stays as sent (httpx decodes any Content-Encoding, as before). Its
    direct path (`send_direct`) is not aiohttp's but the lean client's (`wire.Pool`)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        stream = response.stream
        if request.extensions.get("stream_body"):
            return response  # a file: streamed to the visitor as it comes
        if isinstance(stream, AiohttpResponseStream):
            TransportStats.bodies_read += 1
            answer = stream._aiohttp_response
            try:
                with map_aiohttp_exceptions():
                    body = await answer.read()
            finally:
                answer.release()
            response.stream = httpx.ByteStream(body)
        return response

    wire: Pool | None = None

    async def send_direct(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        content: bytes | None,
        timeouts: Timeouts,
    ) -> httpx.Response:
        """What `handle_async_request` does for a request the caller built whole (its headers
        merged, its body encoded, its URL absolute), on the lean client (`wire.Pool`) instead
        of aiohttp's, and without httpx's client and request objects: `AsyncClient.send`
        (auth, redirects, hooks, a bound stream, the response's read through its decoders),
        `Request` and aiohttp's own request and response machinery cost several times the
        CPU of the exchange itself. The request on the wire is the one aiohttp sent; the
        errors are httpx's, which `transport_fault` maps as it mapped aiohttp's."""
        wire = self.wire
        if wire is None:
            # Made on the first call, inside the running loop, as aiohttp's session is.
            limits = self.limits
            wire = self.wire = Pool(
                max_connections=limits.max_connections or 100,
                keepalive_expiry=limits.keepalive_expiry or KEEPALIVE_EXPIRY,
            )
        answer = await wire.request(method, url, headers, content, timeouts)
        TransportStats.direct_sends += 1
        raw, body = answer.headers, answer.body
        if any(name.lower() == b"content-encoding" for name, _ in raw):
            # httpx decodes the Content-Encoding, as it does on its own path.
            return httpx.Response(answer.status, headers=raw, content=body)
        # The body as it came, taken as read (what `Response.read` leaves): httpx's read
        # through its decoders made this answer cost eight times more.
        response = httpx.Response(answer.status, headers=raw, stream=httpx.ByteStream(body))
        response._content = body
        return response

    async def aclose(self) -> None:
        """aiohttp's session and the lean client's pool, each if it was made."""
        try:
            await super().aclose()
        finally:
            if self.wire is not None:
                await self.wire.aclose()  # and refuses any later call, as a closed session


def direct_send(transport: httpx.AsyncBaseTransport) -> DirectSend | None:
    """The direct path through `transport`, if it has one: the lean client under our aiohttp
    transport, or a wrapper that offers its own around it (`direct_through`, as the metered
    one does). A transport without one (a test's, the tracing one) is only reached through
    httpx."""
    if isinstance(transport, _ReadTransport):
        return transport.send_direct
    through = getattr(transport, "direct_through", None)
    return through() if callable(through) else None


class UpstreamClient(_CookielessClient):
    """The client `make_client` gives: httpx's, and the direct path under it (`direct`,
    None when its transport has none) for the calls whose answers are read whole."""

    def __init__(self, *, direct: DirectSend | None, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.direct = direct


def make_client(
    base_url: str,
    *,
    max_connections: int,
    timeouts: ClientTimeouts,
    wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
) -> UpstreamClient:
    """The pooled client to `base_url`: its direct path on the lean client's pool, its httpx
    path on aiohttp's; `wrap` puts the observing transport (metrics, spans) around both. Each
    pool holds at most `max_connections`; aiohttp's is only made once something takes the
    httpx path (readiness, files, a traced call)."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )

    def session() -> aiohttp.ClientSession:
        # Made on the first call, inside the running loop. No cookie jar: the client speaks
        # for every visitor, so a cookie one answer sets must never ride on another's call.
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=max_connections,
                keepalive_timeout=limits.keepalive_expiry or KEEPALIVE_EXPIRY,
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    transport = (wrap or _unwrapped)(_ReadTransport(limits=limits, client=session))
    return UpstreamClient(
        direct=direct_send(transport),
        base_url=base_url,
        transport=transport,
        timeout=httpx.Timeout(
            connect=timeouts.connect,
            read=timeouts.read,
            write=timeouts.read,
            pool=timeouts.connect,
        ),
        headers={"User-Agent": "livechat-graphql"},
    )
