"""Uploaded files on disk, beside the database, and what Rocket.Chat says of them in a message.

A file is written while it arrives to `<directory>/<id>.part`, then synced and renamed to
`<directory>/<id>` (its name is only ever data: a row in SQLite, never a path). The row and its
message are committed together after the rename; a refusal, a client that leaves or a failed
commit removes the file. A process killed in between leaves a `.part` file or a file without a
row: `sweep` removes both when the backend starts, so nothing half-written outlives a crash.

Images get Rocket.Chat's attachment fields: dimensions read by Pillow from the file's header
(Image.open decodes no pixels), and the preview Rocket.Chat's `resizeImagePreview` makes (a
blurred JPEG fitting 32x32, base64), decoded at reduced scale where the format allows (JPEG's
draft mode) and not at all past a pixel budget.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from PIL import Image, ImageFilter

from app.backends.base import FileTooLarge, FileTypeNotAllowed, JsonObject
from app.backends.rocketchat_json import file_url

log = logging.getLogger("app.inprocess.files")

WRITE_BUFFER = 1 << 20  # bytes gathered before one write in a worker thread
PREVIEW_SIZE = (32, 32)
# Images past this many pixels get dimensions but no preview (no decode of a huge image).
PREVIEW_MAX_PIXELS = 50_000_000
PART_SUFFIX = ".part"


def media_type_allowed(media_type: str, allowed: Iterable[str], blocked: Iterable[str]) -> bool:
    """Rocket.Chat's fileUploadIsValidContentType: the block list wins; an empty allow list
    allows everything; `type/*` matches every subtype."""

    def matches(patterns: Iterable[str]) -> bool:
        kind = media_type.split("/", 1)[0]
        return any(
            pattern.strip().lower() in (media_type, f"{kind}/*") for pattern in patterns if pattern
        )

    allow = [pattern for pattern in allowed if pattern.strip()]
    if matches(blocked):
        return False
    return not allow or matches(allow)


@dataclass(frozen=True)
class ImageFacts:
    width: int
    height: int
    preview: str | None


def identify_image(path: Path) -> ImageFacts | None:
    """Dimensions from the header and Rocket.Chat's preview; None when Pillow cannot read it."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > PREVIEW_MAX_PIXELS:
                return ImageFacts(width, height, None)
            image.draft("RGB", (PREVIEW_SIZE[0] * 2, PREVIEW_SIZE[1] * 2))
            image.thumbnail(PREVIEW_SIZE)
            preview = image.convert("RGB").filter(ImageFilter.GaussianBlur(0.5))
            out = io.BytesIO()
            preview.save(out, format="JPEG")
            return ImageFacts(width, height, base64.b64encode(out.getvalue()).decode())
    except Exception as error:
        log.info("no image facts for %s: %s", path.name, error)
        return None


def attachment(
    file_id: str,
    name: str,
    media_type: str,
    size: int,
    description: str | None,
    image: ImageFacts | None,
) -> JsonObject:
    """The attachment Rocket.Chat's sendFileLivechatMessage builds for a file."""
    url = file_url(file_id, name)
    built: JsonObject = {"title": name, "type": "file"}
    if description is not None:
        built["description"] = description
    built.update({"title_link": url, "title_link_download": True})
    if media_type.startswith("image/"):
        built.update({"image_url": url, "image_type": media_type, "image_size": size})
        if image is not None:
            built["image_dimensions"] = {"width": image.width, "height": image.height}
            if image.preview is not None:
                built["image_preview"] = image.preview
    elif media_type.startswith("audio/"):
        built.update({"audio_url": url, "audio_type": media_type, "audio_size": size})
    elif media_type.startswith("video/"):
        built.update({"video_url": url, "video_type": media_type, "video_size": size})
    return built


@dataclass
class FileStore:
    """The upload directory and the rules Rocket.Chat's settings give uploads."""

    directory: Path
    enabled: bool = True
    limit: int | None = 104_857_600
    allowed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=lambda: ["image/svg+xml"])

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, file_id: str) -> Path:
        return self.directory / file_id

    def check_type(self, media_type: str) -> None:
        if not media_type_allowed(media_type, self.allowed, self.blocked):
            raise FileTypeNotAllowed

    async def receive(self, file_id: str, chunks: AsyncIterator[bytes]) -> int:
        """Write the file as it arrives; answers its size once it is whole, synced and in
        place. On any failure (over the limit, the client gone) nothing of it is left."""
        part = self.directory / f"{file_id}{PART_SUFFIX}"
        handle: IO[bytes] = await asyncio.to_thread(part.open, "xb")
        size = 0
        try:
            buffer = bytearray()
            async for chunk in chunks:
                size += len(chunk)
                if self.limit is not None and size > self.limit:
                    raise FileTooLarge
                buffer += chunk
                if len(buffer) >= WRITE_BUFFER:
                    await asyncio.to_thread(handle.write, bytes(buffer))
                    buffer.clear()
            await asyncio.to_thread(_finish, handle, bytes(buffer), part, self.path(file_id))
        except BaseException:
            await asyncio.to_thread(_discard, handle, part)
            raise
        return size

    async def remove(self, file_id: str) -> None:
        await asyncio.to_thread(self.path(file_id).unlink, missing_ok=True)

    def sweep(self, kept: set[str]) -> list[str]:
        """Remove what a crash left: `.part` files and files with no stored row. Answers the
        names removed."""
        removed = []
        for entry in self.directory.iterdir():
            if entry.is_file() and (entry.name.endswith(PART_SUFFIX) or entry.name not in kept):
                entry.unlink(missing_ok=True)
                removed.append(entry.name)
        if removed:
            log.warning("removed %d unfinished upload(s) from %s", len(removed), self.directory)
        return removed


def _finish(handle: IO[bytes], rest: bytes, part: Path, final: Path) -> None:
    handle.write(rest)
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    part.rename(final)
    with contextlib.suppress(OSError):  # the rename itself made durable
        directory = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _discard(handle: IO[bytes], part: Path) -> None:
    with contextlib.suppress(OSError):
        handle.close()
    part.unlink(missing_ok=True)
