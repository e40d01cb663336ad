"""The upstream client's transport, observed: every attempt counted and timed by route and
status, and, when tracing is on, a client span per attempt with W3C `traceparent` sent along.

A transport wrapper sees what httpx's event hooks do not: attempts that end in an exception
(refused, timed out, reset), which are exactly the ones an operator needs to see.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

import httpx
from opentelemetry.trace import Span, TracerProvider, get_current_span

from app.backends.upstream.transport import DirectSend, Timeouts, direct_send, transport_fault
from app.observability import metrics
from app.observability.tracing import Sampling, sampling, scrub_url_attributes


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
        attempt = self.inner.handle_async_request(request)
        return await _counted(request.method, request.url.path, attempt)

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
            attempt = inner(method, url, headers, content, timeouts)
            if metrics.current() is None:
                return await attempt
            return await _counted(method, url.path, attempt)

        return metered


async def _counted(method: str, path: str, attempt: Awaitable[httpx.Response]) -> httpx.Response:
    """`attempt`'s answer, counted and timed by its status, or its failure by kind."""
    started = time.perf_counter()
    try:
        response = await attempt
    except Exception as error:
        elapsed = time.perf_counter() - started
        metrics.observe_upstream_attempt(method, path, failure_kind(error), elapsed)
        raise
    elapsed = time.perf_counter() - started
    metrics.observe_upstream_attempt(method, path, str(response.status_code), elapsed)
    return response


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
    decided = sampling(tracer_provider) if tracer_provider is not None else Sampling.NEVER
    if decided is Sampling.NEVER:
        return transport
    from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport

    spans = AsyncOpenTelemetryTransport(
        transport, tracer_provider=tracer_provider, request_hook=_name_and_scrub
    )
    return InTracesOnly(transport, spans) if decided is Sampling.ASKED else spans


class InTracesOnly(httpx.AsyncBaseTransport):
    """Client spans only within a request's trace, when the sampler traces only callers who
    ask (`parentbased_always_off`): outside one (the server span was skipped, see
    `app.observability.http.ServerSpans`), a client span would be a root the sampler drops,
    built for nothing."""

    def __init__(self, untraced: httpx.AsyncBaseTransport, traced: httpx.AsyncBaseTransport):
        self.untraced = untraced
        self.traced = traced

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if get_current_span().get_span_context().is_valid:
            return await self.traced.handle_async_request(request)
        return await self.untraced.handle_async_request(request)

    def direct_through(self) -> DirectSend | None:
        """The untraced transport's direct path for calls outside a trace; within one, the
        request httpx would build, through the tracing transport, read whole."""
        untraced = direct_send(self.untraced)
        if untraced is None:
            return None
        traced = self.traced

        async def sent(
            method: str,
            url: httpx.URL,
            headers: dict[str, str],
            content: bytes | None,
            timeouts: Timeouts,
        ) -> httpx.Response:
            if not get_current_span().get_span_context().is_valid:
                return await untraced(method, url, headers, content, timeouts)
            request = httpx.Request(
                method, url, headers=headers, content=content, extensions={"timeout": timeouts}
            )
            response = await traced.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
            return response

        return sent

    async def aclose(self) -> None:
        await self.traced.aclose()  # it closes what it wraps, `untraced`
