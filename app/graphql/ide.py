"""GraphiQL ready to use without the internet: Strawberry's page, its assets served from our
own route, and the README walk-through in the editor instead of GraphiQL's generic welcome."""

from __future__ import annotations

import json
import re
from functools import cached_property
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
EXAMPLES = Path(__file__).parent / "examples"

# Strawberry's page keeps its welcome text in a JS template literal, and starts the variables
# pane from the URL only; both are replaced (a test fails if the page stops matching).
WELCOME = re.compile(r"const EXAMPLE_QUERY = `.*?`;", re.DOTALL)
VARIABLES = "parameters.variables,"


def with_walkthrough(page: str) -> str:
    """The page with the walk-through document and its variables as the editor's start."""
    document = (EXAMPLES / "walkthrough.graphql").read_text()
    variables = (EXAMPLES / "walkthrough.json").read_text()
    page, welcomes = WELCOME.subn(
        lambda _: f"const EXAMPLE_QUERY = {json.dumps(document)};", page, count=1
    )
    if welcomes != 1 or VARIABLES not in page:
        raise ValueError("Strawberry's GraphiQL page no longer has the expected hooks")
    return page.replace(
        VARIABLES, f"parameters.variables || (parameters.q ? undefined : {json.dumps(variables)}),"
    )


class OfflineGraphQLRouter(OrjsonGraphQLRouter):
    """Serves GraphiQL with every asset URL pointing at STATIC_PATH instead of the CDN."""

    @cached_property
    def _page(self) -> str:
        return with_walkthrough(self.graphql_ide_html.replace(CDN, STATIC_PATH))

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._page)


class ImmutableStaticFiles(StaticFiles):
    """Versioned files never change under their path: let browsers keep them for a year."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def static_files() -> ImmutableStaticFiles:
    return ImmutableStaticFiles(directory=STATIC_DIRECTORY)
