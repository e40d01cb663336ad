"""Which request headers reach the upstream server: the allow-list, and a request id."""

from __future__ import annotations

from typing import Any

import httpx

from app.backends.upstream.client import UpstreamBackend
from app.main import create_app
from app.settings import Settings
from tests.faults import FaultyTransport
from tests.helpers import RocketChatServer

REGISTER = 'mutation { registerLivechatVisitor(input: {token: "t"}) { __typename } }'


async def test_only_allowed_headers_and_the_request_id_are_forwarded(
    rocketchat: RocketChatServer, tmp_path: Any
) -> None:
    seen: list[httpx.Headers] = []

    def record(request: httpx.Request) -> None:
        seen.append(request.headers)

    settings = Settings(backend="upstream", upstream_url=rocketchat.url, database=tmp_path / "x.db")

    async def factory(settings: Settings) -> UpstreamBackend:
        client = httpx.AsyncClient(base_url=rocketchat.url, transport=FaultyTransport(record))
        return UpstreamBackend(client, forward_headers=tuple(settings.forward_headers))

    app = create_app(settings, backend_factory=factory)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            answer = await client.post(
                "/graphql",
                json={"query": REGISTER},
                headers={
                    "X-Auth-Token": "secret-token",
                    "X-User-Id": "user-1",
                    "Accept-Language": "pt-BR",
                    "Cookie": "session=do-not-forward",
                    "Authorization": "Bearer do-not-forward",
                    "X-Request-Id": "trace-123",
                },
            )
    assert answer.json()["data"]["registerLivechatVisitor"]["__typename"] == (
        "RegisterLivechatVisitorSuccess"
    )
    [headers] = seen
    assert headers["x-auth-token"] == "secret-token"
    assert headers["x-user-id"] == "user-1"
    assert headers["accept-language"] == "pt-BR"
    assert headers["x-request-id"] == "trace-123"
    assert "cookie" not in headers and "authorization" not in headers


async def test_a_request_id_that_is_not_a_plain_token_is_replaced(
    rocketchat: RocketChatServer, tmp_path: Any
) -> None:
    seen: list[httpx.Headers] = []
    settings = Settings(backend="upstream", upstream_url=rocketchat.url, database=tmp_path / "x.db")

    async def factory(settings: Settings) -> UpstreamBackend:
        transport = FaultyTransport(lambda request: seen.append(request.headers))
        return UpstreamBackend(httpx.AsyncClient(base_url=rocketchat.url, transport=transport))

    app = create_app(settings, backend_factory=factory)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            await client.post(
                "/graphql",
                json={"query": REGISTER},
                headers={"X-Request-Id": "evil id; with spaces"},
            )
    assert seen[0]["x-request-id"] != "evil id; with spaces"
    assert len(seen[0]["x-request-id"]) == 32
