"""GraphiQL without the internet: Strawberry's page, its assets served from our own route."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from app.graphql.json_codec import OrjsonGraphQLRouter

CDN = "https://unpkg.com/"
STATIC_PATH = "/graphql/static/"
STATIC_DIRECTORY = Path(__file__).parent / "static"


class OfflineGraphQLRouter(OrjsonGraphQLRouter):
    """Serves GraphiQL with every asset URL pointing at STATIC_PATH instead of the CDN."""

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self.graphql_ide_html.replace(CDN, STATIC_PATH))


class ImmutableStaticFiles(StaticFiles):
    """Versioned files never change under their path: let browsers keep them for a year."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def static_files() -> ImmutableStaticFiles:
    return ImmutableStaticFiles(directory=STATIC_DIRECTORY)
