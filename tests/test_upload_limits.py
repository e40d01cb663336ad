"""An upload over real sockets: refused as soon as the limit is passed (the rest never read),
and nothing half-written left on disk by a refusal, a client that leaves, or kill -9."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.helpers import operation
from tests.running import ServerProcess

BOUNDARY = "testboundary7MA4YWxkTrZu0gW"
CHUNK = bytes(65536)


def _head(token: str, rid: str) -> bytes:
    """The form up to the file's first byte: operations, map, the file part's headers."""
    operations = {
        "query": operation("uploadLivechatFile"),
        "variables": {"input": {"token": token, "rid": rid, "file": None}},
    }
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f"{orjson.dumps(operations).decode()}\r\n",
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        '{"0": ["variables.input.file"]}\r\n',
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="0"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n",
    ]
    return "".join(parts).encode()


def _request_head(port: int, length: int) -> bytes:
    return (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {length}\r\nApollo-Require-Preflight: true\r\n\r\n"
    ).encode()


async def _visitor_room(url: str, token: str) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        for name, variables in (
            ("registerLivechatVisitor", {"input": {"token": token}}),
            ("openLivechatRoom", {"input": {"token": token}}),
        ):
            answer = await client.post(
                "/graphql", json={"query": operation(name), "variables": variables}
            )
            data = answer.json()["data"]
        return str(data["openLivechatRoom"]["room"]["id"])


async def _answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The answer's head and body, read as they arrive (while the request is still sent)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )  # fmt: skip
    return head, await reader.readexactly(length)


def _leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


async def _wait_for(condition: object, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """`livechat-graphql serve`, in-process, taking files up to 1 MiB."""
    process = ServerProcess(
        tmp_path / "limits.db",
        environment={"LIVECHAT_GRAPHQL_FILE_UPLOAD_MAX_SIZE": str(1 << 20)},
    )
    try:
        yield process.start()
    finally:
        process.stop()


def _directory(server: ServerProcess) -> Path:
    return server.database.with_name(server.database.name + ".files")


async def test_an_upload_over_the_limit_is_cut_where_it_passes_it(server: ServerProcess) -> None:
    """A 256 MiB upload against a 1 MiB limit: answered FILE_TOO_LARGE while the client is
    still sending, having sent only the limit and what the sockets' buffers hold."""
    rid = await _visitor_room(server.url, "big-token")
    head = _head("big-token", rid)
    declared = len(head) + (256 << 20)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(_request_head(server.port, declared) + head)
    sent = 0
    answer = asyncio.create_task(_answer(reader))
    try:
        while not answer.done() and sent < (256 << 20):
            writer.write(CHUNK)
            await writer.drain()
            await asyncio.sleep(0)  # a client that reads the answer while it sends
            sent += len(CHUNK)
    except ConnectionError:
        pass  # the server closed the connection after answering
    status, body = await asyncio.wait_for(answer, 10)
    writer.close()
    assert status.startswith(b"HTTP/1.1 200"), status
    assert b"connection: close" in status.lower()
    error = orjson.loads(body)["data"]["uploadLivechatFile"]
    assert (error["code"], error["upstreamError"]) == ("FILE_TOO_LARGE", "error-file-too-large")
    assert sent < 64 << 20, f"{sent} bytes were taken before the refusal"
    assert _leftovers(_directory(server)) == []


async def test_a_client_that_leaves_mid_upload_leaves_nothing(server: ServerProcess) -> None:
    rid = await _visitor_room(server.url, "leaving-token")
    head = _head("leaving-token", rid)
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(_request_head(server.port, len(head) + (900 << 10)) + head)
    for _ in range(8):  # half a MiB of the 900 KiB
        writer.write(CHUNK)
        await writer.drain()
    directory = _directory(server)
    await _wait_for(lambda: any(name.endswith(".part") for name in _leftovers(directory)))
    writer.close()
    await _wait_for(lambda: _leftovers(directory) == [])


async def test_kill_9_mid_upload_leaves_nothing_after_the_restart(tmp_path: Path) -> None:
    database = tmp_path / "killed.db"
    server = ServerProcess(database).start()
    try:
        rid = await _visitor_room(server.url, "killed-token")
        head = _head("killed-token", rid)
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(_request_head(server.port, len(head) + (4 << 20)) + head)
        for _ in range(16):
            writer.write(CHUNK)
            await writer.drain()
        directory = database.with_name(database.name + ".files")
        await _wait_for(lambda: any(name.endswith(".part") for name in _leftovers(directory)))
        await asyncio.to_thread(server.kill)
        writer.close()
        assert any(name.endswith(".part") for name in _leftovers(directory))
        server = ServerProcess(database).start()
        assert _leftovers(directory) == []
    finally:
        server.stop()


@pytest.fixture
def one_mib_uploads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The facade and the Rocket.Chat behind it (both started after this) take 1 MiB."""
    monkeypatch.setenv("LIVECHAT_GRAPHQL_FILE_UPLOAD_MAX_SIZE", str(1 << 20))


async def test_upstream_the_cut_and_the_leaving_client_reach_rocketchat(
    one_mib_uploads: None, upstream_url: str, tmp_path: Path
) -> None:
    """Through the facade: an upload over the limit is cut by the facade itself, and a client
    that leaves mid-file breaks off the facade's upload to Rocket.Chat; the server behind keeps
    nothing of either."""
    port = int(upstream_url.rsplit(":", 1)[1])
    directory = tmp_path / "rocketchat.db.files"
    rid = await _visitor_room(upstream_url, "far-token")
    head = _head("far-token", rid)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request_head(port, len(head) + (64 << 20)) + head)
    answer = asyncio.create_task(_answer(reader))
    sent = 0
    try:
        while not answer.done() and sent < 64 << 20:
            writer.write(CHUNK)
            await writer.drain()
            await asyncio.sleep(0)  # a client that reads the answer while it sends
            sent += len(CHUNK)
    except ConnectionError:
        pass
    status, body = await asyncio.wait_for(answer, 10)
    writer.close()
    assert b"connection: close" in status.lower()
    error = orjson.loads(body)["data"]["uploadLivechatFile"]
    assert error["upstreamError"] == "error-file-too-large"
    assert sent < 32 << 20
    await _wait_for(lambda: _leftovers(directory) == [])

    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request_head(port, len(head) + (900 << 10)) + head)
    for _ in range(8):
        writer.write(CHUNK)
        await writer.drain()
    await _wait_for(lambda: any(name.endswith(".part") for name in _leftovers(directory)))
    writer.close()
    await _wait_for(lambda: _leftovers(directory) == [])
