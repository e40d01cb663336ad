"""Nothing a client sends can hurt the server: limits, caps, masked bugs, production mode."""

from __future__ import annotations

import asyncio
import json
import logging
import select
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI

from app.backends import inprocess_backend, upstream_backend
from app.backends.base import InvalidParams, LivechatBackend
from app.backends.guarded import GuardedBackend
from app.logs import JsonFormatter, RedactSecrets
from app.main import create_app
from app.settings import Settings
from tests.helpers import GraphQL, operation
from tests.running import ServerProcess
from tests.servers import free_port, serving

HISTORY = 'query { livechatMessages(token: "t", rid: "r") { __typename '


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


async def post(client: httpx.AsyncClient, query: str, **extra: Any) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, **extra})


async def test_the_shipped_operations_pass_the_limits(client: httpx.AsyncClient) -> None:
    for name in ("sendLivechatMessage", "livechatMessages"):
        answer = await post(
            client, operation(name), variables={"input": {}, "token": "", "rid": ""}
        )
        assert "BAD_REQUEST" not in codes(answer.json())


async def test_depth_outside_md_has_its_own_limit(tmp_path: Path) -> None:
    """Outside `md` the schema is at most 5 levels deep; the limit is checked all the same."""
    four_deep = HISTORY + "... on LivechatMessagesSuccess { messages { u { id } } } } }"
    settings = Settings(database=tmp_path / "d.db", max_depth=3)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = (await post(client, four_deep)).json()
            shallow = (await post(client, HISTORY + "} }")).json()
    assert codes(answer) == ["BAD_REQUEST"]
    assert answer["errors"][0]["message"] == "The operation is 4 levels deep; at most 3."
    assert "BAD_REQUEST" not in codes(shallow)


async def test_a_depth_bomb_in_md_is_refused_through_fragments(client: httpx.AsyncClient) -> None:
    deep = HISTORY + "... on LivechatMessagesSuccess { messages { ...M } } } }\n"
    deep += "fragment M on Message { md { ...N1 } u { id } }\n"
    deep += "".join(
        f"fragment N{i} on MarkdownNode {{ ... on Paragraph {{ children {{ ...N{i + 1} }} }} }}\n"
        for i in range(1, 20)
    )
    deep += "fragment N20 on MarkdownNode { __typename }\n"
    answer = (await post(client, deep)).json()
    assert codes(answer) == ["BAD_REQUEST"]
    assert "md selection" in answer["errors"][0]["message"]


async def test_aliases_root_fields_and_tokens_are_capped(client: httpx.AsyncClient) -> None:
    aliases = "query { " + " ".join(f"a{i}: __typename" for i in range(16)) + " }"
    answer = (await post(client, aliases)).json()
    assert "BAD_REQUEST" in codes(answer)
    assert any("aliases" in error["message"] for error in answer["errors"])
    roots = "query { " + " ".join("__typename" for _ in range(11)) + " }"
    assert codes((await post(client, roots)).json()) == ["BAD_REQUEST"]
    tokens = "query { " + "__typename " * 9000 + "}"
    answer = (await post(client, tokens)).json()
    assert codes(answer) == ["BAD_REQUEST"]


async def test_a_body_over_the_limit_is_refused_before_it_is_read(
    client: httpx.AsyncClient,
) -> None:
    huge = {"query": "query { __typename }", "variables": {"pad": "x" * 1_100_000}}
    answer = await client.post("/graphql", json=huge)
    assert answer.status_code == 413
    assert codes(answer.json()) == ["BAD_REQUEST"]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(12):
            yield b" " * 100_000

    streamed = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"[]", "application/json"),
        (b'[{"query": "{ __typename }"}]', "application/json"),
        (b"{not json", "application/json"),
        (b'{"query": 42}', "application/json"),
        (b'{"query": "{ __typename }"}', "text/plain"),
        (b"query=%7B__typename%7D", "application/x-www-form-urlencoded"),
        (b"null", "application/json"),
        (b"42", "application/json"),
        (b'"{ __typename }"', "application/json"),
        (b"true", "application/json"),
        (b"", "application/json"),
    ],
    ids=[
        *("empty-batch", "batch", "broken-json", "query-not-string", "text-plain", "form"),
        *("null", "number", "string", "boolean", "empty"),
    ],
)
async def test_malformed_requests_get_a_graphql_error_not_a_crash(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    answer = await client.post("/graphql", content=content, headers={"content-type": content_type})
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"] == "application/json"
    assert codes(answer.json()) in (["BAD_REQUEST"], ["UNSUPPORTED_MEDIA_TYPE"])


async def test_mutations_never_run_over_get(client: httpx.AsyncClient) -> None:
    mutation = 'mutation { registerLivechatVisitor(input: {token: "t"}) { __typename } }'
    answer = await client.get("/graphql", params={"query": mutation})
    assert answer.status_code in (400, 405)
    query = await client.get("/graphql", params={"query": "{ __typename }"})
    assert query.json() == {"data": {"__typename": "Query"}}


async def test_oversized_fields_are_invalid_params_and_store_nothing(graphql: GraphQL) -> None:
    refused = await graphql.visitor("t" * 300)
    assert (refused["code"], refused["upstreamError"]) == ("INVALID_PARAMS", "invalid-params")
    await graphql.visitor()
    rid = (await graphql.room())["room"]["id"]
    for fields in ({"id": "i" * 200}, {"rid": "r" * 200}):
        answer = await graphql.send(**({"token": "visitor-token", "rid": rid, "msg": "x"} | fields))
        assert answer["code"] == "INVALID_PARAMS"
    assert graphql.stored_messages() == 0


class Broken:
    """A backend with a bug in it."""

    def __getattr__(self, name: str) -> Any:
        async def fail(*_: Any, **__: Any) -> Any:
            raise RuntimeError("secret internals: password=hunter2")

        return fail

    async def aclose(self) -> None:
        return None


async def test_a_bug_is_masked_and_logged_with_the_request_id(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async def factory(_: Settings) -> LivechatBackend:
        return Broken()

    app = create_app(settings, backend_factory=factory)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await post(
                client,
                'mutation { closeLivechatRoom(input: {token: "t", rid: "r"}) { __typename } }',
            )
    [error] = answer.json()["errors"]
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error["extensions"]["requestId"]
    assert "secret" not in answer.text
    assert any(request_id in record.getMessage() for record in caplog.records)


async def test_production_hides_introspection_suggestions_and_graphiql(tmp_path: Path) -> None:
    settings = Settings(database=tmp_path / "p.db", production=True)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            introspection = (await post(client, "{ __schema { types { name } } }")).json()
            typo = (await post(client, "{ livechatMesages }")).json()
            ide = await client.get("/graphql", headers={"accept": "text/html"})
    assert introspection.get("data") is None and introspection["errors"]
    assert "Did you mean" not in typo["errors"][0]["message"]
    assert "graphiql" not in ide.text.lower()


async def test_cors_is_closed_unless_configured(client: httpx.AsyncClient, tmp_path: Path) -> None:
    origin = {"origin": "https://widget.example.com"}
    closed = await client.post("/graphql", json={"query": "{ __typename }"}, headers=origin)
    assert "access-control-allow-origin" not in closed.headers
    settings = Settings(database=tmp_path / "c.db", cors_origins=["https://widget.example.com"])
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as open_client:
            answer = await open_client.post(
                "/graphql", json={"query": "{ __typename }"}, headers=origin
            )
    assert answer.headers["access-control-allow-origin"] == "https://widget.example.com"


async def test_tokens_and_auth_headers_never_reach_the_logs(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "SeCrEtToKeN-4711"
    caplog.set_level(logging.DEBUG)
    await client.get("/api/v1/livechat/room", params={"token": secret})
    await post(
        client,
        f'mutation {{ registerLivechatVisitor(input: {{token: "{secret}"}}) {{ __typename }} }}',
    )
    await post(
        client, f'mutation {{ broken(token: "{secret}") }}', headers={"X-Auth-Token": secret}
    )
    logging.getLogger("app.test").warning("echoed body: %s", json.dumps({"token": secret}))
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1",
        "GET",
        f"/api/v1/livechat/room?token={secret}",
        "1.1",
        200,
    )
    redact, formatter = RedactSecrets(), JsonFormatter()
    written = []
    for record in caplog.records:
        redact.filter(record)
        written.append(formatter.format(record))
    assert written and all(json.loads(line) for line in written)
    assert not [line for line in written if secret in line]
    assert any("[REDACTED]" in line for line in written)


async def test_the_log_lines_are_json(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
    RedactSecrets().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "error" and entry["message"] == "boom x"


PATH_CHANGING_IDS = ["..", ".", "a/b", "a?token=x", "%2e%2e", "a b", ""]


@pytest.mark.parametrize("bad", PATH_CHANGING_IDS, ids=repr)
async def test_ids_that_could_change_a_path_are_invalid_params_on_both_backends(
    api: GraphQL, bad: str
) -> None:
    """A message id or room id goes into an upstream URL path (`message/:_id`,
    `messages.history/:rid`): `..` would make it `/api/v1/livechat/`. Each backend gives the
    same typed answer, and nothing is stored."""
    await api.visitor()
    rid = (await api.room())["room"]["id"]
    token = "visitor-token"
    answers = [
        (await api.run("livechatMessage", {"token": token, "rid": rid, "id": bad}))[
            "livechatMessage"
        ],
        (
            await api.run(
                "updateLivechatMessage",
                {"input": {"token": token, "rid": rid, "id": bad, "msg": "x"}},
            )
        )["updateLivechatMessage"],
        (
            await api.run(
                "deleteLivechatMessage", {"input": {"token": token, "rid": rid, "id": bad}}
            )
        )["deleteLivechatMessage"],
        (await api.run("livechatMessages", {"token": token, "rid": bad, "limit": 5}))[
            "livechatMessages"
        ],
    ]
    if bad:  # a send with an empty id gets one made for it
        answers.append(await api.send(token=token, rid=rid, msg="hello", id=bad))
    assert [(answer["code"], answer["upstreamError"]) for answer in answers] == [
        ("INVALID_PARAMS", "invalid-params")
    ] * len(answers)
    assert api.stored_messages() == 0


@pytest.mark.parametrize("bad", ["..", "a/b", "x?token=y"], ids=repr)
async def test_the_upstream_client_refuses_a_path_id_before_any_call(
    tmp_path: Path, bad: str
) -> None:
    """Behind the guard, the upstream client checks again where it builds the path: pointed
    at a port where nothing listens, it answers INVALID_PARAMS, not UPSTREAM_UNAVAILABLE, so
    no connection was tried. A subscription's room id (which its back-fill puts in a path) is
    refused by the guard in front of both backends alike."""
    settings = Settings(
        backend="upstream", upstream_url=f"http://127.0.0.1:{free_port()}", database=tmp_path / "u"
    )
    upstream = upstream_backend(settings)
    try:
        with pytest.raises(InvalidParams):
            await upstream.message_history("t", bad, 5)
        with pytest.raises(InvalidParams):
            await upstream.message("t", "r", bad)
        with pytest.raises(InvalidParams):
            await upstream.delete_message("t", "r", bad)
        with pytest.raises(InvalidParams):
            await GuardedBackend(upstream).subscribe_room("t", bad)
    finally:
        await upstream.aclose()
    inprocess = GuardedBackend(await inprocess_backend(Settings(database=tmp_path / "i.db")))
    try:
        with pytest.raises(InvalidParams):
            await inprocess.subscribe_room("t", bad)
    finally:
        await inprocess.aclose()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_ddp_frames_nested_too_deep_are_answered_and_the_session_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """orjson reads 1,024 levels and writes 254: a deep frame echoed back (as the
    `offendingMessage` of an error, a ping's `id`) used to end the session with a traceback
    in the log. Now it is a DDP error and nothing is logged above DEBUG."""
    caplog.set_level(logging.INFO)
    app = create_app(Settings(database=tmp_path / "ddp.db"))
    frames = [
        *(nested(depth) for depth in (256, 512, 1024)),
        f'{{"msg": "ping", "id": {nested(300)}}}',
        f'{{"msg": "sub", "id": {nested(1000)}, "name": "stream-room-messages"}}',
        f'{{"msg": "method", "id": "1", "method": {nested(600)}}}',
        f'{{"msg": {nested(1024)}}}',
        nested(1100),  # more than orjson reads: not JSON at all
    ]
    with serving(app) as url:
        async with websockets.connect(url.replace("http", "ws", 1) + "/websocket") as socket:
            assert json.loads(await socket.recv()) == {"server_id": "0"}
            await socket.send('{"msg": "connect", "version": "1", "support": ["1"]}')
            assert json.loads(await socket.recv())["msg"] == "connected"
            answers = []
            for frame in frames:
                await socket.send(frame)
                answers.append(json.loads(await asyncio.wait_for(socket.recv(), 10)))
            await socket.send('{"msg": "ping", "id": "still-here"}')
            pong = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert [answer["msg"] for answer in answers] == ["error"] * len(frames)
    assert all(answer["reason"].startswith("Bad request") for answer in answers)
    assert pong == {"msg": "pong", "id": "still-here"}
    assert [record.getMessage() for record in caplog.records if record.name != "app.main"] == []


EDGE = {
    "LIVECHAT_GRAPHQL_MAX_HEADER_BYTES": "4096",
    "LIVECHAT_GRAPHQL_HEADER_TIMEOUT": "1",
    "LIVECHAT_GRAPHQL_BODY_TIMEOUT": "1",
    "LIVECHAT_GRAPHQL_MAX_CONNECTIONS": "8",
    "LIVECHAT_GRAPHQL_KEEP_ALIVE_TIMEOUT": "60",
}


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`serve` with small edge limits; idle connections are kept a minute, so that what
    frees a connection for a normal client in these tests is the cap's eviction."""
    database = tmp_path_factory.mktemp("edge") / "edge.db"
    server = ServerProcess(database, environment=EDGE).start()
    try:
        yield server
    finally:
        server.stop()


def connect(server: ServerProcess) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port))
    connection.settimeout(30)
    return connection


def answer_while_dripping(connection: socket.socket, drip: bytes) -> bytes:
    """Send `drip` every tenth of a second until the server answers; what it answered."""
    for _ in range(300):
        readable, _, _ = select.select([connection], [], [], 0.1)
        if readable:
            return connection.recv(4096)
        connection.sendall(drip)
    raise AssertionError("the server never cut the connection")


def test_a_head_over_the_limit_is_answered_431(edge: ServerProcess) -> None:
    with connect(edge) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 8192)
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b'"code":"BAD_REQUEST"' in answer


def test_an_endless_header_is_refused_not_read(edge: ServerProcess) -> None:
    """The server stops reading at the limit: a sender of 64 MiB of header is cut once the
    kernel's buffers are full, which would never happen to a server that kept reading."""
    sent = 0
    with connect(edge) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: ")
        with pytest.raises(OSError):
            while sent < 64 << 20:
                connection.sendall(b"a" * 65536)
                sent += 65536
    assert sent < 64 << 20
    assert httpx.get(f"{edge.url}/healthz").status_code == 200


def test_a_slow_loris_head_is_cut_with_408(edge: ServerProcess) -> None:
    with connect(edge) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        answer = answer_while_dripping(connection, b"X-A: b\r\n")
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_slow_chunked_body_is_cut_with_408(edge: ServerProcess) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    with connect(edge) as connection:
        connection.sendall(head)
        answer = answer_while_dripping(connection, b"1\r\n \r\n")
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_idle_connections_beyond_the_cap_do_not_starve_a_client(edge: ServerProcess) -> None:
    """Three times the cap of idle connections: each new one closes the longest idle, and a
    client with a request is served at once (no idle timeout runs out: it is a minute)."""
    idle = [connect(edge) for _ in range(24)]
    try:
        with httpx.Client(base_url=edge.url) as client:
            answers = [client.get("/healthz").status_code for _ in range(5)]
        closed = 0
        for connection in idle[:16]:  # the oldest: every one of them was closed for a newer one
            readable, _, _ = select.select([connection], [], [], 10)
            closed += bool(readable) and connection.recv(1) == b""
    finally:
        for connection in idle:
            connection.close()
    assert answers == [200] * 5
    assert closed == 16


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(
    tmp_path: Path,
) -> None:
    environment = {**EDGE, "LIVECHAT_GRAPHQL_KEEP_ALIVE_TIMEOUT": "1"}
    server = ServerProcess(tmp_path / "idle.db", environment=environment).start()
    try:
        with connect(server) as connection:
            assert connection.recv(1) == b""  # closed by the server, having sent nothing
    finally:
        server.stop()


def test_heads_split_across_reads_and_large_bodies_are_served(edge: ServerProcess) -> None:
    """The head is counted up to its blank line, even when that line straddles two reads, and
    a body is not counted as head: a 900 KB body after a head in pieces is answered."""
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 900_000}}).encode()
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with connect(edge) as connection:
        connection.sendall(head[:10])
        connection.sendall(head[10:-2])
        connection.sendall(head[-2:] + body)
        answer = b""
        while b'"Query"' not in answer:
            chunk = connection.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    "message",
    [
        nested(600),
        f'{{"type": "subscribe", "id": {nested(600)}, "payload": {{"query": "{{ a }}"}}}}',
        f'{{"type": "subscribe", "id": "1", "payload": {nested(600)}}}',
        '{"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", "variables": []}}',
        f'{{"type": {nested(600)}}}',
    ],
    ids=["list", "deep-id", "deep-payload", "list-variables", "deep-type"],
)
async def test_graphql_ws_messages_of_the_wrong_shape_close_4400_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, message: str
) -> None:
    """Deep values inside a well-shaped message are data like any other; a message whose
    parts are not what the protocol says closes the socket with 4400, as the protocol asks."""
    caplog.set_level(logging.INFO)
    app = create_app(Settings(database=tmp_path / "ws.db"))
    protocol = websockets.Subprotocol("graphql-transport-ws")
    with serving(app) as url:
        address = url.replace("http", "ws", 1) + "/graphql"
        async with websockets.connect(address, subprotocols=[protocol]) as socket_:
            await socket_.send('{"type": "connection_init"}')
            assert json.loads(await socket_.recv()) == {"type": "connection_ack"}
            await socket_.send(message)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket_.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
    assert [record.getMessage() for record in caplog.records if record.name != "app.main"] == []
