"""The ASGI app: `create_app(settings)` wires settings, backend and schema.

The lifespan owns the backend: made on startup, closed on shutdown. Importing this module
builds nothing: `app.main:app` (what `uvicorn app.main:app` serves) is made from the
environment's settings on first use, so a process that builds its own app (`livechat-graphql
serve`, the exports, the tests) has one app and one tracer provider.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace import TracerProvider
from starlette.requests import HTTPConnection
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import logs, request_scope
from app.backends import make_backend
from app.backends.base import LivechatBackend
from app.backends.guarded import GuardedBackend
from app.downloads import download_route
from app.front import Front
from app.graphql.context import Context, request_context
from app.graphql.errors import ERROR_CODES
from app.graphql.ide import STATIC_PATH, OfflineGraphQLRouter, static_files
from app.graphql.limits import RequestLimits
from app.graphql.observers import GraphQLSpans, OperationMetrics
from app.graphql.persisted import document_cache
from app.graphql.schema import Schema, make_schema
from app.middleware import BodySizeLimit, CrossOrigin, JsonErrors, RequestScope
from app.observability import http as observability
from app.observability.http import CurrentMetrics
from app.observability.metrics import Metrics
from app.observability.tracing import provider_from_environment
from app.persisted_queries import PersistedQueries
from app.settings import Settings
from app.uploads import PREFLIGHT_HEADERS, GraphQLUploads, bounded_by_upload_limit
from app.widget import BUNDLE, mount_widget, where_the_widget_is

BackendFactory = Callable[[Settings], Awaitable[LivechatBackend]]

log = logging.getLogger("app.main")


# Net new container objects between young collections (Python's default is 700). A request
# in flight holds a few thousand; with 32 at once the count crossed 700 again and again while
# nothing was garbage, and the young collections that followed were a tenth of a send's CPU.
# Requests leave no cycles (app/graphql/execution.py frees each executor by its reference
# count), so the collector has little to find, and 10,000 young objects are a few MiB. Set by
# the app as it starts, so that every way of serving it (`serve`, its workers, `uvicorn
# app.main:app`) gets it.
YOUNG_COLLECTION_THRESHOLD = 10_000


def collect_less() -> None:
    """The cyclic collector's young-generation threshold for a serving process."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


def request_limits(settings: Settings) -> RequestLimits:
    """What one document may cost, from the settings."""
    return RequestLimits(
        max_depth=settings.max_depth,
        max_markdown_depth=settings.max_markdown_depth,
        max_introspection_depth=settings.max_introspection_depth,
        max_aliases=settings.max_aliases,
        max_root_fields=settings.max_root_fields,
        max_tokens=settings.max_tokens,
        max_cost=settings.max_cost,
        max_answer_bytes=settings.max_answer_bytes,
        max_field_repeats=settings.max_field_repeats,
    )


def served_schema(settings: Settings, observers: Sequence[object] = ()) -> Schema:
    """The schema the app serves for these settings: the CLI's exports and the tests use it.
    `observers` are the extensions that watch operations (metrics, traces)."""
    return make_schema(
        request_limits(settings),
        production=settings.production,
        observers=observers,
        document_cache_bytes=settings.document_cache_bytes - apq_bytes(settings),
    )


def apq_bytes(settings: Settings) -> int:
    """The persisted queries' share of `DOCUMENT_CACHE_BYTES`: a quarter (they keep texts; the
    parsed documents, with their validation and plans, take the rest)."""
    return settings.document_cache_bytes // 4


def where_to_go(settings: Settings) -> str:
    """The startup line: the URL to open, and what answers behind it."""
    url = f"http://{settings.host}:{settings.port}/graphql"
    if settings.backend == "upstream":
        behind = f"upstream, Rocket.Chat at {settings.upstream_url}"
    else:
        database = str(settings.database)
        shown = database if database.startswith(("/", ".")) else f"./{database}"
        behind = f"in-process, SQLite at {shown}"
    return f"{'GraphQL' if settings.production else 'GraphiQL'}: {url} ({behind})"


def tracer_provider_for(settings: Settings) -> TracerProvider | None:
    """The process's tracer provider when OTEL_* turn tracing on (also made global, so the
    upstream client's spans find it). OpenTelemetry sets the global provider once per process
    and refuses a second: an app built after the first uses the provider already there."""
    kind = settings.tracing_exporter()
    if kind is None:
        return None
    from opentelemetry import trace

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = provider_from_environment(kind, settings.otel_service_name)
    trace.set_tracer_provider(provider)
    return provider


Wrapper = Callable[[ASGIApp], ASGIApp]


class LivechatApp(FastAPI):
    """FastAPI, with the front door (`app.front.Front`) in front of all of it (its per-request
    telemetry check and its middleware stack included): the requests clients send most are
    answered there, everything else by FastAPI as usual. Around the door, what every request
    needs whichever way it is answered (`edge`, innermost first: the current metrics, the
    server span, CORS): one entrance. Outside everything, when proxies are trusted, uvicorn's
    `ProxyHeadersMiddleware` makes the scope's client the visitor they forward for (the
    address `app.request_scope` reads, and the server span records)."""

    front: Wrapper | None = None
    edge: Sequence[Wrapper] = ()
    trusted_proxies: Sequence[str] = ()
    _entrance: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._entrance is None:
            entrance: ASGIApp = partial(FastAPI.__call__, self)
            if self.front is not None:
                entrance = self.front(entrance)
            for wrap in self.edge:
                entrance = wrap(entrance)
            if self.trusted_proxies:
                # uvicorn types its ASGI apps more narrowly than Starlette; the same protocol.
                proxied = ProxyHeadersMiddleware(cast(Any, entrance), list(self.trusted_proxies))
                entrance = cast(ASGIApp, proxied)
            self._entrance = entrance
        scope["app"] = self  # as Starlette does, for the front's routes and backend
        await self._entrance(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    backend_factory: BackendFactory = make_backend,
    tracer_provider: TracerProvider | None = None,
    widget_bundle: Path = BUNDLE,
) -> FastAPI:
    """Build the app; the backend is made on startup and closed on shutdown. Metrics and
    traces are on when settings say so (a test may hand its own `tracer_provider`, and the
    folder of its own widget bundle)."""
    settings = settings or Settings()
    metrics = Metrics(ERROR_CODES) if settings.metrics else None
    tracer_provider = tracer_provider or tracer_provider_for(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if metrics is not None:
            metrics.activate()  # what the backend starts records to this app's metrics
        backend = GuardedBackend(await backend_factory(settings))
        app.state.backend = backend
        # What exists now (schema, modules, tables) lives as long as the process: keep it out
        # of the cyclic collector's full passes, which otherwise walk it again and again.
        gc.freeze()
        collect_less()
        log.info(where_to_go(settings))
        if not settings.production:
            log.info(where_the_widget_is(settings.host, settings.port, widget_bundle))
        # With several workers, other workers' scrapes read this one's counts from its files.
        flushing = (
            asyncio.create_task(metrics.flush_every())
            if metrics is not None and metrics.shared
            else None
        )
        try:
            yield
        finally:
            if flushing is not None:
                flushing.cancel()
            if metrics is not None:
                metrics.flush()
            await backend.aclose()
            if tracer_provider is not None:
                tracer_provider.force_flush()

    app = LivechatApp(
        # The server span, GraphQL spans and Prometheus metrics are this app's telemetry, for
        # both request paths (`edge` below); FastAPI's own would trace its path only, twice.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        title="livechat-graphql",
        summary="A typed GraphQL API for Rocket.Chat's Omnichannel livechat.",
        lifespan=lifespan,
    )
    app.trusted_proxies = settings.trusted_proxies
    app.state.upload_limit = settings.upload_limit()

    async def context(request: HTTPConnection) -> Context:  # a Request or a WebSocket
        return request_context(request.app.state.backend, request_scope.current().request_id)

    observers: list[object] = []
    if metrics is not None:
        observers.append(OperationMetrics)
    if tracer_provider is not None:
        provider = tracer_provider
        observers.append(lambda: GraphQLSpans(tracer_provider=provider))
    schema = served_schema(settings, observers=observers)
    app.state.schema = schema
    app.mount(STATIC_PATH.rstrip("/"), static_files(), name="graphiql-static")
    if not settings.production:
        mount_widget(app, widget_bundle)  # the example widget at /widget/, for developers
    app.include_router(
        OfflineGraphQLRouter(
            schema,
            context_getter=context,
            graphql_ide=None if settings.production else "graphiql",
            # graphql-ws's protocol over a WebSocket, and Apollo's multipart HTTP subscriptions.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        ),
        prefix="/graphql",
    )

    @app.get("/healthz", summary="liveness: 200 once the app has started")
    async def healthz(request: Request) -> JSONResponse:
        backend: GuardedBackend | None = getattr(request.app.state, "backend", None)
        if backend is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ok", **backend.health()})

    @app.get("/readyz", summary="readiness: 200 only while the backend can serve")
    async def readyz(request: Request) -> JSONResponse:
        backend: LivechatBackend | None = getattr(request.app.state, "backend", None)
        reason = "starting" if backend is None else await backend.readiness()
        if reason is None:
            return JSONResponse({"status": "ready", "backend": settings.backend})
        return JSONResponse(
            {"status": "unavailable", "backend": settings.backend, "reason": reason},
            status_code=503,
        )

    rest_routes: list[Route] = []
    if settings.backend == "inprocess":
        from app.backends.inprocess.agent_rest import routes as agent_routes
        from app.backends.inprocess.ddp import DdpServer
        from app.backends.inprocess.limits import RocketChatLimiter, ddp_method_rule
        from app.backends.inprocess.rest import routes as rocketchat_routes
        from app.backends.inprocess.widget_rest import routes as widget_routes

        rest_routes = [*rocketchat_routes, *widget_routes, *agent_routes]
        app.router.routes.extend(rest_routes)
        app.state.ddp = DdpServer(
            lambda websocket: websocket.app.state.backend,
            heartbeat=settings.ddp_heartbeat,
            max_subscriptions=settings.max_subscriptions_per_connection,
            method_limiter=(
                RocketChatLimiter({}, default=ddp_method_rule)
                if settings.rate_limit == "rocketchat"
                else None
            ),
        )
        app.add_api_websocket_route("/websocket", app.state.ddp.serve)
    app.router.routes.append(download_route())
    app.add_middleware(
        GraphQLUploads,
        path="/graphql",
        max_operations_bytes=settings.max_body_bytes,
        upload_limit=settings.upload_limit(),
    )
    documents = document_cache(apq_bytes(settings))
    app.state.persisted_queries = documents
    app.add_middleware(PersistedQueries, cache=documents)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, exempt=bounded_by_upload_limit
    )
    app.add_middleware(JsonErrors)
    app.add_middleware(RequestScope, forward_headers=settings.forward_headers)
    app.front = lambda stack: Front(
        stack,
        schema=schema,
        documents=documents,
        routes=rest_routes,
        forward_headers=settings.forward_headers,
        max_body_bytes=settings.max_body_bytes,
    )
    edge: list[Wrapper] = []
    if metrics is not None:
        observability.serve_metrics(app, metrics)
        edge.append(lambda inner: CurrentMetrics(inner, metrics))
    if tracer_provider is not None:
        provider = tracer_provider
        edge.append(lambda inner: observability.traced(inner, provider))
    if settings.cors_origins:
        edge.append(lambda inner: cross_origin(inner, settings))
    app.edge = edge
    return app


def cross_origin(app: ASGIApp, settings: Settings) -> ASGIApp:
    """`app` answering CORS preflights and giving cross-origin answers their headers, for the
    sites `CORS_ORIGINS` names (a widget is embedded on another site by definition)."""
    return CrossOrigin(
        app,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=[
            "Content-Type",
            *settings.forward_headers,
            "X-Request-Id",
            *PREFLIGHT_HEADERS,
        ],
    )


def create_app_from_environment() -> FastAPI:
    """The factory each worker process calls (`serve --workers N`): the parent exported its
    settings to the environment, and a spawned process starts with no logging configured."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format, access_every=settings.log_access_every)
    return create_app(settings)


def __getattr__(name: str) -> FastAPI:
    """`app`, built from the environment's settings when first asked for, then kept."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    built = create_app()
    globals()["app"] = built
    return built
