"""Uploads over the GraphQL multipart request spec, on every backend: the stored file message,
the download, Rocket.Chat's refusals, and nothing half-written left behind."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tests.helpers import GraphQL


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
