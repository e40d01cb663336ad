"""The lean POST path answers exactly as Strawberry's view does.

Two servers over loopback HTTP, each on its own store with the same clock and ids: the app as
served (POST /graphql answered by `app.front` and `app.graphql.lean`) and the same app with its
front door removed (every request through FastAPI and Strawberry's view). The same requests go
to both, in the same order; status, the headers a client reads, and the body must be equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema
from strawberry.extensions import SchemaExtension

from app.backends import inprocess_backend
from app.backends.base import LivechatBackend
from app.graphql.errors import MaskUnexpectedErrors
from app.graphql.export import sdl
from app.graphql.lean import LeanStats, prepare
from app.graphql.persisted import DocumentCache
from app.graphql.schema import make_schema, unmirrored
from app.main import LivechatApp, create_app, request_limits
from app.settings import Settings
from tests.helpers import CUSTOM_SCALARS, QUERIES, CountingIds, SteppingClock, operation
from tests.servers import serving

REQUEST_ID = "same-request-id"
SDL = sdl(make_schema(request_limits(Settings())))
SEND = operation("sendLivechatMessage")
HISTORY = operation("livechatMessages")
DEPTH_BOMB = '{ livechatMessages(token: "t", rid: "r") ' + "{ __typename " * 20 + "}" * 21
ALIASES = "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }"
ROOT_FIELDS = "{ " + " ".join(f"m{i}: __typename" for i in range(12)) + " }"
TOKENS = "{ " + "__typename " * 9000 + "}"
BOOM = "boom-token"
# A request that asks for Apollo's multipart answer: Strawberry's view refuses a query so asked.
MULTIPART = "a query asking for a multipart answer"
ACCEPT = {MULTIPART: 'multipart/mixed;subscriptionSpec="1.0"'}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Fragile:
    """The in-process backend, except that a send with the token BOOM fails like a bug."""

    def __init__(self, backend: LivechatBackend) -> None:
        self.backend = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    async def send_message(self, outgoing: Any) -> Any:
        if outgoing.token == BOOM:
            raise RuntimeError("secret internals")
        return await self.backend.send_message(outgoing)


@asynccontextmanager
async def served(settings: Settings, *, front: bool) -> AsyncIterator[str]:
    backend = await inprocess_backend(settings, clock=SteppingClock(), new_id=CountingIds())

    async def factory(_: Settings) -> LivechatBackend:
        return Fragile(backend)

    app: FastAPI = create_app(settings, backend_factory=factory)
    assert isinstance(app, LivechatApp)
    if not front:
        app.front = None
    try:
        with serving(app) as url:
            yield url
    finally:
        await backend.aclose()


def requests(rid: str) -> Iterator[tuple[str, dict[str, Any] | list[Any] | bytes]]:
    """(what it checks, body): successes, typed failures, refusals before execution, bugs."""
    send = {"input": {"token": "visitor", "rid": rid, "msg": "Hello **world** :smile:"}}
    yield "send, the shipped operation", {"query": SEND, "variables": send}
    yield "send, named", {"query": SEND, "variables": send, "operationName": "SendLivechatMessage"}
    yield "history", {"query": HISTORY, "variables": {"token": "visitor", "rid": rid}}
    yield (
        "aliases, variables, a fragment",
        {
            "query": "query Q($t: String!, $r: ID!) { first: livechatMessages(token: $t, rid: $r) { ...H } } fragment H on LivechatMessagesResult { __typename }",  # noqa: E501
            "variables": {"t": "visitor", "r": rid},
        },
    )
    fields = send["input"]
    yield (
        "a LivechatError: bad token",
        {"query": SEND, "variables": {"input": {**fields, "token": "nobody"}}},
    )
    yield (
        "a LivechatError: no room",
        {"query": SEND, "variables": {"input": {**fields, "rid": "nothere"}}},
    )
    yield "a masked bug", {"query": SEND, "variables": {"input": {**fields, "token": BOOM}}}
    yield "a variable that does not coerce", {"query": SEND, "variables": {"input": {"token": 1}}}
    yield "a missing variable", {"query": SEND}
    yield "a syntax error", {"query": "{ livechatMessages("}
    yield "an unknown field", {"query": "{ livechatMesages }"}
    yield "introspection", {"query": "{ __schema { queryType { name } } }"}
    yield "too deep", {"query": DEPTH_BOMB}
    yield "too many aliases", {"query": ALIASES}
    yield "too many root fields", {"query": ROOT_FIELDS}
    yield "too many tokens", {"query": TOKENS}
    yield "two operations, none named", {"query": "query A { __typename } query B { __typename }"}
    yield "an unknown operation name", {"query": "{ __typename }", "operationName": "Nope"}
    yield "a subscription over POST", {"query": "subscription { __typename }"}
    yield "no query", {"variables": {}}
    yield "a query that is not a string", {"query": 3}
    yield "variables that are not an object", {"query": "{ __typename }", "variables": [1]}
    yield "a batch", [{"query": "{ __typename }"}]
    yield MULTIPART, {"query": "{ __typename }"}
    yield "not JSON", b"{nope"
    yield "JSON, not an object", b"null"
    known = "query Known { __typename }"
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": _digest(known)}}
    yield "APQ: an unknown hash", {"extensions": persisted}
    yield "APQ: the hash with its text", {"query": known, "extensions": persisted}
    yield "APQ: the hash alone, known now", {"extensions": persisted}
    yield "APQ: a wrong hash", {"query": "{ __typename }", "extensions": persisted}
    yield "APQ: a version not spoken", {"extensions": {"persistedQuery": {"version": 2}}}


def content(body: dict[str, Any] | list[Any] | bytes) -> bytes:
    return body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
async def test_the_lean_path_answers_as_strawberry_does(tmp_path: Path, production: bool) -> None:
    answers: dict[str, list[tuple[str, int, dict[str, str | None], Any]]] = {}
    for front in (True, False):
        name = "lean" if front else "view"
        settings = Settings(database=tmp_path / f"{name}.db", production=production)
        answered = LeanStats.answered
        async with served(settings, front=front) as url, httpx.AsyncClient(base_url=url) as client:
            register = {"visitor": {"token": "visitor", "name": "Visitor"}}
            await client.post("/api/v1/livechat/visitor", json=register)
            room = await client.get("/api/v1/livechat/room", params={"token": "visitor"})
            rid = room.json()["room"]["_id"]
            answers[name] = []
            for what, body in requests(rid):
                response = await client.post(
                    "/graphql",
                    content=content(body),
                    headers={
                        "content-type": "application/json",
                        "x-request-id": REQUEST_ID,
                        **({"accept": ACCEPT[what]} if what in ACCEPT else {}),
                    },
                )
                headers = {
                    key: response.headers.get(key)
                    for key in ("content-type", "x-request-id", "connection")
                }
                try:
                    parsed: Any = response.json()
                except ValueError:
                    parsed = response.text
                answers[name].append((what, response.status_code, headers, parsed))
        if front:
            assert LeanStats.answered > answered, "the served app did not take the lean path"
        else:
            assert LeanStats.answered == answered, "the app without its front took the lean path"
    for lean, view in zip(answers["lean"], answers["view"], strict=True):
        assert lean == view
    kinds = {what: body for what, _, _, body in answers["lean"]}
    assert kinds["aliases, variables, a fragment"] == {
        "data": {"first": {"__typename": "LivechatMessagesSuccess"}}
    }
    # The comparison covers what it says it does.
    assert kinds["send, the shipped operation"]["data"]["sendLivechatMessage"]["__typename"] == (
        "SendLivechatMessageSuccess"
    )
    bad_token = kinds["a LivechatError: bad token"]["data"]["sendLivechatMessage"]
    assert bad_token["__typename"] == "LivechatError"
    assert kinds["a masked bug"]["errors"][0]["extensions"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "requestId": REQUEST_ID,
    }
    for limit in ("too deep", "too many aliases", "too many root fields", "too many tokens"):
        assert kinds[limit]["errors"][0]["extensions"]["code"] == "BAD_REQUEST", limit
    assert kinds["APQ: the hash alone, known now"] == {"data": {"__typename": "Query"}}


async def test_answers_before_and_without_the_lean_path_carry_the_request_id(
    tmp_path: Path,
) -> None:
    """A request refused by size is answered by the FastAPI app's guard, with the request id."""
    settings = Settings(database=tmp_path / "size.db", max_body_bytes=2048)
    async with served(settings, front=True) as url, httpx.AsyncClient(base_url=url) as client:
        big = {"query": "{ __typename }", "variables": {"pad": "x" * 4096}}
        response = await client.post("/graphql", json=big, headers={"x-request-id": "big"})
    assert response.status_code == 413
    assert response.headers["x-request-id"] == "big"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_cross_origin_requests_take_the_front_door_with_their_cors_headers(
    tmp_path: Path,
) -> None:
    """A widget embedded on another site sends `Origin` with every request: CORS wraps the
    front door, so those requests are answered there, with the headers (and preflights) the
    FastAPI path gives."""
    origin = "https://widget.example.com"
    cors = {"origin": origin, "access-control-request-method": "POST"}
    preflight = {**cors, "access-control-request-headers": "content-type,x-request-id"}

    async def exchange(front: bool) -> list[tuple[int, dict[str, str], bytes]]:
        settings = Settings(database=tmp_path / f"cors-{front}.db", cors_origins=[origin])
        async with served(settings, front=front) as url, httpx.AsyncClient(base_url=url) as client:
            answers = [
                await client.options("/graphql", headers=preflight),
                await client.post(
                    "/api/v1/livechat/visitor",
                    json={"visitor": {"token": "visitor"}},
                    headers={"origin": origin},
                ),
                await client.post(
                    "/graphql", json={"query": "{ __typename }"}, headers={"origin": origin}
                ),
                await client.post(
                    "/graphql",
                    json={"query": "{ __typename }"},
                    headers={"origin": "https://x.example"},
                ),
                await client.post("/graphql", json={"query": "{ __typename }"}),
            ]
        return [
            (
                answer.status_code,
                {
                    name: value
                    for name, value in answer.headers.items()
                    if name.startswith("access-control-") or name in ("vary", "content-type")
                },
                answer.content,
            )
            for answer in answers
        ]

    answered = LeanStats.answered
    through_the_door = await exchange(front=True)
    assert LeanStats.answered == answered + 3
    assert through_the_door == await exchange(front=False)
    [allowed, rest, graphql, other_site, same_origin] = through_the_door
    assert allowed[0] == 200 and allowed[1]["access-control-allow-origin"] == origin
    assert rest[0] == 200 and rest[1]["access-control-allow-origin"] == origin
    assert graphql[1]["access-control-allow-origin"] == origin
    assert graphql[2] == same_origin[2] == b'{"data":{"__typename":"Query"}}'
    assert "access-control-allow-origin" not in other_site[1]
    assert "access-control-allow-origin" not in same_origin[1]


async def test_every_shipped_query_and_mutation_takes_the_front_door_as_deployed(
    tmp_path: Path,
) -> None:
    """Each operation in queries/ but the multipart upload and the subscription, from a widget
    on another site to a server with metrics and CORS on: the front door answers it (bad
    variables included: that is an answer too), and it is counted."""
    origin = "https://widget.example.com"
    settings = Settings(database=tmp_path / "deployed.db", metrics=True, cors_origins=[origin])
    shipped = sorted(
        path.stem
        for path in QUERIES.glob("*.graphql")
        if path.stem not in ("uploadLivechatFile", "livechatRoomEvents")
    )
    assert {"livechatConfig", "setLivechatTyping", "transferLivechatRoom"} <= set(shipped)
    async with served(settings, front=True) as url, httpx.AsyncClient(base_url=url) as client:
        for name in shipped:
            answered = LeanStats.answered
            response = await client.post(
                "/graphql", json={"query": operation(name)}, headers={"origin": origin}
            )
            assert response.status_code == 200 and "data" in response.json(), name
            assert response.headers["access-control-allow-origin"] == origin
            assert LeanStats.answered == answered + 1, name
        scraped = (await client.get("/metrics")).text
    assert 'operation="invalid"' in scraped  # missing variables: refused, and counted


async def test_the_rest_routes_answer_as_through_fastapi(tmp_path: Path) -> None:
    """Rocket.Chat's routes through the front door and through FastAPI's router: the same
    statuses, headers and bodies, a bug's 500 and a refused size included."""
    answers: dict[bool, list[tuple[int, dict[str, str | None], Any]]] = {}
    for front in (True, False):
        settings = Settings(database=tmp_path / f"rest-{front}.db", max_body_bytes=2048)
        async with served(settings, front=front) as url, httpx.AsyncClient(base_url=url) as client:
            ids = {"x-request-id": REQUEST_ID}
            register = {"visitor": {"token": "visitor"}}
            sent = {"token": "visitor", "rid": "r", "msg": "hi **there**"}
            responses = [
                await client.post("/api/v1/livechat/visitor", json=register, headers=ids),
                await client.get("/api/v1/livechat/room", params={"token": "visitor"}, headers=ids),
            ]
            rid = responses[-1].json()["room"]["_id"]
            responses += [
                await client.post(
                    "/api/v1/livechat/message", json={**sent, "rid": rid}, headers=ids
                ),
                await client.post("/api/v1/livechat/message", json=sent, headers=ids),
                await client.post("/api/v1/livechat/message", content=b"{nope", headers=ids),
                await client.post(
                    "/api/v1/livechat/message", json={**sent, "token": BOOM}, headers=ids
                ),
                await client.post(
                    "/api/v1/livechat/message", json={**sent, "msg": "x" * 4096}, headers=ids
                ),
                await client.get(
                    f"/api/v1/livechat/messages.history/{rid}?token=visitor", headers=ids
                ),
                await client.get("/api/v1/livechat/visitor", headers=ids),
            ]
        answers[front] = [
            (
                response.status_code,
                {key: response.headers.get(key) for key in ("content-type", "x-request-id")},
                response.json(),
            )
            for response in responses
        ]
    assert answers[True] == answers[False]
    statuses = [status for status, _, _ in answers[True]]
    assert statuses == [200, 200, 200, 400, 400, 500, 413, 200, 405]
    assert answers[True][5][2]["errors"][0]["extensions"]["requestId"] == REQUEST_ID


async def test_an_extension_the_lean_path_does_not_mirror_sends_requests_the_slow_way() -> None:
    """A schema extension the front door does not know, or a subclass of one it does (which may
    add a hook), is found among the schema's extensions, whichever way it got there; then the
    lean path declines every request, and Strawberry's path, which the front hands them to,
    runs the extension."""
    seen: list[str] = []

    class Watching(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            seen.append("operation")
            yield

    class WatchingMask(MaskUnexpectedErrors):
        def on_execute(self) -> Iterator[None]:
            seen.append("execute")
            yield

    limits = request_limits(Settings())
    payload = {"query": "{ __typename }"}
    shipped = make_schema(limits)
    caches = shipped.preparation.caches
    assert unmirrored(shipped.get_extensions(), caches) == []
    assert prepare(shipped, DocumentCache(maxsize=1), payload) is not None
    added = [*shipped.get_extensions(), Watching(), WatchingMask()]
    assert unmirrored(added, caches) == [Watching, WatchingMask]
    for extension, hook in ((Watching, "operation"), (WatchingMask, "execute")):
        schema = make_schema(limits, observers=[extension])
        assert schema.preparation.observed
        assert prepare(schema, DocumentCache(maxsize=1), payload) is None
        result = await schema.execute(payload["query"])
        assert result.data == {"__typename": "Query"}
        assert seen.pop() == hook


@pytest.fixture
def both_paths(tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Clients of the served app and of the same app without its front door, each on its own
    store with its own clock and ids, on real loopback ports: (lean, view)."""

    def app(name: str, *, front: bool) -> FastAPI:
        async def factory(settings: Settings) -> LivechatBackend:
            return await inprocess_backend(settings, clock=SteppingClock(), new_id=CountingIds())

        served = create_app(Settings(database=tmp_path / f"{name}.db"), backend_factory=factory)
        assert isinstance(served, LivechatApp)
        if not front:
            served.front = None
        return served

    with (
        serving(app("lean", front=True)) as lean_url,
        serving(app("view", front=False)) as view_url,
        httpx.Client(base_url=lean_url) as lean,
        httpx.Client(base_url=view_url) as view,
    ):
        yield lean, view


# Valid documents of every shape the schema allows, and invalid ones (unknown fields, wrong
# argument types), mutations included: both stores see the same sends in the same order.
DOCUMENTS = st.one_of(
    from_schema(SDL, custom_scalars=CUSTOM_SCALARS),
    from_schema(SDL, mode=Mode.NEGATIVE, custom_scalars=CUSTOM_SCALARS),
)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    # The two servers are started once for all examples, on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=DOCUMENTS)
def test_generated_documents_answer_alike_on_both_paths(
    both_paths: tuple[httpx.Client, httpx.Client], document: str
) -> None:
    answers = []
    for client in both_paths:
        answered = LeanStats.answered
        response = client.post(
            "/graphql", json={"query": document}, headers={"x-request-id": REQUEST_ID}
        )
        took_lean = LeanStats.answered > answered
        assert took_lean == (client is both_paths[0]), "not the path meant answered"
        answers.append((response.status_code, response.headers["content-type"], response.json()))
    lean, view = answers
    assert lean == view
