"""The lean HTTP/1.1 client under the direct path (app/backends/upstream/wire.py), against real
sockets on loopback: a server started here answers each connection with a script (chunked, to
the end of the connection, `Connection: close`, a stall, a reset, garbage, an idle close), and
each test checks the answer or the fault `transport_fault` makes of it, that the pool reuses and
limits its connections, and that closing it leaves no socket open. Every test runs on asyncio's
loop and again on uvloop's (the one the server runs)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import inspect
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import uvloop
from yarl import URL

from app.backends.base import UpstreamTimeout, UpstreamUnavailable
from app.backends.upstream import wire
from app.backends.upstream.transport import (
    ClientTimeouts,
    Reached,
    UpstreamClient,
    make_client,
    transport_fault,
)

Script = Callable[["Peer"], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
TIMEOUTS: dict[str, float | None] = {"connect": 1.0, "read": 1.0, "pool": 1.0}


def ok(body: bytes) -> bytes:
    return OK % (len(body), body)


@dataclass
class Peer:
    """One connection the server accepted: its number (from 0), its streams, and what it was
    sent."""

    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    requests: list[bytes] = field(default_factory=list)

    async def request(self) -> bytes:
        """The next request's head and its body (by its Content-Length), or b"" at the end."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return b""
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        whole = head + await self.reader.readexactly(length)
        self.requests.append(whole)
        return whole

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def reset(self) -> None:
        """Close with a RST instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


@dataclass
class Upstream:
    url: str
    peers: list[Peer]
    busiest: int = 0  # the most connections open at once


@contextlib.asynccontextmanager
async def upstream(
    script: Script, scheme: str = "http", tls: Any = None
) -> AsyncIterator[Upstream]:
    """A server on a loopback port that runs `script` on each connection it accepts, then
    closes it; every connection is closed when the block ends."""
    peers: list[Peer] = []
    open_now: set[int] = set()
    server_box: list[Upstream] = []

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(len(peers), reader, writer)
        peers.append(peer)
        open_now.add(peer.number)
        server_box[0].busiest = max(server_box[0].busiest, len(open_now))
        try:
            await script(peer)
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            open_now.discard(peer.number)
            writer.close()

    server = await asyncio.start_server(accepted, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    server_box.append(Upstream(f"{scheme}://127.0.0.1:{port}", peers))
    try:
        yield server_box[0]
    finally:
        for peer in peers:
            peer.writer.close()
        server.close()
        await server.wait_closed()
        for _ in range(3):
            await asyncio.sleep(0)  # let the closed transports finish


def sockets_to(port: int) -> int:
    """How many sockets this process has open to `port` on loopback (Linux's /proc)."""
    ours = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                ours.add(target[8:-1])
    found = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in ours:
                    found += 1
    return found


@contextlib.asynccontextmanager
async def client(
    url: str, *, max_connections: int = 10, connect: float = 1, read: float = 1
) -> AsyncIterator[UpstreamClient]:
    """The client `make_client` makes, closed when the block ends, after which it may have
    no socket left open."""
    made = make_client(
        url, max_connections=max_connections, timeouts=ClientTimeouts(connect=connect, read=read)
    )
    port = httpx.URL(url).port or 80
    before = sockets_to(port)
    async with made:
        yield made
    await settled()
    assert sockets_to(port) <= before


@contextlib.contextmanager
def stalling_port() -> Iterator[int]:
    """A loopback port whose connects hang: its listening socket's backlog is full and never
    accepted from, so the kernel drops a new client's SYN and the client keeps waiting."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(0)
        port: int = listening.getsockname()[1]
        filling = []
        try:
            for _ in range(4):
                sock = socket.socket()
                filling.append(sock)
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    sock.connect(("127.0.0.1", port))
            yield port
        finally:
            for sock in filling:
                sock.close()


async def settled() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def call(
    made: UpstreamClient, method: str = "GET", path: str = "/", body: bytes | None = None
) -> httpx.Response:
    """One call on the direct path, as the backend makes it."""
    assert made.direct is not None
    url = made.base_url.join(path.lstrip("/"))
    headers = dict(made.headers.items())
    return await made.direct(method, url, headers, body, made.timeout.as_dict())


async def fault_of(made: UpstreamClient, method: str = "POST") -> tuple[Exception, Reached]:
    with pytest.raises(httpx.HTTPError) as raised:
        await call(made, method, "/api/v1/livechat/message", b'{"msg": "hi"}')
    return raised.value, transport_fault(raised.value).reached


async def answer_each(peer: Peer) -> None:
    """Keep-alive: answers every request with the connection's number."""
    while await peer.request():
        peer.send(ok(b"connection %d" % peer.number))


# ---- answers ----


async def test_a_keep_alive_answer_is_read_and_its_connection_reused() -> None:
    async with upstream(answer_each) as server, client(server.url) as made:
        answers = [(await call(made)).text for _ in range(3)]
    assert answers == ["connection 0"] * 3
    assert len(server.peers) == 1


async def test_a_chunked_answer_is_read_whole_and_its_connection_reused() -> None:
    async def chunked(peer: Peer) -> None:
        while await peer.request():
            peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            peer.send(b"5\r\nhello\r\n")
            await asyncio.sleep(0.01)
            peer.send(b"6\r\n world\r\n0\r\n\r\n")

    async with upstream(chunked) as server, client(server.url) as made:
        answers = [(await call(made)).text for _ in range(2)]
    assert answers == ["hello world"] * 2
    assert len(server.peers) == 1


async def test_an_answer_without_a_length_is_read_to_the_end_of_the_connection() -> None:
    async def to_eof(peer: Peer) -> None:
        await peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of ")
        await asyncio.sleep(0.01)
        peer.send(b"it")

    async with upstream(to_eof) as server, client(server.url) as made:
        answers = [(await call(made)).text for _ in range(2)]
    assert answers == ["all of it"] * 2
    assert len(server.peers) == 2


@pytest.mark.parametrize(
    "head",
    [b"HTTP/1.1 200 OK\r\nConnection: close\r\n", b"HTTP/1.0 200 OK\r\n"],
    ids=["connection-close", "http-1.0"],
)
async def test_an_answer_that_ends_its_connection_is_not_followed_by_another(head: bytes) -> None:
    async def once(peer: Peer) -> None:
        await peer.request()
        peer.send(head + b"Content-Length: 4\r\n\r\ndone")
        await peer.reader.read()  # the server keeps it open: the client must close it

    async with upstream(once) as server, client(server.url) as made:
        answers = [(await call(made)).text for _ in range(2)]
    assert answers == ["done"] * 2
    assert len(server.peers) == 2


async def test_a_switching_protocols_answer_ends_its_connection() -> None:
    """A 101 hands the connection to another protocol: the next call takes a new one."""

    async def switching(peer: Peer) -> None:
        while await peer.request():
            if peer.number == 0:
                peer.send(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"
                )
            else:
                peer.send(ok(b"connection %d" % peer.number))

    async with upstream(switching) as server, client(server.url) as made:
        first = await call(made)
        second = await call(made)
    assert (first.status_code, second.text) == (101, "connection 1")


async def test_an_interim_answer_is_skipped() -> None:
    async def continued(peer: Peer) -> None:
        while await peer.request():
            peer.send(b"HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n" + ok(b"final"))

    async with upstream(continued) as server, client(server.url) as made:
        answer = await call(made)
        again = await call(made)
    assert (answer.status_code, answer.text, again.text) == (200, "final", "final")
    assert "x-interim" not in answer.headers
    assert len(server.peers) == 1


async def test_an_answer_keeps_its_status_and_headers_as_sent() -> None:
    async def created(peer: Peer) -> None:
        await peer.request()
        peer.send(
            b"HTTP/1.1 201 Created\r\nX-One: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
            b"Content-Length: 2\r\n\r\n{}"
        )

    async with upstream(created) as server, client(server.url) as made:
        answer = await call(made)
    assert answer.status_code == 201
    assert answer.headers.raw[:3] == [
        (b"X-One", b"1"),
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
    ]
    assert answer.json() == {}


async def test_a_compressed_answer_is_decoded_by_httpx() -> None:
    body = gzip.compress(b'{"success": true}')

    async def gzipped(peer: Peer) -> None:
        await peer.request()
        peer.send(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )

    async with upstream(gzipped) as server, client(server.url) as made:
        answer = await call(made)
    assert answer.json() == {"success": True}


async def test_a_slow_answer_that_keeps_coming_is_not_timed_out() -> None:
    """The read timeout is per read, as httpx's and aiohttp's are, not for the whole answer."""

    async def trickle(peer: Peer) -> None:
        await peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(6):
            await asyncio.sleep(0.05)
            peer.send(b"1\r\nx\r\n")
        peer.send(b"0\r\n\r\n")

    async with upstream(trickle) as server, client(server.url, read=0.15) as made:
        answer = await call(made)
    assert answer.text == "xxxxxx"


# ---- the request on the wire ----


async def capture(send: Callable[[str], Awaitable[object]]) -> bytes:
    """What `send(url)` put on the wire."""
    async with upstream(answer_each) as server:
        await send(server.url)
    [peer] = server.peers
    [request] = peer.requests
    return request.replace(server.url.split("//")[1].encode(), b"HOST:PORT")


# The client's own headers, in httpx's order, as `make_client` makes them.
CLIENT = {
    "accept": "*/*",
    "accept-encoding": "gzip, deflate",
    "connection": "keep-alive",
    "user-agent": "livechat-graphql",
}
JSON = {**CLIENT, "content-type": "application/json"}
FORWARDED = {**CLIENT, "x-request-id": "r1", "x-forwarded-for": "1.2.3.4", "X-Mixed": "Case"}
REQUESTS: list[tuple[str, str, dict[str, str], bytes | None]] = [
    ("POST", "/api/v1/livechat/message", JSON, b'{"a": 1}'),
    ("POST", "/x", CLIENT, b"raw"),
    ("POST", "/x", CLIENT, None),
    ("PUT", "/x", JSON, b""),
    ("DELETE", "/x", CLIENT, None),
    ("GET", "/api/v1/livechat/room?token=a%20b&rid=r", CLIENT, None),
    ("GET", "/", FORWARDED, None),
    ("GET", "/", {}, None),  # aiohttp's defaults: Accept, Accept-Encoding, User-Agent
    ("GET", "/", {"Host": "elsewhere", "x-a": "1"}, None),
    ("GET", "/", {"content-length": "0", "Content-Type": "text/plain"}, None),
]


def test_the_client_sends_the_headers_the_wire_test_assumes() -> None:
    made = make_client("http://h", max_connections=1, timeouts=ClientTimeouts(1, 1))
    assert list(made.headers.items()) == list(CLIENT.items())


@pytest.mark.parametrize(("method", "path", "headers", "body"), REQUESTS)
@pytest.mark.parametrize("userinfo", ["", "us%C3%A9r:p%40ss@"], ids=["", "userinfo"])
async def test_the_request_on_the_wire_is_the_one_aiohttp_sent(
    method: str, path: str, headers: dict[str, str], body: bytes | None, userinfo: str
) -> None:
    """What send_direct sent on aiohttp (`session.request` as it was called there) and what
    it sends now are the same bytes: the Host, the headers in their order, the defaults
    aiohttp added, Authorization from the URL's user, Content-Length and Content-Type."""

    async def by_aiohttp(url: str) -> None:
        url = url.replace("://", f"://{userinfo}")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            target = httpx.URL(url).join(path)
            answer = await session.request(
                method,
                URL(str(target), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
            )
            await answer.read()
            answer.release()

    async def by_wire(url: str) -> None:
        url = url.replace("://", f"://{userinfo}")
        async with client(url) as made:
            assert made.direct is not None
            target = made.base_url.join(path)
            await made.direct(method, target, headers, body, made.timeout.as_dict())

    assert await capture(by_wire) == await capture(by_aiohttp)


@pytest.mark.parametrize(
    ("url", "host"),
    [("http://h:80/", "h"), ("http://h:8080/", "h:8080"), ("https://h:443/", "h"),
     ("https://h.example./", "h.example"), ("http://[::1]:81/", "[::1]:81")],
)  # fmt: skip
def test_the_host_is_named_as_aiohttp_named_it(url: str, host: str) -> None:
    assert wire.host_header(wire.origin_of(httpx.URL(url))) == host
    assert URL(str(httpx.URL(url)), encoded=True).host_port_subcomponent == host


def test_a_header_that_would_split_the_request_is_refused() -> None:
    url = httpx.URL("http://h/")
    with pytest.raises(ValueError, match="Newline or carriage return"):
        wire.request_head("GET", url, "h", {"x-a": "1\r\nX-Injected: 1"}, None)


# ---- faults ----


async def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
        async with client(f"http://127.0.0.1:{port}") as made:
            error, reached = await fault_of(made)
    assert isinstance(error, httpx.ConnectError) and reached is Reached.CONNECT


async def test_an_unknown_host_is_a_connect_error() -> None:
    async with client("http://no-such-host.invalid") as made:
        error, reached = await fault_of(made)
    assert isinstance(error, httpx.ConnectError) and reached is Reached.CONNECT


async def test_a_connection_closed_as_it_is_opened_is_a_connect_error() -> None:
    """The server accepts and closes before the client's first write, and its FIN has come
    before the loop read it: nothing was sent, so it is a connect error (a POST may be tried
    again), not a reset, and the slot is given back. The server's close is made just as the
    connection is opened (`_open` wrapped), which is the one moment a test can't wait for."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(1)
        port = listening.getsockname()[1]
        pool = wire.Pool(max_connections=1, keepalive_expiry=5)
        real_open = pool._open

        async def open_then_closed(
            origin: wire.Origin, protocol: Callable[[], wire._Connection]
        ) -> None:
            made: list[wire._Connection] = []

            def keep() -> wire._Connection:
                made.append(protocol())
                return made[-1]

            await real_open(origin, keep)
            accepted, _ = listening.accept()
            accepted.close()  # FIN, before the client wrote anything
            assert made[0].transport is not None
            sock = made[0].transport.get_extra_info("socket")
            select.select([sock.fileno()], [], [], 1)  # until it came, without the loop

        pool._open = open_then_closed  # type: ignore[method-assign]
        url = httpx.URL(f"http://127.0.0.1:{port}/")
        with pytest.raises(httpx.HTTPError) as raised:
            await pool.request("POST", url, {}, b"x", TIMEOUTS)
        assert pool.open == 0
        await pool.aclose()
    assert isinstance(raised.value, httpx.ConnectError)
    assert transport_fault(raised.value).reached is Reached.CONNECT


async def test_no_connection_in_time_is_a_connect_timeout() -> None:
    with stalling_port() as port:
        async with client(f"http://127.0.0.1:{port}", connect=0.2) as made:
            error, reached = await fault_of(made)
    assert isinstance(error, httpx.ConnectTimeout) and reached is Reached.CONNECT
    assert isinstance(transport_fault(error).failure, UpstreamTimeout)


@pytest.mark.parametrize("partial", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"])
async def test_a_stalled_answer_is_a_read_timeout(partial: bytes) -> None:
    async def stall(peer: Peer) -> None:
        await peer.request()
        peer.send(partial)
        await peer.reader.read()

    async with upstream(stall) as server, client(server.url, read=0.2) as made:
        error, reached = await fault_of(made)
    assert isinstance(error, httpx.ReadTimeout) and reached is Reached.TIMEOUT


@pytest.mark.parametrize(
    "partial",
    [b"", b"HTTP/1.1 200 OK\r\nContent-Le", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"],
    ids=["before-the-answer", "mid-head", "mid-body"],
)
@pytest.mark.parametrize("how", ["closed", "reset"])
async def test_a_connection_cut_mid_answer_is_a_reset(partial: bytes, how: str) -> None:
    async def cut(peer: Peer) -> None:
        await peer.request()
        peer.send(partial)
        await peer.writer.drain()
        await asyncio.sleep(0.01)
        if how == "reset":
            peer.reset()

    async with upstream(cut) as server, client(server.url) as made:
        error, reached = await fault_of(made)
    assert isinstance(error, httpx.ReadError | httpx.RemoteProtocolError)
    assert reached is Reached.RESET
    assert isinstance(transport_fault(error).failure, UpstreamUnavailable)
    assert len(server.peers) == 1  # a POST is never sent again


async def test_an_idempotent_call_cut_before_its_answer_is_sent_once_more() -> None:
    """As aiohttp did (`retry_persistent_connection`): once, on a new connection."""

    async def first_cut(peer: Peer) -> None:
        await peer.request()
        if peer.number == 0:
            peer.reset()
        else:
            peer.send(ok(b"second"))

    async with upstream(first_cut) as server, client(server.url) as made:
        answer = await call(made, "GET")
    assert answer.text == "second" and len(server.peers) == 2


@pytest.mark.parametrize(
    "garbage",
    [
        b"HELLO\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    ],
)
async def test_a_malformed_answer_is_a_protocol_error(garbage: bytes) -> None:
    async def babble(peer: Peer) -> None:
        await peer.request()
        peer.send(garbage)
        await peer.reader.read()

    async with upstream(babble) as server, client(server.url) as made:
        error, reached = await fault_of(made)
    assert isinstance(error, httpx.RemoteProtocolError) and reached is Reached.RESET


async def test_a_second_answer_to_one_request_ends_its_connection() -> None:
    async def twice(peer: Peer) -> None:
        while await peer.request():
            peer.send(ok(b"connection %d" % peer.number) + ok(b"unasked"))

    async with upstream(twice) as server, client(server.url) as made:
        answers = [(await call(made)).text for _ in range(2)]
    assert answers == ["connection 0", "connection 1"]


async def test_a_closed_client_refuses_another_call() -> None:
    async with upstream(answer_each) as server, client(server.url) as made:
        await call(made)
        await made.aclose()
        with pytest.raises(RuntimeError):
            await call(made)


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def once_then_close(peer: Peer) -> None:
        await peer.request()
        peer.send(ok(b"connection %d" % peer.number))
        await peer.writer.drain()
        await asyncio.sleep(0.05)  # closed after the answer, without saying so

    async with upstream(once_then_close) as server, client(server.url) as made:
        first = await call(made, "POST", "/", b"1")
        await asyncio.sleep(0.1)
        second = await call(made, "POST", "/", b"2")
    assert (first.text, second.text) == ("connection 0", "connection 1")


async def test_a_connection_closed_as_it_is_taken_again_is_not_used() -> None:
    """The server's FIN has come but the loop has not read it: a POST must not be sent on it."""

    async def answer_and_close(peer: Peer) -> None:
        await peer.request()
        peer.send(ok(b"connection %d" % peer.number))
        await peer.writer.drain()
        peer.writer.close()

    async with upstream(answer_and_close) as server, client(server.url) as made:
        answers = []
        for n in range(5):
            answers.append((await call(made, "POST", "/", b"%d" % n)).text)
    assert answers == [f"connection {n}" for n in range(5)]


# ---- the pool ----


async def test_idle_connections_are_reused_newest_first() -> None:
    gate = asyncio.Event()

    async def held(peer: Peer) -> None:
        while await peer.request():
            if peer.number == 0:
                await gate.wait()
            peer.send(ok(b"connection %d" % peer.number))

    async with upstream(held) as server, client(server.url) as made:
        first = asyncio.ensure_future(call(made))
        await asyncio.sleep(0.05)
        second = await call(made)  # connection 1, while 0 is busy; then idle
        gate.set()
        await first  # connection 0 idle after 1: the newest
        answers = [(await call(made)).text for _ in range(2)]
    assert second.text == "connection 1"
    assert answers == ["connection 0", "connection 0"]


async def test_at_most_max_connections_are_open_and_the_rest_wait() -> None:
    async def slow(peer: Peer) -> None:
        while await peer.request():
            await asyncio.sleep(0.02)
            peer.send(ok(b"connection %d" % peer.number))

    async with upstream(slow) as server, client(server.url, max_connections=2) as made:
        answers = await asyncio.gather(*(call(made) for _ in range(8)))
    assert {answer.text for answer in answers} == {"connection 0", "connection 1"}
    assert server.busiest == 2 and len(server.peers) == 2


async def test_calls_waiting_for_a_connection_get_it_in_turn() -> None:
    gate = asyncio.Event()

    async def first_held(peer: Peer) -> None:
        served = 0
        while await peer.request():
            if served == 0:
                await gate.wait()
            served += 1
            peer.send(ok(b"%d" % served))

    async with upstream(first_held) as server, client(server.url, max_connections=1) as made:
        busy = asyncio.ensure_future(call(made))
        waiting = []
        for _ in range(3):
            await asyncio.sleep(0.01)
            waiting.append(asyncio.ensure_future(call(made)))
        await asyncio.sleep(0.01)
        gate.set()
        answers = [(await answer).text for answer in [busy, *waiting]]
    assert answers == ["1", "2", "3", "4"]


async def test_no_free_connection_in_time_is_a_pool_timeout() -> None:
    gate = asyncio.Event()

    async def held(peer: Peer) -> None:
        await peer.request()
        await gate.wait()
        peer.send(ok(b"late"))

    async with (
        upstream(held) as server,
        client(server.url, max_connections=1, connect=0.1, read=5) as made,
    ):
        busy = asyncio.ensure_future(call(made))
        await asyncio.sleep(0.02)
        error, reached = await fault_of(made)
        gate.set()
        assert (await busy).text == "late"
    assert isinstance(error, httpx.PoolTimeout) and reached is Reached.CONNECT


async def test_waiting_for_a_slot_and_connecting_share_one_timeout() -> None:
    """A call waits for the pool's one slot (held by a call to another server), then its
    connect stalls: it fails within one timeout of its start, not a wait and a timeout."""
    gate = asyncio.Event()

    async def held(peer: Peer) -> None:
        await peer.request()
        await gate.wait()
        peer.send(ok(b"late"))

    with stalling_port() as port:
        async with upstream(held) as server:
            pool = wire.Pool(max_connections=1, keepalive_expiry=5)
            timeouts = {"connect": 0.4, "read": 5.0, "pool": 0.4}
            busy = asyncio.ensure_future(
                pool.request("GET", httpx.URL(server.url), {}, None, timeouts)
            )
            await asyncio.sleep(0.02)
            loop = asyncio.get_running_loop()
            loop.call_later(0.2, gate.set)  # the slot comes free halfway
            started = loop.time()
            with pytest.raises(httpx.TimeoutException):
                await pool.request(
                    "GET", httpx.URL(f"http://127.0.0.1:{port}/"), {}, None, timeouts
                )
            took = loop.time() - started
            assert (await busy).body == b"late"
            await pool.aclose()
    assert took < 0.55  # 0.4, not 0.2 + 0.4


async def test_a_slot_freed_by_a_failure_goes_to_a_waiting_call() -> None:
    async def first_fails(peer: Peer) -> None:
        await peer.request()
        if peer.number == 0:
            await asyncio.sleep(0.05)
            peer.reset()
        else:
            peer.send(ok(b"answered"))

    async with upstream(first_fails) as server, client(server.url, max_connections=1) as made:
        failing = asyncio.ensure_future(call(made, "POST", "/", b"x"))
        await asyncio.sleep(0.01)
        waiting = await call(made, "POST", "/", b"y")
        with pytest.raises(httpx.HTTPError):
            await failing
    assert waiting.text == "answered"


async def test_idle_connections_are_closed_after_the_keep_alive_expiry() -> None:
    async with upstream(answer_each) as server:
        pool = wire.Pool(max_connections=4, keepalive_expiry=0.05)
        url = httpx.URL(server.url)
        first = await pool.request("GET", url, {}, None, TIMEOUTS)
        await asyncio.sleep(0.15)
        assert pool.open == 0  # closed by the sweep, not only when next asked for
        second = await pool.request("GET", url, {}, None, TIMEOUTS)
        await pool.aclose()
    assert (first.body, second.body) == (b"connection 0", b"connection 1")


# Node's `http.Server#keepAliveTimeout` default: how long Rocket.Chat keeps an idle connection.
NODE_KEEP_ALIVE_TIMEOUT = 5.0


async def test_an_idle_connection_is_let_go_before_rocketchats_server_would_close_it() -> None:
    """A connection idle for almost Node's keep-alive timeout is not sent on: the server may
    be closing it that very moment. Both the direct path and httpx's (aiohttp's pool)."""
    async with upstream(answer_each) as server, client(server.url) as made:
        await call(made)
        await made.get("/api/info")  # httpx's path, on aiohttp's own pool
        await asyncio.sleep(NODE_KEEP_ALIVE_TIMEOUT - 0.5)
        direct = await call(made)
        through_httpx = await made.get("/api/info")
    assert (direct.text, through_httpx.text) == ("connection 2", "connection 3")


async def test_a_name_is_looked_up_once_per_ttl() -> None:
    """Each call connects anew (the server closes after each answer); the name is looked up
    once."""

    async def closing(peer: Peer) -> None:
        await peer.request()
        peer.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")

    async with upstream(closing) as server:
        pool = wire.Pool(max_connections=2, keepalive_expiry=5)
        url = httpx.URL(f"http://localhost:{httpx.URL(server.url).port}/")
        first = await pool.request("GET", url, {}, None, TIMEOUTS)
        looked_up = pool.resolved[wire.origin_of(url)]
        second = await pool.request("GET", url, {}, None, TIMEOUTS)
        assert pool.resolved[wire.origin_of(url)] is looked_up
        await pool.aclose()
    assert (first.body, second.body) == (b"ok", b"ok")
    assert len(server.peers) == 2


def naming(*ports: int) -> tuple[wire.Pool, httpx.URL]:
    """A pool, and a URL whose name it has resolved to these loopback ports, in this order."""
    pool = wire.Pool(max_connections=2, keepalive_expiry=5)
    url = httpx.URL("http://upstream.invalid/")
    addresses: list[wire.AddrInfo] = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)) for port in ports
    ]
    pool.resolved[wire.origin_of(url)] = (float("inf"), addresses)
    return pool, url


async def test_each_address_of_a_name_is_tried_in_turn() -> None:
    """A name with two addresses, nothing listening on the first (as `localhost` may name ::1
    first): the second answers."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        refused: int = unused.getsockname()[1]
        async with upstream(answer_each) as server:
            pool, url = naming(refused, httpx.URL(server.url).port or 0)
            answer = await pool.request("GET", url, {}, None, TIMEOUTS)
            await pool.aclose()
    assert answer.body == b"connection 0"


async def test_an_address_that_does_not_answer_does_not_hold_up_the_next() -> None:
    """Happy Eyeballs: the first address drops the SYNs (its backlog full); the second is
    tried after 250 ms and answers, well within the connect timeout."""
    with stalling_port() as silent:
        async with upstream(answer_each) as server:
            pool, url = naming(silent, httpx.URL(server.url).port or 0)
            loop = asyncio.get_running_loop()
            started = loop.time()
            answer = await pool.request("GET", url, {}, None, TIMEOUTS)  # connect: 1 s
            took = loop.time() - started
            await pool.aclose()
    assert answer.body == b"connection 0"
    assert 0.2 < took < 0.6


async def test_a_timed_out_connect_looks_the_name_up_again() -> None:
    with stalling_port() as port:
        pool = wire.Pool(max_connections=2, keepalive_expiry=5)
        url = httpx.URL(f"http://localhost:{port}/")
        with pytest.raises(httpx.ConnectTimeout):
            await pool.request("GET", url, {}, None, {**TIMEOUTS, "connect": 0.1})
        assert wire.origin_of(url) not in pool.resolved
        await pool.aclose()


async def test_a_cancelled_call_closes_its_connection_and_frees_its_slot() -> None:
    async def never(peer: Peer) -> None:
        while await peer.request():
            if peer.number == 1:
                peer.send(ok(b"fresh"))

    async with upstream(never) as server, client(server.url, max_connections=1) as made:
        stuck = asyncio.ensure_future(call(made))
        await asyncio.sleep(0.02)
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        answer = await call(made)
    assert answer.text == "fresh"


async def test_closing_the_client_closes_busy_and_idle_connections() -> None:
    gate = asyncio.Event()

    async def held(peer: Peer) -> None:
        while await peer.request():
            if peer.number == 0:
                await gate.wait()
            peer.send(ok(b"connection %d" % peer.number))

    async with upstream(held) as server:
        made = make_client(server.url, max_connections=4, timeouts=ClientTimeouts(1, 5))
        busy = asyncio.ensure_future(call(made))  # connection 0, held
        await asyncio.sleep(0.02)
        await call(made)  # connection 1, then idle
        assert sockets_to(httpx.URL(server.url).port or 0) == 2
        await made.aclose()
        with pytest.raises(httpx.HTTPError):
            await busy
        await settled()
        assert sockets_to(httpx.URL(server.url).port or 0) == 0
        gate.set()


async def test_closing_the_client_closes_a_connection_being_opened() -> None:
    """A call whose connect stalls (the server's backlog full) when the client is closed: the
    connect is given up at once, its socket closed, the call failed."""
    with stalling_port() as port:
        before = sockets_to(port)
        pool = wire.Pool(max_connections=2, keepalive_expiry=5)
        timeouts = {"connect": 5.0, "read": 5.0, "pool": 5.0}
        url = httpx.URL(f"http://127.0.0.1:{port}/")
        stalled = asyncio.ensure_future(pool.request("GET", url, {}, None, timeouts))
        await asyncio.sleep(0.05)
        assert sockets_to(port) == before + 1
        async with asyncio.timeout(1):
            await pool.aclose()
            with pytest.raises(httpx.ConnectError):
                await stalled
        await settled()
        assert sockets_to(port) == before
        assert pool.open == 0


# ---- TLS ----


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for 127.0.0.1 and localhost (made by the openssl tool)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    yield cert, key


@contextlib.contextmanager
def trusting(cert: Path | None) -> Iterator[None]:
    """The default context made again, trusting `cert` (through SSL_CERT_FILE, as an operator
    would add a private CA) or the system's store as it is."""
    saved = os.environ.get("SSL_CERT_FILE")
    if cert is not None:
        os.environ["SSL_CERT_FILE"] = str(cert)
    wire._tls_context.cache_clear()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved
        wire._tls_context.cache_clear()


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_https_is_spoken_with_the_default_context(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    async with upstream(answer_each, "https", server_tls(cert, key)) as server:
        with trusting(cert):
            async with client(server.url) as made:
                answers = [(await call(made)).text for _ in range(2)]
    assert answers == ["connection 0"] * 2


async def test_an_untrusted_certificate_is_a_connect_error(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    async with upstream(answer_each, "https", server_tls(cert, key)) as server:
        with trusting(None):
            async with client(server.url) as made:
                error, reached = await fault_of(made)
    assert isinstance(error, httpx.ConnectError) and reached is Reached.CONNECT


# ---- on uvloop ----

ON_ASYNCIO = [
    test
    for name, test in list(globals().items())
    if name.startswith("test_") and inspect.iscoroutinefunction(test)
]


def arguments(test: Callable[..., Awaitable[None]]) -> list[dict[str, Any]]:
    """The arguments `test` is run with: one set per combination of its parametrize marks."""
    runs: list[dict[str, Any]] = [{}]
    for mark in getattr(test, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names = mark.args[0]
        names = [name.strip() for name in names.split(",")] if isinstance(names, str) else names
        values = [value if len(names) > 1 else (value,) for value in mark.args[1]]
        runs = [{**run, **dict(zip(names, value, strict=True))} for run in runs for value in values]
    return runs


@pytest.mark.parametrize("test", ON_ASYNCIO, ids=lambda test: test.__name__)
def test_on_uvloop(test: Callable[..., Awaitable[None]], request: pytest.FixtureRequest) -> None:
    """Every test above, again on uvloop, whose transports are not asyncio's."""
    for run in arguments(test):
        if "certificate" in inspect.signature(test).parameters:
            run["certificate"] = request.getfixturevalue("certificate")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(test(**run))  # type: ignore[arg-type]
