"""The ASGI app: `create_app(settings)` wires settings, backend and schema.

The lifespan owns the backend: made on startup, closed on shutdown.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from app import logs
from app.backends import forwarding, make_backend
from app.backends.base import LivechatBackend
from app.backends.guarded import GuardedBackend
from app.graphql.context import Context
from app.graphql.ide import STATIC_PATH, OfflineGraphQLRouter, static_files
from app.graphql.schema import make_schema
from app.middleware import BodySizeLimit, JsonErrors
from app.persisted_queries import DocumentCache, PersistedQueries
from app.settings import Settings

BackendFactory = Callable[[Settings], Awaitable[LivechatBackend]]


def create_app(
    settings: Settings | None = None, *, backend_factory: BackendFactory = make_backend
) -> FastAPI:
    """Build the app; the backend is made on startup and closed on shutdown."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backend = GuardedBackend(await backend_factory(settings))
        app.state.backend = backend
        # What exists now (schema, modules, tables) lives as long as the process: keep it out
        # of the cyclic collector's full passes, which otherwise walk it again and again.
        gc.freeze()
        try:
            yield
        finally:
            await backend.aclose()

    app = FastAPI(
        title="livechat-graphql",
        summary="A typed GraphQL API for Rocket.Chat's Omnichannel livechat.",
        lifespan=lifespan,
    )

    async def context(request: Request) -> Context:
        incoming = forwarding.begin(request.headers, settings.forward_headers)
        return Context(backend=request.app.state.backend, request_id=incoming.request_id)

    schema = make_schema(settings.request_limits(), production=settings.production)
    app.mount(STATIC_PATH.rstrip("/"), static_files(), name="graphiql-static")
    app.include_router(
        OfflineGraphQLRouter(
            schema,
            context_getter=context,
            graphql_ide=None if settings.production else "graphiql",
        ),
        prefix="/graphql",
    )

    @app.get("/healthz", summary="200 once the backend is ready")
    async def healthz(request: Request) -> JSONResponse:
        ready = getattr(request.app.state, "backend", None) is not None
        return JSONResponse(
            {"status": "ok" if ready else "starting"}, status_code=200 if ready else 503
        )

    if settings.backend == "inprocess":
        from app.backends.inprocess.rest import router as rocketchat_routes

        app.include_router(rocketchat_routes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", *settings.forward_headers, "X-Request-Id"],
        )
    app.add_middleware(
        PersistedQueries, cache=DocumentCache(maxsize=settings.persisted_queries_cache_size)
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(JsonErrors)
    return app


def create_app_from_environment() -> FastAPI:
    """The factory each worker process calls (`serve --workers N`): the parent exported its
    settings to the environment, and a spawned process starts with no logging configured."""
    settings = Settings()
    logs.configure(settings.log_level, access_every=settings.log_access_every)
    return create_app(settings)


app = create_app()
