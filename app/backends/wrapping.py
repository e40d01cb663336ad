"""A backend in front of another (input guards, rate limits): what is not an operation (health,
readiness, closing) is the inner backend's, passed through in one place."""

from __future__ import annotations

from collections.abc import Callable

from app.backends.base import JsonObject, LivechatBackend


class Wrapping:
    def __init__(self, inner: LivechatBackend) -> None:
        self.inner = inner

    def health(self) -> JsonObject:
        """What the inner backend reports for /healthz, if it reports anything."""
        report: Callable[[], JsonObject] | None = getattr(self.inner, "health", None)
        return report() if report is not None else {}

    async def readiness(self) -> str | None:
        return await self.inner.readiness()

    async def aclose(self) -> None:
        await self.inner.aclose()
