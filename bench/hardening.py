"""What a hostile or stalled client costs the server at the HTTP edge and on DDP.

    python bench/hardening.py [PROBE ...] [--baseline CHECKOUT] [--seconds S] [--connections N]

PROBE is any of `endless-header`, `slow-headers`, `slow-body`, `idle-connections`,
`deep-ddp` (all of them when none is named). Each starts `livechat-graphql serve` (in-process,
default settings, a fresh SQLite file) and, while the probe runs, a normal client that asks
`GET /healthz` and `POST /graphql {__typename}` every 0.25 s on a new connection each time
(2 s timeout). It prints one markdown row per probe and build: the server's resident memory
before, at its peak and after, its CPU seconds over the probe, what the probe ended with, and
how the normal client fared.

- endless-header: one connection sends a header line without end, 64 KiB at a time, until
  the server cuts it or `--header-mib` MiB went.
- slow-headers: N connections each send one header line a second for S seconds.
- slow-body: N chunked POSTs to /graphql each send one byte of body a second for S seconds.
- idle-connections: the server runs with an open-file limit of 256; N connections open and
  send nothing while the normal client asks for S seconds.
- deep-ddp: DDP frames nested 512 deep, `--frames` of them, on /websocket (a new session
  whenever the server ends one); what the server wrote to its log.

With `--baseline CHECKOUT` (another checkout, e.g. `git archive` of an older commit) every
probe runs against both, one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import processes
import websockets

MIB = 1 << 20
PROBES = ("endless-header", "slow-headers", "slow-body", "idle-connections", "deep-ddp")
# `python -m app.cli serve ...` with an open-file limit, for the idle-connections probe.
LIMITED = (
    "import resource, runpy, sys;"
    "limit = int(sys.argv.pop(1));"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit));"
    "sys.argv[0] = 'livechat-graphql';"
    "runpy.run_module('app.cli', run_name='__main__')"
)


@dataclass
class Served:
    server: processes.Server
    log: Path

    @property
    def port(self) -> int:
        return int(self.server.url.rsplit(":", 1)[1])


@contextmanager
def serve(
    scratch: Path, name: str, source: Path | None, file_limit: int | None
) -> Iterator[Served]:
    """`livechat-graphql serve` at default settings, its log (INFO, JSON) kept in a file."""
    port = processes.free_port()
    prefix = ["-c", LIMITED, str(file_limit)] if file_limit else ["-m", "app.cli"]
    log = scratch / f"{name}.log"
    with log.open("wb") as written:
        process = subprocess.Popen(
            [sys.executable, *prefix, "serve", "--port", str(port), "--database", f"{name}.db"],
            cwd=source or scratch,
            env={**os.environ, "LIVECHAT_GRAPHQL_LOG_FORMAT": "json"},
            stdout=subprocess.DEVNULL,
            stderr=written,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            processes.wait_until_answering(process, url + "/healthz")
            yield Served(processes.Server(url, process, time.perf_counter()), log)
        finally:
            process.terminate()
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=15)


@dataclass
class Watch:
    """Samples the server's memory and runs the normal client while a probe runs."""

    served: Served
    peak: int = 0
    ok: int = 0
    failed: int = 0
    slowest: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Watch:
        self.before = self.served.server.resident_bytes()
        self.cpu = self.served.server.cpu_seconds()
        self._threads = [
            threading.Thread(target=self._sample, daemon=True),
            threading.Thread(target=self._normal_client, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.cpu = self.served.server.cpu_seconds() - self.cpu
        self.after = self.served.server.resident_bytes()

    def _sample(self) -> None:
        while not self._stop.is_set():
            with suppress(OSError):
                self.peak = max(self.peak, self.served.server.resident_bytes())
            time.sleep(0.1)

    def _normal_client(self) -> None:
        url = self.served.server.url
        asks: list[Callable[[], httpx.Response]] = [
            lambda: httpx.get(f"{url}/healthz", timeout=2),
            lambda: httpx.post(f"{url}/graphql", json={"query": "{ __typename }"}, timeout=2),
        ]
        turn = 0
        while not self._stop.is_set():
            began = time.perf_counter()
            try:
                answered = asks[turn % 2]().status_code == 200
            except httpx.HTTPError:
                answered = False
            self.slowest = max(self.slowest, time.perf_counter() - began)
            self.ok += answered
            self.failed += not answered
            turn += 1
            self._stop.wait(max(0.0, 0.25 - (time.perf_counter() - began)))


def connect(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.setblocking(True)
    return connection


def cut(connection: socket.socket) -> str | None:
    """What the server sent or did on a connection, if anything, without waiting."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return None
    try:
        data = connection.recv(4096)
    except OSError:
        return "reset"
    return data.split(b"\r\n", 1)[0].decode(errors="replace")[9:] or "closed"


def endless_header(served: Served, options: argparse.Namespace) -> str:
    sent = 0
    outcome = "read all of it"
    with connect(served.port) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Pad: ")
        deadline = time.monotonic() + 120
        try:
            while sent < options.header_mib * MIB and time.monotonic() < deadline:
                connection.sendall(b"a" * 65536)
                sent += 65536
        except OSError:
            outcome = f"cut ({cut(connection) or 'reset'})"
    return f"{outcome} after {sent / MIB:.1f} MiB sent"


def slow_headers(served: Served, options: argparse.Namespace) -> str:
    head = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n"
    return drip(served, options, head, b"X-Slow: a\r\n")


def slow_body(served: Served, options: argparse.Namespace) -> str:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    return drip(served, options, head, b"1\r\n \r\n")


def drip(served: Served, options: argparse.Namespace, head: bytes, piece: bytes) -> str:
    """`--connections` connections send `head`, then `piece` once a second each."""
    connections = []
    for _ in range(options.connections):
        connection = connect(served.port)
        connection.sendall(head)
        connections.append(connection)
    endings: dict[str, int] = {}
    open_ = list(connections)
    deadline = time.monotonic() + options.seconds
    while open_ and time.monotonic() < deadline:
        for connection in list(open_):
            ending = cut(connection)
            if ending is None:
                with suppress(OSError):
                    connection.sendall(piece)
                continue
            endings[ending] = endings.get(ending, 0) + 1
            open_.remove(connection)
        time.sleep(1)
    for connection in connections:
        connection.close()
    described = ", ".join(f"{count} {ending}" for ending, count in sorted(endings.items()))
    return f"{len(open_)} of {options.connections} open after {options.seconds:g} s" + (
        f"; {described}" if described else ""
    )


def idle_connections(served: Served, options: argparse.Namespace) -> str:
    connections = [connect(served.port) for _ in range(options.connections)]
    time.sleep(options.seconds)
    closed = sum(cut(connection) is not None for connection in connections)
    for connection in connections:
        connection.close()
    return f"{options.connections} idle, {closed} closed by the server after {options.seconds:g} s"


def deep_ddp(served: Served, options: argparse.Namespace) -> str:
    before = served.log.stat().st_size
    frame = "[" * 512 + "]" * 512

    async def run() -> tuple[int, int]:
        answered = sessions = 0
        address = served.server.url.replace("http", "ws", 1) + "/websocket"
        sent = 0
        while sent < options.frames:
            sessions += 1
            async with websockets.connect(address) as socket_:
                await socket_.recv()
                await socket_.send(json.dumps({"msg": "connect", "version": "1", "support": ["1"]}))
                await socket_.recv()
                try:
                    while sent < options.frames:
                        await socket_.send(frame)
                        sent += 1
                        await asyncio.wait_for(socket_.recv(), 10)
                        answered += 1
                except websockets.ConnectionClosed:
                    continue
        return answered, sessions

    answered, sessions = asyncio.run(run())
    time.sleep(0.5)  # the log is written after the session ends
    written = served.log.stat().st_size - before
    return (
        f"{answered} of {options.frames} answered, {sessions} sessions,"
        f" {written / 1024:.1f} KB of log"
    )


RUN = {
    "endless-header": endless_header,
    "slow-headers": slow_headers,
    "slow-body": slow_body,
    "idle-connections": idle_connections,
    "deep-ddp": deep_ddp,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("probes", nargs="*", metavar="PROBE", help=", ".join(PROBES))
    parser.add_argument("--baseline", type=Path, help="a checkout to measure alongside")
    parser.add_argument("--seconds", type=float, default=40, help="how long the slow probes run")
    parser.add_argument("--connections", type=int, default=200, help="slow or idle connections")
    parser.add_argument("--header-mib", type=float, default=100, help="endless header's size")
    parser.add_argument("--frames", type=int, default=100, help="deep DDP frames")
    options = parser.parse_args()
    unknown = set(options.probes) - set(PROBES)
    if unknown:
        parser.error(f"unknown probes: {', '.join(sorted(unknown))}")
    builds = {**({"baseline": options.baseline} if options.baseline else {}), "this": None}
    print(
        "| probe | build | RSS before MiB | RSS peak MiB | RSS after MiB | server CPU s"
        " | the probe saw | normal client ok | normal client failed | slowest ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for probe in options.probes or PROBES:
        for name, source in builds.items():
            file_limit = 256 if probe == "idle-connections" else None
            with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
                served = stack.enter_context(serve(Path(scratch), name, source, file_limit))
                with Watch(served) as watch:
                    outcome = RUN[probe](served, options)
                print(
                    f"| {probe} | {name} | {watch.before / MIB:.0f} | {watch.peak / MIB:.0f}"
                    f" | {watch.after / MIB:.0f} | {watch.cpu:.2f} | {outcome} | {watch.ok}"
                    f" | {watch.failed} | {watch.slowest * 1000:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
