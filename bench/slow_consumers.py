"""Subscribers that stop reading: the server's memory, and what the clients see.

    python bench/slow_consumers.py [--sockets 40] [--per-socket 100] [--ddp-subs 5000]
                                   [--baseline CHECKOUT]

Starts `livechat-graphql serve` (in-process, a fresh SQLite file) and opens one room. Then:

- graphql-ws: --sockets sockets, each with --per-socket `livechatRoomEvents` subscriptions
  (the shipped document, markdown included) to that room, which stop reading once
  subscribed, and one normal subscriber on a socket of its own that reads everything.
- DDP: one `/websocket` connection asking for --ddp-subs `stream-room-messages` subs of the
  room, which stops reading once answered, and one normal DDP subscriber that reads.

One visitor's message of 4,998 characters (`"@a " * 1666`, each mention a markdown node) is
sent; the server's resident set is sampled every 50 ms from before the subscribers open until
HOLD seconds after the send, with the stalled clients still connected, and again after they
quit. Then the stalled clients read what is left: how their socket ended (close code and
reason, or still open). The stalled clients are raw sockets driven by websockets' Sans-I/O
protocol, so "stop reading" means the process stops reading its TCP socket, as a phone in a
tunnel does.

With `--baseline CHECKOUT` (another checkout of this project, e.g. `git worktree add` of an
older commit) the same runs are made against it first.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import operations
import orjson
import processes
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

MIB = 1024 * 1024
HOLD = 15.0  # seconds after the send: longer than any closing handshake the server waits for
MESSAGE = "@a " * 1666
FRAGMENTS = "\n".join(
    path.read_text() for path in sorted((operations.QUERIES / "fragments").glob("*.graphql"))
)
SUBSCRIPTION = (operations.QUERIES / "livechatRoomEvents.graphql").read_text() + FRAGMENTS


class RawSocket:
    """A WebSocket client that reads its TCP socket only when asked to."""

    def __init__(self, url: str, subprotocols: list[str]) -> None:
        self.protocol = ClientProtocol(
            parse_uri(url),
            subprotocols=[Subprotocol(name) for name in subprotocols] or None,
            max_size=None,
        )
        self.url = url
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter
        self.pending: list[Frame] = []

    async def open(self, receive_buffer: int | None = None) -> None:
        uri = parse_uri(self.url)
        sock = socket.socket()
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (uri.host, uri.port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=16384)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while self.protocol.state is State.CONNECTING:
            await self._read()
        if self.protocol.state is not State.OPEN:
            raise ConnectionError(f"{self.url}: the handshake failed")

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.writer.write(data)

    def _take_events(self) -> None:
        events = self.protocol.events_received()
        self.pending += [event for event in events if isinstance(event, Frame)]

    async def _read(self) -> bool:
        data = await self.reader.read(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self._flush()  # pongs and the closing handshake
        self._take_events()
        return bool(data)

    async def send(self, text: str) -> None:
        self.protocol.send_text(text.encode())
        self._flush()
        await self.writer.drain()

    async def receive(self) -> str | None:
        """The next text message, or None once the socket is closed."""
        while True:
            while self.pending:
                frame = self.pending.pop(0)
                if frame.opcode is Opcode.TEXT:
                    return bytes(frame.data).decode()
            if not await self._read():
                return None

    async def drain_to_end(self, timeout: float) -> str:
        """Read everything the server sent; how the socket ended."""
        try:
            async with asyncio.timeout(timeout):
                while await self.receive() is not None:
                    pass
        except TimeoutError:
            return "still open"
        except OSError as error:
            return f"reset ({type(error).__name__})"
        close = self.protocol.close_rcvd
        return "closed, no close frame" if close is None else f"close {close.code} {close.reason}"

    def abort(self) -> None:
        self.writer.transport.abort()


@dataclass
class Sampler:
    """The server's resident set every 50 ms, in a task."""

    read: Callable[[], int]
    samples: list[tuple[float, int]] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), self.read()))
            await asyncio.sleep(0.05)

    def peak(self, since: float) -> int:
        return max(rss for at, rss in self.samples if at >= since)


async def graphql_ws(url: str, token: str, rid: str, count: int) -> RawSocket:
    client = RawSocket(url.replace("http", "ws", 1) + "/graphql", ["graphql-transport-ws"])
    await client.open()
    await client.send('{"type":"connection_init"}')
    assert await client.receive() == '{"type":"connection_ack"}'
    variables = {"token": token, "rid": rid}
    for number in range(count):
        payload = {"query": SUBSCRIPTION, "variables": variables}
        message = {"type": "subscribe", "id": str(number), "payload": payload}
        await client.send(orjson.dumps(message).decode())
    return client


async def ddp(url: str, token: str, rid: str, count: int) -> tuple[RawSocket, str]:
    """A DDP connection with `count` subs asked for; what the server answered to the last."""
    client = RawSocket(url.replace("http", "ws", 1) + "/websocket", [])
    await client.open()
    await client.receive()  # server_id
    await client.send('{"msg":"connect","version":"1","support":["1"]}')
    await client.receive()  # connected
    credentials = {"token": token, "visitorToken": token}
    params = [rid, {"useCollection": False, "args": [credentials]}]
    for number in range(count):
        sub = {"msg": "sub", "id": str(number), "name": "stream-room-messages", "params": params}
        await client.send(orjson.dumps(sub).decode())
    answered: dict[str, str] = {}
    while len(answered) < count:
        text = await client.receive()
        assert text is not None, "the server closed the DDP connection while subscribing"
        frame = orjson.loads(text)
        if frame.get("msg") == "ready":
            answered.update(dict.fromkeys(frame["subs"], "ready"))
        elif frame.get("msg") == "nosub":
            answered[frame["id"]] = f"nosub {frame.get('error', {}).get('error')}"
    refusals = [answer for answer in answered.values() if answer != "ready"]
    summary = f"{count - len(refusals)} ready"
    if refusals:
        summary += f", {len(refusals)} {refusals[-1]}"
    return client, summary


async def normal_events(client: RawSocket, kind: str, seconds: float) -> tuple[int, int]:
    """How many message events a reading client gets within `seconds`, and their bytes."""
    marker = '"type":"next"' if kind == "graphql-ws" else '"msg":"changed"'
    received = size = 0
    try:
        async with asyncio.timeout(seconds):
            while (text := await client.receive()) is not None:
                if marker in text:
                    received, size = received + 1, size + len(text.encode())
    except TimeoutError:
        pass
    return received, size


async def resume_after(client: RawSocket, seconds: float) -> str:
    """A stalled client that reads again after `seconds` (a phone out of a short tunnel)."""
    await asyncio.sleep(seconds)
    return await client.drain_to_end(HOLD)


async def probe(server: processes.Server, kind: str, arguments: argparse.Namespace) -> list[str]:
    token = f"{kind}-visitor"
    rid = operations.open_room(server.url, token)
    sampler = Sampler(server.resident_bytes)
    sampling = asyncio.create_task(sampler.run())
    await asyncio.sleep(0.5)
    before = sampler.samples[-1][1]
    if kind == "graphql-ws":
        stalled = [
            await graphql_ws(server.url, token, rid, arguments.per_socket)
            for _ in range(arguments.sockets)
        ]
        normal = await graphql_ws(server.url, token, rid, 1)
        shape = f"{arguments.sockets} x {arguments.per_socket}"
        answered = ""
    else:
        stalled_one, answered = await ddp(server.url, token, rid, arguments.ddp_subs)
        stalled = [stalled_one]
        normal, _ = await ddp(server.url, token, rid, 1)
        shape = f"1 x {arguments.ddp_subs}"
    await asyncio.sleep(2)  # every subscription live
    opened = sampler.samples[-1][1]
    sent_at = time.monotonic()
    await asyncio.to_thread(send_message, server.url, token, rid)
    # The first stalled socket reads again 2 s after the send; the others stay stalled.
    resumed = asyncio.create_task(resume_after(stalled[0], 2))
    events, size = await normal_events(normal, kind, HOLD)
    held = sampler.samples[-1][1]
    peak = sampler.peak(sent_at)
    endings = [await resumed, *await asyncio.gather(*(c.drain_to_end(5) for c in stalled[1:]))]
    for client in stalled:
        client.abort()
    await asyncio.sleep(3)
    quit_rss = sampler.samples[-1][1]
    sampling.cancel()
    normal.abort()
    seen = [f"resumed after 2 s: {endings[0]}"]
    if len(endings) > 1:
        seen.append(f"stalled {HOLD:g} s: {', '.join(sorted(set(endings[1:])))}")
    row = [
        kind, shape, answered or "-", f"{before / MIB:.0f}", f"{opened / MIB:.0f}",
        f"{peak / MIB:.0f}", f"{held / MIB:.0f}", f"{quit_rss / MIB:.0f}",
        f"{events} ({size / 1024:.0f} KiB)", "; ".join(seen),
    ]  # fmt: skip
    print(" | ".join(row), flush=True)
    return row


def send_message(url: str, token: str, rid: str) -> None:
    import httpx

    answer = httpx.post(
        f"{url}/api/v1/livechat/message",
        json={"token": token, "rid": rid, "msg": MESSAGE},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=40)
    parser.add_argument("--per-socket", type=int, default=100)
    parser.add_argument("--ddp-subs", type=int, default=5000)
    parser.add_argument("--baseline", type=Path, help="a checkout to measure first")
    arguments = parser.parse_args()
    builds = {**({"baseline": arguments.baseline} if arguments.baseline else {}), "this": None}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, source in builds.items():
            for kind in ("graphql-ws", "ddp"):
                database = str(Path(scratch) / f"{name}-{kind}.db")
                with processes.livechat_graphql("--database", database, source=source) as server:
                    rows.append([name, *await probe(server, kind, arguments)])
    header = [
        "build", "protocol", "stalled sockets x subs", "subs answered", "RSS before MiB",
        "RSS open MiB", "RSS peak MiB", f"RSS {HOLD:g} s after MiB", "RSS after quit MiB",
        "normal client's events", "stalled clients' sockets",
    ]  # fmt: skip
    print()
    print(operations.markdown_table(header, rows))


if __name__ == "__main__":
    asyncio.run(main())
