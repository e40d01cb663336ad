"""A lean HTTP/1.1 client for the upstream calls whose answers are read whole.

aiohttp's client was a fifth of the facade's CPU per request at one visitor at a time (its
request and response objects, its stream reader, its timers), for a call that is one write of
a few hundred bytes and one read of a small JSON answer. This is that call and nothing else: an
asyncio `Protocol` per connection, httptools (llhttp, the parser uvicorn already runs on the
server side) for the answer, and a small keep-alive pool, saying on the wire exactly what
aiohttp said (`request_head`), and raising httpx's errors, which `transport.transport_fault`
maps to the same faults as aiohttp's:

    refused, DNS, TLS handshake                      -> httpx.ConnectError
    no connection in time                            -> httpx.ConnectTimeout
    no free connection in time (all busy)            -> httpx.PoolTimeout
    no answer, or a pause mid-answer, past the read timeout -> httpx.ReadTimeout
    the connection reset                             -> httpx.ReadError
    the connection closed before the answer ended, or a malformed answer
                                                     -> httpx.RemoteProtocolError

What it does not do, because the direct path never asks for it: redirects, decompression
(httpx decodes a Content-Encoding), cookies, proxies, streaming either way, HTTP/2.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import select
import socket
import ssl
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import aiohappyeyeballs
import httptools
import httpx

# What aiohttp adds to a request that does not say them itself (ClientRequest.DEFAULT_HEADERS
# and SERVER_SOFTWARE, for aiohttp without brotli or zstd, as installed): kept so that the
# direct path says exactly what it said on aiohttp.
_DEFAULT_ACCEPT = "*/*"
_DEFAULT_ACCEPT_ENCODING = "gzip, deflate"
_METHODS_WITHOUT_BODY = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_METHODS_WITH_BODY = frozenset({"PATCH", "POST", "PUT"})
# How long a name's addresses are kept (aiohttp's `ttl_dns_cache` default).
_DNS_TTL = 10.0
# How long an address is given before the next is tried alongside it (aiohttp's Happy
# Eyeballs delay, RFC 8305's recommended 250 ms).
_HAPPY_EYEBALLS_DELAY = 0.25
# An address of a name, as getaddrinfo gives it: (family, type, proto, canonname, sockaddr).
AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]
# The methods aiohttp sent a second time when the connection broke before any answer.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


@functools.cache
def _user_agent() -> str:
    from aiohttp.http import SERVER_SOFTWARE

    return SERVER_SOFTWARE


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The verifying context aiohttp made (`connector._make_ssl_context(True)`): the system's
    trust store, offering only HTTP/1.1. Made on the first https connection (it reads the
    certificates from disk), then shared."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(("http/1.1",))
    return context


class Origin(NamedTuple):
    scheme: str
    host: str  # as httpx encoded it (IDNA, no brackets)
    port: int


def origin_of(url: httpx.URL) -> Origin:
    scheme = url.scheme
    port = url.port or (443 if scheme == "https" else 80)
    return Origin(scheme, url.raw_host.decode("ascii"), port)


def host_header(origin: Origin) -> str:
    """The Host aiohttp sends (yarl's `host_port_subcomponent`): the host without a trailing
    dot, an IPv6 address in brackets, the port only when it is not the scheme's."""
    host = origin.host.rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    default = 443 if origin.scheme == "https" else 80
    return host if origin.port == default else f"{host}:{origin.port}"


def request_head(
    method: str,
    url: httpx.URL,
    host: str,
    headers: Mapping[str, str],
    content: bytes | None,
) -> bytes:
    """The request line and headers, as aiohttp wrote them for `session.request(method, url,
    headers=headers, data=content or None)`: Host first (the given one in its place if there
    is one), the given headers in their order, then the defaults the given ones lack (Accept,
    Accept-Encoding, User-Agent, Authorization from the URL's user), then Content-Length for a
    body (0 for a bodyless method that takes one) and Content-Type for a body or a method that
    takes one. A CR or LF in a name or value is refused, as aiohttp refused it."""
    given = {name.lower(): name for name in headers}
    host_name = given.get("host")
    if host_name is None:
        lines = [f"{method} {url.raw_path.decode('ascii')} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
    else:
        lines = [
            f"{method} {url.raw_path.decode('ascii')} HTTP/1.1",
            f"{host_name}: {headers[host_name]}",
        ]
        lines += [f"{name}: {value}" for name, value in headers.items() if name != host_name]
    if "accept" not in given:
        lines.append(f"Accept: {_DEFAULT_ACCEPT}")
    if "accept-encoding" not in given:
        lines.append(f"Accept-Encoding: {_DEFAULT_ACCEPT_ENCODING}")
    if "user-agent" not in given:
        lines.append(f"User-Agent: {_user_agent()}")
    if url.userinfo and "authorization" not in given:
        credentials = f"{url.username}:{url.password}".encode("latin-1")
        lines.append(f"Authorization: Basic {base64.b64encode(credentials).decode('ascii')}")
    if "content-length" not in given:
        if content:
            lines.append(f"Content-Length: {len(content)}")
        elif method not in _METHODS_WITHOUT_BODY:
            lines.append("Content-Length: 0")
    if "content-type" not in given and (content or method in _METHODS_WITH_BODY):
        lines.append("Content-Type: application/octet-stream")
    lines.append("\r\n")
    head = "\r\n".join(lines)
    if head.count("\n") != len(lines) or head.count("\r") != len(lines):
        raise ValueError(
            "Newline or carriage return character detected in HTTP status message or "
            "header. This is a potential security issue."
        )
    return head.encode()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]  # as they came: names in their case, in their order
    body: bytes


class _Connection(asyncio.Protocol):
    """One connection: one exchange at a time, its answer parsed as it arrives."""

    def __init__(self, pool: Pool, origin: Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.poller: select.poll | None = None  # to see if the server spoke while it was idle
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False  # closed by either side: never to be used again
        self.lost: asyncio.Future[None] = self.loop.create_future()
        self.counted = False  # holds one of the pool's slots (once connected)
        self.idle_since = 0.0
        self.reusable = False  # the last answer left it ready for the next request
        # The exchange under way.
        self.answer: asyncio.Future[Answer] | None = None
        self.head_only = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.out_of_step = False
        self.cut_before_answer = False  # closed or reset before the answer's head
        self.read_timeout: float | None = None
        self.last_read = 0.0
        self.timer: asyncio.TimerHandle | None = None

    # ---- asyncio ----

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.poller = select.poll()
            self.poller.register(sock.fileno(), select.POLLIN)

    def data_received(self, data: bytes) -> None:
        if self.answer is None or self.answer.done():
            self.close()  # bytes no request asked for: the connection is out of step
            return
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # A 101: the answer was settled (as reusable, by its keep-alive) just before this;
            # the connection now speaks another protocol and is never to be reused.
            self._finish(reusable=False)
            self.reusable = False
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"malformed answer: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._discard(self)
        self.pool.connections.discard(self)
        answer = self.answer
        if answer is not None and not answer.done():
            self.cut_before_answer = not self.headers_done
            if exc is not None:
                self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
            elif self.headers_done and self._body_to_eof():
                self._finish(reusable=False)
            elif self.headers_done:
                self._fail(
                    httpx.RemoteProtocolError(
                        "peer closed connection without sending complete message body"
                    )
                )
            else:
                self._fail(
                    httpx.RemoteProtocolError("Server disconnected without sending a response.")
                )
        self._stop_timer()
        if not self.lost.done():
            self.lost.set_result(None)

    # ---- httptools ----

    def on_message_begin(self) -> None:
        if self.headers_done:
            # A second answer to one request: the connection is out of step. The answer
            # already given keeps its headers; the connection is closed once it is released.
            self.headers = []
            self.out_of_step = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.headers = []  # an interim answer: the real one follows
            return
        self.status = status
        self.headers_done = True
        if self.head_only:
            self._finish(reusable=False)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if not self.headers_done:
            return  # the end of an interim answer
        self._finish(reusable=self.parser.should_keep_alive())

    # ---- the exchange ----

    def send(
        self, data: bytes, read_timeout: float | None, head_only: bool
    ) -> asyncio.Future[Answer]:
        """Write the request; the future answers with the whole answer, or fails."""
        assert self.transport is not None
        self.answer = answer = self.loop.create_future()
        self.head_only = head_only
        self.status = 0
        self.headers = []
        self.body = []
        self.headers_done = False
        self.reusable = False
        self.transport.write(data)
        if read_timeout is not None:
            self.read_timeout = read_timeout
            self.last_read = now = self.loop.time()
            self.timer = self.loop.call_at(now + read_timeout, self._check_timeout)
        return answer

    def _check_timeout(self) -> None:
        """The read timeout is per read, as httpx's is: it runs out only after that long
        without a byte, however long the whole answer takes."""
        self.timer = None
        answer = self.answer
        if answer is None or answer.done() or self.read_timeout is None:
            return
        deadline = self.last_read + self.read_timeout
        if self.loop.time() >= deadline:
            self._fail(httpx.ReadTimeout("no answer from the upstream server in time"))
        else:
            self.timer = self.loop.call_at(deadline, self._check_timeout)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _body_to_eof(self) -> bool:
        """Whether the answer's body runs to the end of the connection (no length, not
        chunked): the only way a closed connection ends an answer."""
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length":
                return False
            if lowered == b"transfer-encoding" and b"chunked" in value.lower():
                return False
        return True

    def _finish(self, *, reusable: bool) -> None:
        self._stop_timer()
        answer = self.answer
        if answer is not None and not answer.done():
            self.reusable = reusable and not self.closed
            answer.set_result(Answer(self.status, self.headers, b"".join(self.body)))

    def _fail(self, error: Exception) -> None:
        self._stop_timer()
        answer = self.answer
        if answer is not None and not answer.done():
            answer.set_exception(error)
        self.close()

    def usable(self, now: float, expiry: float) -> bool:
        transport = self.transport
        return (
            not self.closed
            and transport is not None
            and not transport.is_closing()
            and now - self.idle_since < expiry
            and not self._readable()
        )

    def _readable(self) -> bool:
        """Whether bytes (or the end) came while it was idle and the loop has not yet read
        them: a server that closed an idle connection just now. Sending on it would fail
        (a POST may not be retried), so it is dropped instead, as httpcore drops one."""
        return self.poller is not None and bool(self.poller.poll(0))

    def close(self) -> None:
        """Close at once (nothing of ours is left to write), and give back its slot."""
        self.closed = True
        self._stop_timer()
        if self.transport is not None:
            self.transport.abort()  # `connection_lost` follows, once the socket is closed
        else:
            self.pool.connections.discard(self)
        self.pool._discard(self)


class Pool:
    """Keep-alive connections to any number of origins, at most `max_connections` open in all
    (busy, idle or connecting), as aiohttp's connector kept them: idle ones reused newest
    first and closed after `keepalive_expiry` seconds unused. Made in the loop it serves."""

    def __init__(self, *, max_connections: int, keepalive_expiry: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self.open = 0
        self.idle: dict[Origin, list[_Connection]] = {}
        self.connections: set[_Connection] = set()
        self.opening: set[asyncio.Task[None]] = set()  # connections being opened
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.sweep: asyncio.TimerHandle | None = None
        self.hosts: dict[Origin, str] = {}
        self.resolved: dict[Origin, tuple[float, list[AddrInfo]]] = {}
        self.closed = False

    async def request(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        content: bytes | None,
        timeouts: Mapping[str, float | None],
    ) -> Answer:
        origin = origin_of(url)
        host = self.hosts.get(origin)
        if host is None:
            host = self.hosts[origin] = host_header(origin)
        head = request_head(method, url, host, headers, content)
        data = head + content if content else head
        retry = method in _IDEMPOTENT
        while True:
            connection = await self._acquire(origin, timeouts)
            try:
                answer = await connection.send(data, timeouts.get("read"), method == "HEAD")
            except (httpx.ReadError, httpx.RemoteProtocolError):
                connection.close()
                if retry and connection.cut_before_answer:
                    # As aiohttp did: an idempotent request whose connection broke before
                    # any answer is sent once more, on another connection.
                    retry = False
                    continue
                raise
            except BaseException:
                connection.close()  # whatever went wrong (a cancel too), never reused
                raise
            self._release(connection)
            return answer

    async def aclose(self) -> None:
        """Close every connection and wait until each socket is closed."""
        self.closed = True
        if self.sweep is not None:
            self.sweep.cancel()
            self.sweep = None
        # Those being opened too: a connect or a TLS handshake under way is cancelled (which
        # closes its socket), and one made but not yet handed to its call is closed.
        opening = list(self.opening)
        for task in opening:
            task.cancel()
        connections = list(self.connections)
        for connection in connections:
            connection._fail(httpx.ReadError("the client was closed"))
        self.idle.clear()
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        # (One still in its TLS handshake has no transport of its own: it is never `lost`.)
        waiting = [*opening, *(c.lost for c in connections if c.transport is not None)]
        if waiting:
            await asyncio.wait(waiting)

    # ---- the pool ----

    async def _acquire(self, origin: Origin, timeouts: Mapping[str, float | None]) -> _Connection:
        # One deadline for waiting for a slot and connecting in it, as aiohttp's
        # ClientTimeout(connect=pool, sock_connect=connect) bounded them together.
        connect = timeouts.get("connect")
        wait = timeouts.get("pool")
        deadline = None if wait is None else self.loop.time() + wait
        woken = False
        while True:
            if self.closed:
                # As aiohttp's closed session refused it ("Session is closed").
                raise RuntimeError("the upstream client is closed")
            idle = self.idle.get(origin)
            if idle:
                now = self.loop.time()
                expiry = self.keepalive_expiry
                while idle:
                    connection = idle.pop()
                    if connection.usable(now, expiry):
                        return connection
                    connection.close()
            if self.open < self.max_connections or self._evict():
                timeout = connect
                if deadline is not None:
                    left = max(deadline - self.loop.time(), 0.0)
                    timeout = left if timeout is None else min(timeout, left)
                return await self._connect(origin, timeout)
            await self._wait(deadline, first=woken)
            woken = True  # and beaten to it: next in line, within the same deadline

    async def _wait(self, deadline: float | None, *, first: bool) -> None:
        """Until a slot or an idle connection comes free, or the deadline passes."""
        waiter: asyncio.Future[None] = self.loop.create_future()
        if first:
            self.waiters.appendleft(waiter)
        else:
            self.waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                self._wake()  # woken as it gave up: the turn passes to the next waiter
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)
            if isinstance(error, TimeoutError):
                raise httpx.PoolTimeout("no free connection to the upstream in time") from None
            raise

    def _wake(self) -> None:
        """A slot or an idle connection came free: the longest waiter tries again."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _evict(self) -> bool:
        """At the limit, an idle connection to another origin gives up its slot."""
        for idle in self.idle.values():
            if idle:
                idle.pop(0).close()
                return True
        return False

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        """A new connection to `origin`, in the slot it takes (given back if it fails)."""
        self.open += 1
        made: list[_Connection] = []

        def protocol() -> _Connection:
            made.append(_Connection(self, origin))
            self.connections.add(made[-1])  # for `aclose` to close, from now on
            return made[-1]

        opening = self.loop.create_task(self._open(origin, protocol))
        self.opening.add(opening)
        try:
            async with asyncio.timeout(timeout):
                await opening  # a cancel or the timeout cancels it too
        except BaseException as error:
            for connection in made:
                connection.close()  # a TLS handshake that failed, or a cancel
            self.open -= 1
            self._wake()
            task = asyncio.current_task()
            if (
                isinstance(error, asyncio.CancelledError)
                and opening.cancelled()
                and self.closed
                and task is not None
                and not task.cancelling()
            ):
                # Cancelled by `aclose`, not this call's own cancel.
                raise httpx.ConnectError("the client was closed") from None
            if isinstance(error, TimeoutError):
                self.resolved.pop(origin, None)  # look the name up again next time
                raise httpx.ConnectTimeout("no connection to the upstream server in time") from None
            if isinstance(error, OSError):  # refused, DNS, TLS (ssl.SSLError is an OSError)
                raise httpx.ConnectError(str(error) or type(error).__name__) from error
            raise
        finally:
            self.opening.discard(opening)
        connection = made[-1]
        transport = connection.transport
        if (
            connection.closed
            or self.closed
            or transport is None
            or transport.is_closing()
            # The server's FIN (or RST) already came, and the loop has not read it yet
            # (`connection_lost` would run a step later). Not asked of a TLS connection: a
            # TLS 1.3 server sends its session tickets just after the handshake.
            or (origin.scheme != "https" and connection._readable())
        ):
            # Closed by the server as it was opened (nothing was sent), or by our `aclose`.
            connection.close()
            self.open -= 1
            self._wake()
            raise httpx.ConnectError("the connection was closed as it was opened")
        connection.counted = True
        self.connections.add(connection)
        return connection

    async def _open(self, origin: Origin, protocol: Callable[[], _Connection]) -> None:
        """Connect to `origin`'s addresses as aiohttp did, Happy Eyeballs (RFC 8305): the
        first tried, the next started alongside it after 250 ms without an answer, the first
        to connect kept; with the addresses kept for `_DNS_TTL` seconds, as aiohttp kept
        them: a server that closes its connections after each answer must not cost a lookup
        per call."""
        tls = _tls_context() if origin.scheme == "https" else None
        try:
            sock = await aiohappyeyeballs.start_connection(
                await self._addresses(origin),
                happy_eyeballs_delay=_HAPPY_EYEBALLS_DELAY,
                loop=self.loop,
            )
        except OSError:
            self.resolved.pop(origin, None)  # none answered: look the name up again next time
            raise
        try:
            await self.loop.create_connection(
                protocol,
                sock=sock,
                ssl=tls,
                server_hostname=origin.host.rstrip(".") if tls else None,
            )
        except BaseException:
            sock.close()  # a TLS handshake that failed, or a cancel
            raise

    async def _addresses(self, origin: Origin) -> list[AddrInfo]:
        now = self.loop.time()
        cached = self.resolved.get(origin)
        if cached is not None and now < cached[0]:
            return cached[1]
        # Only the families this host has an address of, as aiohttp asked (AI_ADDRCONFIG).
        found = await self.loop.getaddrinfo(
            origin.host, origin.port, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG
        )
        addresses: list[AddrInfo] = list(
            dict.fromkeys(
                (int(family), int(kind), proto, canonname, tuple(address))
                for family, kind, proto, canonname, address in found
            )
        )
        self.resolved[origin] = (now + _DNS_TTL, addresses)
        return addresses

    def _release(self, connection: _Connection) -> None:
        if not connection.reusable or connection.closed or connection.out_of_step or self.closed:
            connection.close()
            return
        connection.answer = None
        connection.idle_since = self.loop.time()
        self.idle.setdefault(connection.origin, []).append(connection)
        if self.sweep is None:
            self.sweep = self.loop.call_at(
                connection.idle_since + self.keepalive_expiry, self._sweep
            )
        self._wake()

    def _sweep(self) -> None:
        """Close the connections idle past the keep-alive expiry; come back for the next."""
        self.sweep = None
        now = self.loop.time()
        expiry = self.keepalive_expiry
        oldest: float | None = None
        for idle in self.idle.values():
            for connection in list(idle):
                if now - connection.idle_since >= expiry:
                    idle.remove(connection)
                    connection.close()
                elif oldest is None or connection.idle_since < oldest:
                    oldest = connection.idle_since
        if oldest is not None:
            self.sweep = self.loop.call_at(oldest + expiry, self._sweep)

    def _discard(self, connection: _Connection) -> None:
        """A connection closed: its slot is free (once), and it is no longer idle. It stays
        among `connections` until its socket is closed (`_lost`), for `aclose` to wait for."""
        if not connection.counted:
            return
        connection.counted = False
        self.open -= 1
        idle = self.idle.get(connection.origin)
        if idle and connection in idle:
            idle.remove(connection)
        self._wake()
