"""A TCP proxy on loopback whose connections a test can cut at any moment: the real way to drop
a WebSocket between the facade and the server behind it."""

from __future__ import annotations

import asyncio
import contextlib


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to `target_port`; `cut()` aborts every open connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.cuts = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()
        self._flowing: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut(count=False)
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def carrying(self) -> int:
        """Connections still open on at least one side."""
        return (len(self._open) + 1) // 2

    async def cut_when_connected(self, timeout: float = 10) -> None:
        """Cut as soon as there is a connection to cut (the client may be reconnecting)."""
        async with asyncio.timeout(timeout):
            while not self._open:
                await asyncio.sleep(0.005)
        self.cut()

    def freeze(self) -> None:
        """Stop carrying bytes on every open connection without closing it: a peer gone
        silent (new connections flow)."""
        self._flowing.clear()

    def cut(self, *, count: bool = True) -> None:
        """Abort both sides of every open connection, as a dropped network would."""
        self.cuts += int(count and bool(self._open))
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client.transport.abort()
            return
        self.connections += 1
        self._open.update((client, server))
        self._flowing.update((client, server))
        for source, sink in ((client_reader, server), (server_reader, client)):
            pump = asyncio.create_task(self._pump(source, sink))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await source.read(65536):
                if sink in self._flowing:
                    sink.write(data)
                    await sink.drain()
        if sink in self._flowing:  # a frozen connection does not even pass on its end
            sink.transport.abort()
            self._open.discard(sink)
