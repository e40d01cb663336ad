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
from app.main import create_app
from app.settings import Settings
from tests.helpers import CountingIds, GraphQL, RocketChatServer, SteppingClock
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
    return Settings(database=tmp_path / "livechat.db")


@pytest.fixture
async def backend(settings: Settings) -> AsyncIterator[InProcessBackend]:
    backend = await inprocess_backend(settings, clock=SteppingClock(), new_id=CountingIds())
    yield backend
    await backend.aclose()


@pytest.fixture
def app(settings: Settings, backend: InProcessBackend) -> FastAPI:
    class Borrowed:
        """Hands the test's backend to the app without letting the app close it."""

        def __getattr__(self, name: str) -> Any:
            return getattr(backend, name)

        async def aclose(self) -> None:
            return None

    async def factory(_: Settings) -> LivechatBackend:
        return Borrowed()

    return create_app(settings, backend_factory=factory)


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
    settings = Settings(database=tmp_path / "rocketchat.db")

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


@pytest.fixture(params=["in-process", "upstream"])
def api(request: pytest.FixtureRequest) -> GraphQL:
    """The GraphQL API on each backend in turn: rules must hold the same on both."""
    name = "graphql" if request.param == "in-process" else "upstream_graphql"
    found: GraphQL = request.getfixturevalue(name)
    return found
