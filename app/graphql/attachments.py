"""The file a message carries and its attachments, typed from Rocket.Chat's documents.

Rocket.Chat stores attachments with snake_case keys (`title_link`, `image_url`...); the typed
fields read them, and `raw` keeps the whole attachment for what the types do not name.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.backends.base import JsonObject


@strawberry.type(description="An uploaded file (Rocket.Chat's `file` / `files[]`).")
class MessageFile:
    id: strawberry.ID = strawberry.field(description="The file's _id.")
    name: str = strawberry.field(description="The name it was uploaded with.")
    type: str | None = strawberry.field(description='Its media type, e.g. "image/png".')
    size: int | None = strawberry.field(description="Its size in bytes, when Rocket.Chat says.")

    @classmethod
    def from_json(cls, raw: JsonObject) -> MessageFile:
        return cls(
            id=strawberry.ID(str(raw.get("_id", ""))),
            name=str(raw.get("name", "")),
            type=_string(raw.get("type")),
            size=_int(raw.get("size")),
        )


@strawberry.type(description="An image's width and height in pixels.")
class ImageDimensions:
    width: int = strawberry.field(description="Pixels across.")
    height: int = strawberry.field(description="Pixels down.")


@strawberry.type(
    description="Rocket.Chat's message attachment, typed; `raw` keeps every field of it. Links "
    "to uploaded files (`titleLink`, `imageUrl`, `audioUrl`, `videoUrl`) are paths on this "
    "server (`/file-upload/<id>/<name>`) that it serves to the room's visitor: in-process from "
    "its own store, upstream by streaming the file from Rocket.Chat with the visitor's "
    "rc_rid/rc_token cookies."
)
class MessageAttachment:
    type: str | None = strawberry.field(description='"file" for an upload.')
    title: str | None = strawberry.field(description="The file's name.")
    title_link: str | None = strawberry.field(description="Where the file is downloaded.")
    title_link_download: bool | None = strawberry.field(
        description="Whether the link is meant as a download."
    )
    description: str | None = strawberry.field(description="What the uploader wrote about it.")
    text: str | None = strawberry.field(description="The attachment's text, if any.")
    image_url: str | None = strawberry.field(description="Where the image is served.")
    image_type: str | None = strawberry.field(description="The image's media type.")
    image_size: int | None = strawberry.field(description="The image's size in bytes.")
    image_dimensions: ImageDimensions | None = strawberry.field(
        description="Read from the image's header, when it could be."
    )
    image_preview: str | None = strawberry.field(
        description="A tiny blurred JPEG of the image, base64 (Rocket.Chat's preview)."
    )
    audio_url: str | None = strawberry.field(description="Where the audio is served.")
    audio_type: str | None = strawberry.field(description="The audio's media type.")
    audio_size: int | None = strawberry.field(description="The audio's size in bytes.")
    video_url: str | None = strawberry.field(description="Where the video is served.")
    video_type: str | None = strawberry.field(description="The video's media type.")
    video_size: int | None = strawberry.field(description="The video's size in bytes.")
    raw: JSON = strawberry.field(description="The attachment exactly as Rocket.Chat stores it.")

    @classmethod
    def from_json(cls, raw: JsonObject) -> MessageAttachment:
        dimensions = raw.get("image_dimensions")
        width = _int(dimensions.get("width")) if isinstance(dimensions, dict) else None
        height = _int(dimensions.get("height")) if isinstance(dimensions, dict) else None
        download = raw.get("title_link_download")
        return cls(
            type=_string(raw.get("type")),
            title=_string(raw.get("title")),
            title_link=_string(raw.get("title_link")),
            title_link_download=download if isinstance(download, bool) else None,
            description=_string(raw.get("description")),
            text=_string(raw.get("text")),
            image_url=_string(raw.get("image_url")),
            image_type=_string(raw.get("image_type")),
            image_size=_int(raw.get("image_size")),
            image_dimensions=ImageDimensions(width=width, height=height)
            if width is not None and height is not None
            else None,
            image_preview=_string(raw.get("image_preview")),
            audio_url=_string(raw.get("audio_url")),
            audio_type=_string(raw.get("audio_type")),
            audio_size=_int(raw.get("audio_size")),
            video_url=_string(raw.get("video_url")),
            video_type=_string(raw.get("video_type")),
            video_size=_int(raw.get("video_size")),
            raw=JSON(raw),
        )


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    """A whole number that fits GraphQL's Int (32 bits), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != int(value) or not -(2**31) <= value < 2**31:
        return None
    return int(value)
