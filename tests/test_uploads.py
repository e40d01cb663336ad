"""Uploads over the GraphQL multipart request spec, on every backend: the stored file message,
the download, Rocket.Chat's refusals, and nothing half-written left behind."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from tests.helpers import PREFLIGHT, GraphQL, operation, upload


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(out, format="PNG")
    return out.getvalue()


def _cookies(rid: str, token: str) -> dict[str, str]:
    """The visitor's cookies, as Rocket.Chat's widget sets them."""
    return {"Cookie": f"rc_rid={rid}; rc_token={token}; rc_room_type=l"}


async def _room(api: GraphQL, token: str = "upload-token") -> str:
    await api.visitor(token, name="Ann")
    return str((await api.room(token))["room"]["id"])


def _files(api: GraphQL) -> list[Path]:
    """What the in-process store behind the API keeps in its upload directory."""
    assert api.database is not None
    directory = api.database.with_name(api.database.name + ".files")
    return sorted(directory.iterdir()) if directory.exists() else []


async def test_an_image_is_stored_and_announced_as_a_file_message(api: GraphQL) -> None:
    rid = await _room(api)
    image = png()
    answer = await api.upload(
        ("screen.png", image, "image/png"),
        token="upload-token",
        rid=rid,
        description="my screen",
        msg="look",
    )
    assert answer["__typename"] == "UploadLivechatFileSuccess", answer
    message = answer["message"]
    file_id = message["file"]["id"]
    assert message["msg"] == "look"
    assert message["file"] == {
        "id": file_id,
        "name": "screen.png",
        "type": "image/png",
        "size": len(image),
    }
    assert message["files"] == [message["file"]]
    [attachment] = message["attachments"]
    url = f"/file-upload/{file_id}/screen.png"
    assert attachment["titleLink"] == url and attachment["imageUrl"] == url
    assert attachment["imageDimensions"] == {"width": 40, "height": 30}
    assert attachment["imageSize"] == len(image)
    assert attachment["description"] == "my screen"
    assert attachment["imagePreview"]
    preview = Image.open(io.BytesIO(__import__("base64").b64decode(attachment["imagePreview"])))
    assert preview.format == "JPEG" and max(preview.size) == 32
    # The same message in the history, and its bytes for the room's visitor.
    history = await api.run("livechatMessages", {"token": "upload-token", "rid": rid})
    assert history["livechatMessages"]["messages"][0] == message
    downloaded = await api.client.get(url, headers=_cookies(rid, "upload-token"))
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == image
    assert downloaded.headers["content-type"] == "image/png"
    assert downloaded.headers["x-content-type-options"] == "nosniff"
    assert downloaded.headers["content-security-policy"] == "sandbox"
    assert downloaded.headers["content-disposition"].startswith("inline")
    assert [path.name for path in _files(api)] == [file_id]


async def _upload(api: GraphQL, file: tuple[str, bytes, str], **fields: Any) -> dict[str, Any]:
    return await api.upload(file, **{"token": "upload-token", **fields})


TYPE_NOT_ALLOWED = ("FILE_TYPE_NOT_ALLOWED", "error-type-not-allowed")
UNAUTHORIZED = ("NOT_ALLOWED", "unauthorized")


def _error(answer: dict[str, Any]) -> tuple[str, str]:
    assert answer["__typename"] == "LivechatError", answer
    return answer["code"], answer["upstreamError"]


async def test_refusals_are_rocketchats_and_leave_nothing(api: GraphQL) -> None:
    rid = await _room(api)
    await api.visitor("other-token", name="Bob")
    other = str((await api.room("other-token"))["room"]["id"])
    svg = ("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
           "image/svg+xml")  # fmt: skip
    text = ("a.txt", b"hello", "text/plain")
    assert _error(await _upload(api, svg, rid=rid)) == (
        "FILE_TYPE_NOT_ALLOWED",
        "error-type-not-allowed",
    )
    assert _error(await _upload(api, text, rid=other)) == ("NOT_ALLOWED", "unauthorized")
    assert _error(await _upload(api, text, rid=rid, token="nobody")) == (
        "NOT_ALLOWED",
        "unauthorized",
    )
    await api.close(token="upload-token", rid=rid)
    assert _error(await _upload(api, text, rid=rid)) == ("NOT_ALLOWED", "unauthorized")
    assert _files(api) == []
    history = await api.run("livechatMessages", {"token": "upload-token", "rid": rid})
    assert [m["t"] for m in history["livechatMessages"]["messages"]] == ["livechat-close"]


@pytest.fixture
def small_uploads(monkeypatch: pytest.MonkeyPatch) -> int:
    """Every server the test starts takes files up to 64 KiB, of images and text only."""
    monkeypatch.setenv("LIVECHAT_GRAPHQL_FILE_UPLOAD_MAX_SIZE", "65536")
    monkeypatch.setenv("LIVECHAT_GRAPHQL_FILE_UPLOAD_MEDIA_TYPES", '["image/*", "text/plain"]')
    return 65536


async def test_size_and_allow_list(small_uploads: int, api: GraphQL) -> None:
    rid = await _room(api)
    big = ("big.txt", b"x" * (small_uploads + 1), "text/plain")
    assert _error(await _upload(api, big, rid=rid)) == ("FILE_TOO_LARGE", "error-file-too-large")
    pdf = ("a.pdf", b"%PDF-1.4", "application/pdf")
    assert _error(await _upload(api, pdf, rid=rid)) == (
        "FILE_TYPE_NOT_ALLOWED",
        "error-type-not-allowed",
    )
    assert _files(api) == []
    fits = ("fits.txt", b"x" * small_uploads, "text/plain")
    answer = await _upload(api, fits, rid=rid)
    assert answer["message"]["file"]["size"] == small_uploads
    assert len(_files(api)) == 1


@pytest.fixture
def uploads_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVECHAT_GRAPHQL_FILE_UPLOAD_ENABLED", "false")


async def test_uploads_switched_off(uploads_off: None, api: GraphQL) -> None:
    rid = await _room(api)
    answer = await _upload(api, ("a.txt", b"hello", "text/plain"), rid=rid)
    assert _error(answer) == ("UPLOAD_DISABLED", "error-file-upload-disabled")


async def test_a_multipart_request_needs_the_preflight_header(graphql: GraphQL) -> None:
    """A form post is what another site can make a browser send: refused without the header
    that forces a CORS preflight, and nothing runs."""
    rid = await _room(graphql)
    variables = {"input": {"token": "upload-token", "rid": rid}}
    refused = await upload(graphql.client, variables, ("a.txt", b"hi", "text/plain"), headers={})
    assert refused.status_code == 400
    assert "Cross-Site Request Forgery" in refused.json()["errors"][0]["message"]
    assert _files(graphql) == []
    other_header = {"X-Apollo-Operation-Name": "UploadLivechatFile"}
    taken = await upload(
        graphql.client, variables, ("a.txt", b"hi", "text/plain"), headers=other_header
    )
    assert taken.json()["data"]["uploadLivechatFile"]["__typename"] == "UploadLivechatFileSuccess"


async def test_a_file_must_be_a_file_part(graphql: GraphQL) -> None:
    rid = await _room(graphql)
    body = await graphql.raw(
        operation("uploadLivechatFile"),
        {"input": {"token": "upload-token", "rid": rid, "file": "not a file"}},
    )
    assert _error(body["data"]["uploadLivechatFile"]) == ("INVALID_PARAMS", "invalid-params")


async def test_malformed_multipart_requests_are_400(graphql: GraphQL) -> None:
    rid = await _room(graphql)
    variables = {"input": {"token": "upload-token", "rid": rid, "file": None}}
    ops = orjson.dumps({"query": operation("uploadLivechatFile"), "variables": variables}).decode()
    to_file = '{"0": ["variables.input.file"]}'
    cases = {
        "map first": {"map": to_file, "operations": ops},
        "map to nowhere": {"operations": ops, "map": '{"0": ["variables.nope.file"]}'},
        "two files": {"operations": ops, "map": '{"0": ["variables.input.file"], "1": []}'},
        "not json": {"operations": "{", "map": "{}"},
    }
    for name, data in cases.items():
        answer = await graphql.client.post(
            "/graphql", data=data, files={"0": ("a.txt", b"hi", "text/plain")}, headers=PREFLIGHT
        )
        assert answer.status_code == 400, name
        assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST", name
    assert _files(graphql) == []


async def test_deleting_a_file_message_deletes_its_file(api: GraphQL) -> None:
    rid = await _room(api)
    message = (await _upload(api, ("gone.txt", b"soon gone", "text/plain"), rid=rid))["message"]
    assert len(_files(api)) == 1
    deleted = await api.run(
        "deleteLivechatMessage",
        {"input": {"token": "upload-token", "rid": rid, "id": message["id"]}},
    )
    assert deleted["deleteLivechatMessage"]["__typename"] == "DeleteLivechatMessageSuccess"
    assert _files(api) == []
    url = message["attachments"][0]["titleLink"]
    assert (await api.client.get(url, headers=_cookies(rid, "upload-token"))).status_code == 403


async def test_removing_the_visitor_removes_their_files(api: GraphQL) -> None:
    """Rocket.Chat's "remove my data" deletes every room of the visitor with its files."""
    rid = await _room(api)
    message = (await _upload(api, ("mine.txt", b"my data", "text/plain"), rid=rid))["message"]
    assert len(_files(api)) == 1
    await api.close(token="upload-token", rid=rid)
    removed = await api.run("removeLivechatVisitor", {"input": {"token": "upload-token"}})
    assert removed["removeLivechatVisitor"]["__typename"] == "RemoveLivechatVisitorSuccess"
    assert _files(api) == []
    url = message["attachments"][0]["titleLink"]
    assert (await api.client.get(url, headers=_cookies(rid, "upload-token"))).status_code == 403
