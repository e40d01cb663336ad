"""Backends: one Protocol (`base.LivechatBackend`), two implementations picked by settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.backends.base import LivechatBackend
    from app.settings import Settings


async def make_backend(settings: Settings) -> LivechatBackend:
    """The one place that names both implementations; imports are lazy so each stays optional."""
    if settings.backend == "upstream":
        from app.backends.upstream.client import UpstreamBackend

        return UpstreamBackend.from_settings(settings)
    from app.backends.inprocess.service import InProcessBackend

    return await InProcessBackend.open(settings)
