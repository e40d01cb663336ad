"""Uploads: throughput, and the server's memory while files stream through it.

    python bench/uploads.py [--clients 10] [--megabytes 50] [--refused-megabytes 1024]

`livechat-graphql serve` in-process (files written to disk beside the database) and upstream
(files streamed on to a second `livechat-graphql serve` playing Rocket.Chat through its
`livechat/upload/:rid` route). For each: `--clients` visitors upload `--megabytes` each at once
with uploadLivechatFile (the GraphQL multipart request spec, the file sent as it is produced,
64 KiB at a time), then the same with a tenth of the size: throughput in MB/s (all bytes over
the wall time), and the server's resident memory before and at its peak (sampled every 50 ms).
Memory that does not grow with the file size is what streaming means.

Then one refused upload: `--refused-megabytes` against the default 100 MB limit (in-process),
sent as fast as the server takes it. It prints how many bytes the server took before it
answered FILE_TOO_LARGE and closed, how long that took and the server's peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import processes
from operations import QUERIES, markdown_table

MIB = 1 << 20
CHUNK = bytes(64 * 1024)
BOUNDARY = "benchboundary0123456789"
DOCUMENT = (QUERIES / "uploadLivechatFile.graphql").read_text() + "\n".join(
    path.read_text() for path in sorted((QUERIES / "fragments").glob("*.graphql"))
)


def form_head(token: str, rid: str) -> bytes:
    operations = {
        "query": DOCUMENT,
        "variables": {"input": {"token": token, "rid": rid, "file": None}},
    }
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f"{orjson.dumps(operations).decode()}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        '{"0": ["variables.input.file"]}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="0"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


async def body(token: str, rid: str, size: int) -> AsyncIterator[bytes]:
    yield form_head(token, rid)
    for _ in range(size // len(CHUNK)):
        yield CHUNK
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def visitor_room(client: httpx.AsyncClient, token: str) -> str:
    register = (
        "mutation($i: RegisterLivechatVisitorInput!) "
        "{ registerLivechatVisitor(input: $i) { __typename } }"
    )
    room = (
        "mutation($i: OpenLivechatRoomInput!) "
        "{ openLivechatRoom(input: $i) { ... on OpenLivechatRoomSuccess { room { id } } } }"
    )
    await client.post("/graphql", json={"query": register, "variables": {"i": {"token": token}}})
    answer = await client.post(
        "/graphql", json={"query": room, "variables": {"i": {"token": token}}}
    )
    return str(answer.json()["data"]["openLivechatRoom"]["room"]["id"])


async def upload(client: httpx.AsyncClient, token: str, rid: str, size: int) -> str:
    answer = await client.post(
        "/graphql",
        content=body(token, rid, size),
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Apollo-Require-Preflight": "true",
        },
    )
    return str(answer.json()["data"]["uploadLivechatFile"]["__typename"])


class Sampler:
    """The server's resident set every 50 ms."""

    def __init__(self, server: processes.Server) -> None:
        self.server = server
        self.peak = 0

    async def run(self) -> None:
        while True:
            self.peak = max(self.peak, self.server.resident_bytes())
            await asyncio.sleep(0.05)


async def round_of_uploads(server: processes.Server, clients: int, size: int) -> list[str]:
    timeout = httpx.Timeout(300.0)
    async with httpx.AsyncClient(base_url=server.url, timeout=timeout) as client:
        rooms = [await visitor_room(client, f"bench-{size}-{n}") for n in range(clients)]
        before = server.resident_bytes()
        sampler = Sampler(server)
        sampling = asyncio.create_task(sampler.run())
        began = time.perf_counter()
        results = await asyncio.gather(
            *(upload(client, f"bench-{size}-{n}", rid, size) for n, rid in enumerate(rooms))
        )
        took = time.perf_counter() - began
        sampling.cancel()
    assert set(results) == {"UploadLivechatFileSuccess"}, results
    megabytes = clients * size / 1e6
    return [
        f"{clients} x {size // MIB} MiB",
        f"{megabytes / took:.0f}",
        f"{before / MIB:.0f}",
        f"{sampler.peak / MIB:.0f}",
    ]


async def refused(server: processes.Server, size: int) -> list[str]:
    """A `size` upload against the 100 MB limit, on a raw socket: bytes taken, time, memory."""
    port = int(server.url.rsplit(":", 1)[1])
    async with httpx.AsyncClient(base_url=server.url) as client:
        rid = await visitor_room(client, "bench-refused")
    head = form_head("bench-refused", rid)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(head) + size}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        "Apollo-Require-Preflight: true\r\n\r\n"
    ).encode()
    sampler = Sampler(server)
    sampling = asyncio.create_task(sampler.run())
    before = server.resident_bytes()
    began = time.perf_counter()
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    writer.write(request + head)
    sent = 0
    try:
        while sent < size:
            writer.write(CHUNK)
            await writer.drain()
            sent += len(CHUNK)
    except ConnectionError:
        pass
    head_of_answer = await asyncio.wait_for(answer, 30)
    took = time.perf_counter() - began
    writer.close()
    sampling.cancel()
    assert head_of_answer.startswith(b"HTTP/1.1 200"), head_of_answer
    return [
        f"{size // MIB} MiB over 100 MiB",
        f"{sent / MIB:.0f} MiB",
        f"{took:.1f}",
        f"{before / MIB:.0f} MiB",
        f"{sampler.peak / MIB:.0f} MiB",
    ]


async def measure(args: argparse.Namespace) -> None:
    size = args.megabytes * MIB
    rows = []
    refusal: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        with processes.livechat_graphql("--database", str(directory / "inprocess.db")) as server:
            for each in (size // 10, size):
                rows.append(["in-process", *await round_of_uploads(server, args.clients, each)])
            refusal = await refused(server, args.refused_megabytes * MIB)
        with (
            processes.livechat_graphql("--database", str(directory / "rocketchat.db")) as rc,
            processes.livechat_graphql(
                "--backend", "upstream", "--upstream-url", rc.url,
                "--database", str(directory / "unused.db"),
            ) as facade,
        ):  # fmt: skip
            for each in (size // 10, size):
                rows.append(["upstream", *await round_of_uploads(facade, args.clients, each)])
    print(
        markdown_table(
            ["backend", "uploads at once", "MB/s", "RSS before MiB", "RSS peak MiB"], rows
        )
    )
    print()
    print(
        markdown_table(
            [
                "refused upload (in-process)",
                "bytes taken",
                "seconds",
                "RSS before MiB",
                "RSS peak MiB",
            ],
            [refusal],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--refused-megabytes", type=int, default=1024)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
