"""Rocket.Chat's own upload route on the in-process server (what the upstream backend, or
Rocket.Chat's widget, calls): its bodies and refusals, and the file message on the DDP stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.settings import Settings
from tests.servers import serving
from tests.test_ddp import ddp, visitor_with_room


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(Settings(database=tmp_path / "route.db"))


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serving(app) as url:
        yield url


async def test_the_upload_route_answers_as_rocketchat_and_the_stream_carries_the_file(
    server: str,
) -> None:
    async with httpx.AsyncClient(base_url=server) as http, ddp(server) as client:
        rid = await visitor_with_room(http, "route-visitor")
        await client.connect()
        await client.sub("m", "stream-room-messages", rid, "route-visitor")
        assert await client.frame() == {"msg": "ready", "subs": ["m"]}

        form = {"description": "a log", "msg": "here"}
        file = {"file": ("log.txt", b"line 1\nline 2\n", "text/plain")}
        url = f"/api/v1/livechat/upload/{rid}"
        no_header = await http.post(url, data=form, files=file)
        assert (no_header.status_code, no_header.json()) == (
            403, {"success": False, "error": "unauthorized"},
        )  # fmt: skip
        wrong_field = await http.post(
            url, files={"document": file["file"]}, headers={"x-visitor-token": "route-visitor"}
        )
        assert wrong_field.json()["error"] == "invalid-field"
        svg = await http.post(
            url,
            files={"file": ("x.svg", b"<svg/>", "image/svg+xml")},
            headers={"x-visitor-token": "route-visitor"},
        )
        assert (svg.status_code, svg.json()) == (
            400, {"success": False, "reason": "error-type-not-allowed"},
        )  # fmt: skip

        answer = await http.post(
            url, data=form, files=file, headers={"x-visitor-token": "route-visitor"}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["success"] is True and body["newRoom"] is False
        assert body["msg"] == "here" and body["rid"] == rid
        file_id = body["file"]["_id"]
        assert body["file"] == {"_id": file_id, "name": "log.txt", "type": "text/plain", "size": 14}
        assert body["attachments"] == [
            {
                "title": "log.txt",
                "type": "file",
                "description": "a log",
                "title_link": f"/file-upload/{file_id}/log.txt",
                "title_link_download": True,
            }
        ]
        changed = await client.frame()
        [message] = changed["fields"]["args"]
        assert message["_id"] == body["_id"]
        assert message["file"] == body["file"] and message["files"] == [body["file"]]
        assert message["attachments"] == body["attachments"]


async def test_a_cross_site_upload_is_preflighted_and_then_allowed(tmp_path: Path) -> None:
    """The preflight a browser makes for the CSRF header is answered for allowed origins, and
    the upload that follows carries the CORS headers: a widget on another origin can upload."""
    origin = "https://widget.example.com"
    app = create_app(Settings(database=tmp_path / "cors.db", cors_origins=[origin]))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            preflight = await http.options(
                "/graphql",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "apollo-require-preflight",
                },
            )
            assert preflight.status_code == 200
            allowed = preflight.headers["access-control-allow-headers"].lower()
            assert "apollo-require-preflight" in allowed
            form = {"operations": '{"query": "{ __typename }"}', "map": "{}"}
            answer = await http.post(
                "/graphql",
                data=form,
                files={"x": ("x.txt", b"", "text/plain")},
                headers={"Origin": origin, "Apollo-Require-Preflight": "true"},
            )
            assert answer.json() == {"data": {"__typename": "Query"}}
            assert answer.headers["access-control-allow-origin"] == origin
