"""The observability that sits at the HTTP edge: `GET /metrics`, the middleware that makes the
app's metrics current for each request, and the server span of each request."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.trace import TracerProvider
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.observability.metrics import CURRENT, Metrics
from app.observability.tracing import Sampling, sampling, server_request_hook

# Probes and scrapes are not traffic: no span for them.
UNTRACED_PATHS = "healthz,readyz,metrics"


class CurrentMetrics:
    """Makes `metrics` the ones the hooks record to while a request (or socket) is served."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        # `Metrics.active()` without its generator: this runs for every request.
        token = CURRENT.set(self.metrics)
        try:
            await self.app(scope, receive, send)
        finally:
            CURRENT.reset(token)


def serve_metrics(app: FastAPI, metrics: Metrics) -> None:
    """`GET /metrics` in Prometheus' text format (`CurrentMetrics`, around the whole app,
    feeds it)."""

    @app.get("/metrics", include_in_schema=False)
    async def exposition(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)


def traced(app: ASGIApp, tracer_provider: TracerProvider) -> ASGIApp:
    """`app` with a server span per request, continuing the caller's `traceparent` if it
    sent one (see `ServerSpans`)."""
    decided = sampling(tracer_provider)
    if decided is Sampling.NEVER:
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    spans = OpenTelemetryMiddleware(
        app,
        tracer_provider=tracer_provider,
        excluded_urls=UNTRACED_PATHS,
        server_request_hook=server_request_hook,
        exclude_spans=["receive", "send"],
    )
    return ServerSpans(app, spans) if decided is Sampling.ASKED else spans


class ServerSpans:
    """Server spans with the sampler off unless the caller asks (`parentbased_always_off`,
    the way to have traces on in production at no cost): a request with no `traceparent`
    would get a span that records nothing, and building it (its attributes, the propagator,
    the wrapped `send`) costs a sixth of a request's CPU. Such a request is answered without
    it; one with a `traceparent` gets its span, sampled or not as the header says."""

    def __init__(self, untraced: ASGIApp, traced: ASGIApp) -> None:
        self.untraced = untraced
        self.traced = traced

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            for name, _ in scope["headers"]:  # a loop, not any(): this runs for every request
                if name == b"traceparent":
                    await self.traced(scope, receive, send)
                    return
        await self.untraced(scope, receive, send)
