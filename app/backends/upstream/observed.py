"""The upstream client's transport, observed: every attempt counted and timed by route and
status, and, when tracing is on, a client span per attempt with W3C `traceparent` sent along.

A transport wrapper sees what httpx's event hooks do not: attempts that end in an exception
(refused, timed out, reset), which are exactly the ones an operator needs to see.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from opentelemetry.trace import Span, TracerProvider

from app.backends.upstream.transport import DirectSend, Timeouts, direct_send, transport_fault
from app.observability import metrics
from app.observability.tracing import scrub_url_attributes


def failure_kind(error: Exception) -> str:
    """The attempt's label, from the upstream client's one mapping of its errors (the
    transport may name a refused connection a timeout: the mapping reads the cause)."""
    return transport_fault(error).kind


class MeteredTransport(httpx.AsyncBaseTransport):
    """Counts each attempt in the current `Metrics`, whatever its end."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if metrics.current() is None:
            return await self.inner.handle_async_request(request)
        method, path = request.method, request.url.path
        started = time.perf_counter()
        try:
            response = await self.inner.handle_async_request(request)
        except Exception as error:
            elapsed = time.perf_counter() - started
            metrics.observe_upstream_attempt(method, path, failure_kind(error), elapsed)
            raise
        elapsed = time.perf_counter() - started
        metrics.observe_upstream_attempt(method, path, str(response.status_code), elapsed)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def direct_through(self) -> DirectSend | None:
        """The inner transport's direct path (`transport.direct_send`), counted alike."""
        inner = direct_send(self.inner)
        if inner is None:
            return None

        async def metered(
            method: str,
            url: httpx.URL,
            headers: dict[str, str],
            content: bytes | None,
            timeouts: Timeouts,
        ) -> httpx.Response:
            if metrics.current() is None:
                return await inner(method, url, headers, content, timeouts)
            started = time.perf_counter()
            try:
                response = await inner(method, url, headers, content, timeouts)
            except Exception as error:
                elapsed = time.perf_counter() - started
                metrics.observe_upstream_attempt(method, url.path, failure_kind(error), elapsed)
                raise
            elapsed = time.perf_counter() - started
            metrics.observe_upstream_attempt(method, url.path, str(response.status_code), elapsed)
            return response

        return metered


async def _name_and_scrub(span: Span, request: Any) -> None:
    """Name the span by route template (`POST /api/v1/livechat/message`), drop query values."""
    if span.is_recording():
        method = request.method.decode() if isinstance(request.method, bytes) else request.method
        span.update_name(metrics.upstream_route(method, httpx.URL(request.url).path))
        scrub_url_attributes(span)


def observed(
    inner: httpx.AsyncBaseTransport, tracer_provider: TracerProvider | None = None
) -> httpx.AsyncBaseTransport:
    """`inner` with metrics, and with client spans when a tracer provider is given."""
    transport: httpx.AsyncBaseTransport = MeteredTransport(inner)
    if tracer_provider is not None:
        from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport

        transport = AsyncOpenTelemetryTransport(
            transport, tracer_provider=tracer_provider, request_hook=_name_and_scrub
        )
    return transport
