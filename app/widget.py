"""The example widget (examples/widget/, built by `make widget`) at `/widget/`, for developers:
the app serves it only outside production mode, from the bundle on disk when there is one, and
otherwise answers a 404 page that says how to build it. Read per request, so a bundle built while
the server runs is served without a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

WIDGET_PATH = "/widget"
BUNDLE = Path(__file__).resolve().parent.parent / "examples" / "widget" / "dist"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Widget not built</title></head>
<body><h1>The widget is not built</h1>
<p>Run <code>make widget</code> (it needs Node and npm), then reload this page.</p></body></html>
"""


class WidgetFiles(StaticFiles):
    """The bundle's files, revalidated on each load: their names carry no version."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        self.bundle = directory

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not (self.bundle / "index.html").is_file():
            await HTMLResponse(NOT_BUILT, status_code=404)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def mount_widget(app: FastAPI, bundle: Path = BUNDLE) -> None:
    """Serve the widget at `/widget/` (`/widget` redirects there)."""
    app.mount(WIDGET_PATH, WidgetFiles(bundle), name="widget")


def where_the_widget_is(host: str, port: int, bundle: Path = BUNDLE) -> str:
    """The startup line for developers: the widget's URL, or how to build it."""
    url = f"http://{host}:{port}{WIDGET_PATH}/"
    built = (bundle / "index.html").is_file()
    return f"Widget: {url}" + ("" if built else " (not built: run `make widget`)")
