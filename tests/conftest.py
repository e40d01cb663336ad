from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from fastapi import FastAPI

from app.backends import inprocess_backend, upstream_backend
from app.backends.base import LivechatBackend
from app.backends.inprocess.service import InProcessBackend
from app.main import LivechatApp, create_app
from app.settings import Settings
from tests.helpers import (
    WIDGET_SETTINGS,
    CountingIds,
    GraphQL,
    RocketChatServer,
    SteppingClock,
)
from tests.servers import serving

hypothesis.settings.register_profile("long", max_examples=20_000, deadline=None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--load-sends",
        type=int,
        default=25,
        help="sends per client in tests/test_load.py (64 clients); 100 for the full run",
    )
    parser.addoption(
        "--markdown-seed",
        type=int,
        default=random.randrange(2**32),
        help="seed of tests/test_markdown_differential.py's messages (default: a fresh one)",
    )
    parser.addoption(
        "--markdown-messages",
        type=int,
        default=20_000,
        help="messages tests/test_markdown_differential.py compares with the reference parser",
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database=tmp_path / "livechat.db", **WIDGET_SETTINGS)


@pytest.fixture
async def backend(settings: Settings) -> AsyncIterator[InProcessBackend]:
    backend = await inprocess_backend(settings, clock=SteppingClock(), new_id=CountingIds())
    yield backend
    await backend.aclose()


REQUEST_PATHS = ("front-door", "view")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses the app (through `client` or `graphql` too) runs once per request
    path, as Strawberry's tests/http run one suite over every integration."""
    if "request_path" in metafunc.fixturenames:
        metafunc.parametrize("request_path", REQUEST_PATHS)


@pytest.fixture
def request_path(request: pytest.FixtureRequest) -> str:
    """Which path answers a POST to /graphql: the front door's lean path, or FastAPI and
    Strawberry's view. Parametrised above; a test that reaches the app through `api` gets it
    from api's own parameter."""
    callspec = getattr(request.node, "callspec", None)
    api = callspec.params.get("api") if callspec is not None else None
    return "view" if api == "in-process-view" else "front-door"


@pytest.fixture
def app(request_path: str, settings: Settings, backend: InProcessBackend) -> FastAPI:
    """The app on the test's backend, as served (`front-door`) or with its front door removed
    (`view`: every request through FastAPI and Strawberry's view)."""

    class Borrowed:
        """Hands the test's backend to the app without letting the app close it."""

        def __getattr__(self, name: str) -> Any:
            return getattr(backend, name)

        async def aclose(self) -> None:
            return None

    async def factory(_: Settings) -> LivechatBackend:
        return Borrowed()

    app = create_app(settings, backend_factory=factory)
    assert isinstance(app, LivechatApp)
    if request_path == "view":
        app.front = None
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
def graphql(client: httpx.AsyncClient, settings: Settings) -> GraphQL:
    return GraphQL(client, settings.database)


@pytest.fixture
def rocketchat(tmp_path: Path) -> Iterator[RocketChatServer]:
    ids, clock = CountingIds(), SteppingClock()
    settings = Settings(database=tmp_path / "rocketchat.db", **WIDGET_SETTINGS)

    async def factory(settings: Settings) -> LivechatBackend:
        return await inprocess_backend(settings, clock=clock, new_id=ids)

    with serving(create_app(settings, backend_factory=factory)) as url:
        yield RocketChatServer(url, ids)


@pytest.fixture
def upstream_url(rocketchat: RocketChatServer, tmp_path: Path) -> Iterator[str]:
    """The GraphQL API in upstream mode, forwarding to `rocketchat`, on a real port.

    It shares the id generator of the server behind it, so that ids come out in the same
    order as on the in-process backend and snapshots can be compared."""
    settings = Settings(
        backend="upstream", upstream_url=rocketchat.url, database=tmp_path / "unused.db"
    )

    async def factory(settings: Settings) -> LivechatBackend:
        return upstream_backend(settings, new_id=rocketchat.ids)

    with serving(create_app(settings, backend_factory=factory)) as url:
        yield url


@pytest.fixture
async def upstream_graphql(upstream_url: str, tmp_path: Path) -> AsyncIterator[GraphQL]:
    async with httpx.AsyncClient(base_url=upstream_url) as client:
        yield GraphQL(client, tmp_path / "rocketchat.db")


@pytest.fixture(params=["in-process", "in-process-view", "upstream"])
def api(request: pytest.FixtureRequest) -> GraphQL:
    """The GraphQL API on each backend in turn, the in-process one on both request paths:
    rules must hold the same on all."""
    name = "upstream_graphql" if request.param == "upstream" else "graphql"
    found: GraphQL = request.getfixturevalue(name)
    return found
