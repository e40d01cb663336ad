from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.backends.base import LivechatBackend
from app.backends.inprocess.service import InProcessBackend
from app.main import create_app
from app.settings import Settings
from tests.helpers import CountingIds, SteppingClock, operation


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database=tmp_path / "livechat.db")


@pytest.fixture
async def backend(settings: Settings) -> AsyncIterator[InProcessBackend]:
    backend = await InProcessBackend.open(settings, clock=SteppingClock(), new_id=CountingIds())
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
        return Borrowed()  # type: ignore[return-value]

    return create_app(settings, backend_factory=factory)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


class GraphQL:
    """Posts operations from queries/ the way a client does."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def run(self, name: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = await self.raw(operation(name), variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def visitor(self, token: str = "visitor-token", **fields: Any) -> dict[str, Any]:
        data = await self.run("registerLivechatVisitor", {"input": {"token": token, **fields}})
        return data["registerLivechatVisitor"]  # type: ignore[no-any-return]

    async def room(self, token: str = "visitor-token", **fields: Any) -> dict[str, Any]:
        data = await self.run("openLivechatRoom", {"input": {"token": token, **fields}})
        return data["openLivechatRoom"]  # type: ignore[no-any-return]

    async def send(self, **fields: Any) -> dict[str, Any]:
        data = await self.run("sendLivechatMessage", {"input": fields})
        return data["sendLivechatMessage"]  # type: ignore[no-any-return]

    async def close(self, **fields: Any) -> dict[str, Any]:
        data = await self.run("closeLivechatRoom", {"input": fields})
        return data["closeLivechatRoom"]  # type: ignore[no-any-return]


@pytest.fixture
def graphql(client: httpx.AsyncClient) -> GraphQL:
    return GraphQL(client)
