"""GET /file-upload/{id}/{name}: only the room's visitor gets a file, and no file can attack
the page that shows it or the server that keeps it. On every backend (upstream: streamed from
the Rocket.Chat behind with the visitor's cookies)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers import GraphQL


def _cookies(rid: str, token: str) -> dict[str, str]:
    return {"Cookie": f"rc_rid={rid}; rc_token={token}; rc_room_type=l"}


async def _room(api: GraphQL, token: str) -> str:
    await api.visitor(token, name=token)
    return str((await api.room(token))["room"]["id"])


async def _stored(api: GraphQL, rid: str, name: str, body: bytes, kind: str) -> dict[str, Any]:
    answer = await api.upload((name, body, kind), token="owner", rid=rid)
    assert answer["__typename"] == "UploadLivechatFileSuccess", answer
    return answer["message"]  # type: ignore[no-any-return]


@pytest.fixture
def svg_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """SVG is blocked by default; allowed here to show it is still harmless when served."""
    monkeypatch.setenv("LIVECHAT_GRAPHQL_FILE_UPLOAD_BLOCKED_MEDIA_TYPES", "[]")


async def test_only_the_rooms_visitor_gets_the_file(api: GraphQL) -> None:
    rid = await _room(api, "owner")
    other = await _room(api, "stranger")
    message = await _stored(api, rid, "secret.txt", b"top secret", "text/plain")
    url = message["attachments"][0]["titleLink"]
    get = api.client.get
    assert (await get(url, headers=_cookies(rid, "owner"))).content == b"top secret"
    # The same as query parameters (Rocket.Chat's other way).
    assert (await get(url, params={"rc_rid": rid, "rc_token": "owner"})).status_code == 200
    # Another visitor, even naming a room of their own (Rocket.Chat alone would let that by).
    for headers in (_cookies(other, "stranger"), _cookies(rid, "stranger"), {}):
        refused = await get(url, headers=headers)
        assert refused.status_code == 403, headers
        assert b"top secret" not in refused.content
    assert (
        await get("/file-upload/nope/secret.txt", headers=_cookies(rid, "owner"))
    ).status_code == 403
    # After the room closes, its visitor still reads its files (Rocket.Chat: open or closed).
    await api.close(token="owner", rid=rid)
    assert (await get(url, headers=_cookies(rid, "owner"))).content == b"top secret"


async def test_range_requests_are_passed_through(api: GraphQL) -> None:
    rid = await _room(api, "owner")
    body = bytes(range(256)) * 64
    message = await _stored(api, rid, "data.bin", body, "application/octet-stream")
    url = message["attachments"][0]["titleLink"]
    part = await api.client.get(url, headers={**_cookies(rid, "owner"), "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == body[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(body)}"
    assert part.headers["content-length"] == "100"


HOSTILE_NAMES = [
    "../../../etc/passwd",
    "..",
    "a\x00b.txt",
    "line\r\nSet-Cookie: x=1.txt",
    'quote"; filename="evil.html',
    "é ü 日本.txt",
    "x" * 250 + ".txt",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
async def test_a_files_name_is_only_text(api: GraphQL, name: str) -> None:
    """Stored by id: the name never reaches the file system, and the download's header quotes
    it (RFC 6266 / 5987) so that it cannot end the header or add another."""
    rid = await _room(api, "owner")
    message = await _stored(api, rid, name, b"payload", "text/plain")
    file = message["file"]
    if name.isprintable() and '"' not in name:  # the client escapes these in its form
        assert file["name"] == name
    url = message["attachments"][0]["titleLink"]
    assert url.startswith(f"/file-upload/{file['id']}/")
    assert quote(file["name"], safe="").strip(".") in url
    got = await api.client.get(url, headers=_cookies(rid, "owner"))
    assert got.status_code == 200 and got.content == b"payload"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment; filename")
    assert "\r" not in disposition and "\n" not in disposition and "\x00" not in disposition
    assert "set-cookie" not in got.headers
    assert disposition.count('"') in (0, 2)
    assert await _files_of(api) == [file["id"]]


async def _files_of(api: GraphQL) -> list[str]:
    """The upload directory behind the API: files named by id, nothing else."""
    assert api.database is not None
    directory = api.database.with_name(api.database.name + ".files")
    return sorted(path.name for path in directory.iterdir())


async def test_a_name_longer_than_any_file_system_takes_is_refused(api: GraphQL) -> None:
    rid = await _room(api, "owner")
    answer = await api.upload(("x" * 300 + ".txt", b"x", "text/plain"), token="owner", rid=rid)
    assert answer["__typename"] == "LivechatError"
    assert answer["code"] == "INVALID_PARAMS"
    assert await _files_of(api) == []


@pytest.mark.parametrize(
    ("name", "kind", "disposition"),
    [
        ("page.html", "text/html", "attachment"),
        ("image.svg", "image/svg+xml", "attachment"),
        ("script.js", "application/javascript", "attachment"),
        ("fake.png", "text/html; charset=utf-8", "attachment"),
        ("photo.png", "image/png", "inline"),
        ("clip.mp4", "video/mp4", "inline"),
        ("voice.ogg", "audio/ogg", "inline"),
    ],
)
async def test_nothing_served_runs_as_a_page(
    svg_allowed: None, api: GraphQL, name: str, kind: str, disposition: str
) -> None:
    """HTML, SVG and scripts are attachments, every answer is nosniff and sandboxed: an
    uploaded page never runs with this origin's cookies and storage."""
    rid = await _room(api, "owner")
    body = b"<html><script>fetch('/graphql')</script></html>"
    message = await _stored(api, rid, name, body, kind)
    got = await api.client.get(
        message["attachments"][0]["titleLink"], headers=_cookies(rid, "owner")
    )
    assert got.status_code == 200
    assert got.headers["content-disposition"].split(";")[0] == disposition
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "sandbox"
    assert got.headers["content-length"] == str(len(body))
