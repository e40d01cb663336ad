"""The upstream backend under faults: what the client sees, and that nothing is stored twice."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from app.backends.base import (
    OutgoingMessage,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    VisitorRegistration,
)
from app.backends.upstream.client import UpstreamBackend
from app.backends.upstream.retry import RetryBudget
from app.backends.upstream.transport import (
    ClientTimeouts,
    DirectSend,
    Timeouts,
    UpstreamClient,
    direct_send,
    make_client,
)
from app.main import create_app
from app.settings import Settings
from tests.faults import FaultyTransport
from tests.helpers import GraphQL, RocketChatServer
from tests.servers import free_port

FAST = RetryBudget(max_attempts=4, backoff_base=0.001, backoff_cap=0.01, total_timeout=10)


def sends(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path == "/api/v1/livechat/message"


def first_sends(*faults: str) -> Callable[[httpx.Request], str | None]:
    """Inject `faults` into the first sends, in order; then behave."""
    pending = list(faults)

    def plan(request: httpx.Request) -> str | None:
        return pending.pop(0) if sends(request) and pending else None

    return plan


class _Direct(httpx.AsyncBaseTransport):
    """Sends a request on a direct path with the arguments it was given (kept on the request):
    what `FaultyTransport` forwards to when the faults are injected on the direct path."""

    def __init__(self, direct: DirectSend) -> None:
        self.direct = direct

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.direct(*request.extensions["direct"])


class DirectFaults(FaultyTransport):
    """`FaultyTransport` around the transport `make_client` makes: the same faults injected on
    its httpx path and on its direct path (the lean client of `transport.wire`), where the
    backend sends every call but files."""

    def __init__(
        self, plan: Callable[[httpx.Request], str | None], inner: httpx.AsyncBaseTransport
    ) -> None:
        super().__init__(plan)
        # FaultyTransport forwards to any transport; its attribute is typed as the one it makes.
        self._real = inner  # type: ignore[assignment]
        direct = direct_send(inner)
        assert direct is not None
        self._direct = FaultyTransport(plan)
        self._direct._real = _Direct(direct)  # type: ignore[assignment]
        self._direct.injected = self.injected

    def direct_through(self) -> DirectSend:
        async def send(
            method: str,
            url: httpx.URL,
            headers: dict[str, str],
            content: bytes | None,
            timeouts: Timeouts,
        ) -> httpx.Response:
            arguments = (method, url, headers, content, timeouts)
            request = httpx.Request(
                method, url, headers=headers, content=content, extensions={"direct": arguments}
            )
            return await self._direct.handle_async_request(request)

        return send


PATHS = ("httpx", "direct")
path = PATHS[0]  # the one `upstream` sends on; set per test by `each_path`


@pytest.fixture(autouse=True, params=PATHS)
def each_path(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test on both paths the backend sends on: through httpx's client, and on the
    client's direct path, with the same faults injected before the same real server."""
    global path
    path = request.param
    yield
    path = PATHS[0]


async def upstream(
    rocketchat: RocketChatServer, plan: Callable[..., Any], budget: RetryBudget = FAST
) -> UpstreamBackend:
    transport: FaultyTransport
    client: httpx.AsyncClient
    if path == "direct":
        timeouts = ClientTimeouts(connect=5, read=5)

        def faulty(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
            nonlocal transport
            transport = DirectFaults(plan, inner)
            return transport

        client = make_client(rocketchat.url, max_connections=10, timeouts=timeouts, wrap=faulty)
        assert isinstance(client, UpstreamClient) and client.direct is not None
    else:
        transport = FaultyTransport(plan)
        client = httpx.AsyncClient(base_url=rocketchat.url, transport=transport, timeout=5)
    backend = UpstreamBackend(client, budget=budget)
    backend.transport = transport  # type: ignore[attr-defined]
    return backend


async def room_for(backend: UpstreamBackend, token: str = "tok") -> str:
    await backend.register_visitor(VisitorRegistration(token=token, name="Ann"))
    room, _ = await backend.open_room(token)
    return room.id


def stored(api_db: Any) -> int:
    return GraphQL(httpx.AsyncClient(), api_db).stored_messages()


@pytest.fixture
def database(tmp_path: Any) -> Any:
    return tmp_path / "rocketchat.db"


@pytest.mark.parametrize(
    "faults",
    [("refuse",), ("reset",), ("slow",), ("503",), ("429",), ("503", "reset", "refuse")],
    ids=["refused", "reset-mid-body", "slow-body", "503-then-ok", "429-then-ok", "three-faults"],
)
async def test_a_send_through_passing_faults_is_stored_once(
    rocketchat: RocketChatServer, database: Any, faults: tuple[str, ...]
) -> None:
    backend = await upstream(rocketchat, first_sends(*faults))
    rid = await room_for(backend)
    message = await backend.send_message(OutgoingMessage(token="tok", rid=rid, msg="hi *there*"))
    assert message.msg == "hi *there*"
    assert message.md[0]["value"][1]["type"] == "BOLD"
    assert backend.retries == len(faults)
    assert stored(database) == 1
    await backend.aclose()


async def test_a_lost_answer_is_not_stored_again_and_keeps_the_generated_id(
    rocketchat: RocketChatServer, database: Any
) -> None:
    seen_ids: list[str] = []

    def plan(request: httpx.Request) -> str | None:
        if sends(request):
            seen_ids.append(httpx.Request("POST", "/", content=request.content).read().decode())
            return "reset" if len(seen_ids) == 1 else None
        return None

    backend = await upstream(rocketchat, plan)
    rid = await room_for(backend)
    message = await backend.send_message(OutgoingMessage(token="tok", rid=rid, msg="once"))
    assert len(seen_ids) == 2 and seen_ids[0] == seen_ids[1]  # the same body, so the same _id
    assert f'"_id":"{message.id}"' in seen_ids[0].replace(" ", "")
    assert len(message.id) == 17
    assert stored(database) == 1
    await backend.aclose()


@pytest.mark.parametrize(
    ("fault", "failure"),
    [("refuse", UpstreamUnavailable), ("reset", UpstreamUnavailable),
     ("slow", UpstreamTimeout), ("503", UpstreamError)],
)  # fmt: skip
async def test_when_faults_outlast_the_retries_the_client_is_told_which(
    rocketchat: RocketChatServer, database: Any, fault: str, failure: type[Exception]
) -> None:
    backend = await upstream(rocketchat, lambda request: fault if sends(request) else None)
    rid = await room_for(backend)
    with pytest.raises(failure):
        await backend.send_message(OutgoingMessage(token="tok", rid=rid, msg="never", id="m1"))
    assert backend.retries == FAST.max_attempts - 1
    assert stored(database) <= 1
    await backend.aclose()


async def test_a_long_retry_after_is_answered_as_rate_limited(rocketchat: RocketChatServer) -> None:
    def plan(request: httpx.Request) -> str | None:
        return "429" if sends(request) else None

    budget = RetryBudget(max_attempts=2, retry_after_cap=0.001, backoff_base=0.001)
    backend = await upstream(rocketchat, plan, budget)
    rid = await room_for(backend)
    with pytest.raises(RateLimited) as refused:
        await backend.send_message(OutgoingMessage(token="tok", rid=rid, msg="later"))
    assert refused.value.retry_after == pytest.approx(0.01)
    await backend.aclose()


async def test_garbage_is_an_upstream_error_and_never_retried(
    rocketchat: RocketChatServer, database: Any
) -> None:
    backend = await upstream(rocketchat, first_sends("garbage"))
    rid = await room_for(backend)
    with pytest.raises(UpstreamError):
        await backend.send_message(OutgoingMessage(token="tok", rid=rid, msg="x", id="g1"))
    assert backend.retries == 0 and stored(database) == 0
    again = await backend.send_message(OutgoingMessage(token="tok", rid=rid, msg="x", id="g1"))
    assert again.id == "g1" and stored(database) == 1
    await backend.aclose()


async def test_opening_a_room_is_not_retried_after_the_request_was_sent(
    rocketchat: RocketChatServer,
) -> None:
    def plan(request: httpx.Request) -> str | None:
        return "reset" if request.url.path == "/api/v1/livechat/room" else None

    backend = await upstream(rocketchat, plan)
    await backend.register_visitor(VisitorRegistration(token="tok"))
    with pytest.raises(UpstreamUnavailable):
        await backend.open_room("tok")
    assert backend.retries == 0
    await backend.aclose()


@pytest.fixture
async def faulty_api(rocketchat: RocketChatServer, tmp_path: Any) -> AsyncIterator[GraphQL]:
    """The GraphQL app whose upstream refuses every send, spoken to as a client would."""
    settings = Settings(backend="upstream", upstream_url=rocketchat.url, database=tmp_path / "x.db")

    async def factory(_: Settings) -> UpstreamBackend:
        return await upstream(rocketchat, lambda request: "503" if sends(request) else None)

    app = create_app(settings, backend_factory=factory)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield GraphQL(client)


async def test_infrastructure_failures_are_top_level_errors_with_a_code(
    faulty_api: GraphQL,
) -> None:
    await faulty_api.visitor()
    rid = (await faulty_api.room())["room"]["id"]
    from tests.helpers import operation

    body = await faulty_api.raw(
        operation("sendLivechatMessage"),
        {"input": {"token": "visitor-token", "rid": rid, "msg": "x"}},
    )
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_ERROR"
    assert "Service Unavailable" not in error["message"] and "Traceback" not in str(body)


async def test_an_unreachable_upstream_is_unavailable(tmp_path: Any) -> None:
    settings = Settings(
        backend="upstream",
        upstream_url=f"http://127.0.0.1:{free_port()}",
        database=tmp_path / "x.db",
        upstream_max_attempts=2,
        upstream_backoff_base=0.001,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            body = await GraphQL(client).raw(
                'mutation { registerLivechatVisitor(input: {token: "t"}) { __typename } }'
            )
    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"


async def test_a_thousand_sends_under_twenty_percent_faults_are_each_stored_once(
    rocketchat: RocketChatServer, database: Any
) -> None:
    chance = random.Random(20261124)
    kinds = ["refuse", "reset", "slow", "503", "429"]

    def plan(request: httpx.Request) -> str | None:
        return chance.choice(kinds) if sends(request) and chance.random() < 0.2 else None

    budget = RetryBudget(max_attempts=8, backoff_base=0.001, backoff_cap=0.01, total_timeout=30)
    backend = await upstream(rocketchat, plan, budget)
    rooms = [await room_for(backend, f"visitor-{n}") for n in range(10)]
    gate = asyncio.Semaphore(16)

    async def send(n: int) -> str:
        async with gate:
            rid = rooms[n % 10]
            message = await backend.send_message(
                OutgoingMessage(token=f"visitor-{n % 10}", rid=rid, msg=f"message {n}")
            )
            return message.msg

    answered = await asyncio.gather(*(send(n) for n in range(1000)))
    assert sorted(answered) == sorted(f"message {n}" for n in range(1000))
    assert stored(database) == 1000
    injected = backend.transport.injected  # type: ignore[attr-defined]
    print(f"sent 1000, faults injected {sum(injected.values())} {dict(injected)}, "
          f"retries {backend.retries}, stored {stored(database)}, duplicates 0")  # fmt: skip
    assert sum(injected.values()) > 150
    await backend.aclose()
