"""GraphiQL in a real browser with the internet cut off: it loads from our own assets, shows
the editor, and runs a query typed into it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from strawberry.http.ides import get_graphql_ide_html

from app.graphql.ide import CDN, STATIC_DIRECTORY
from app.main import create_app
from app.settings import Settings
from tests.servers import serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_every_asset_the_page_names_is_vendored() -> None:
    html = get_graphql_ide_html(graphql_ide="graphiql")
    names = re.findall(re.escape(CDN) + r"([^\"']+)", html)
    assert names, "Strawberry's page no longer loads from the CDN we rewrite"
    for name in names:
        assert (STATIC_DIRECTORY / name).is_file(), f"{name} is not vendored"


async def test_assets_are_served_with_types_and_long_caching(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert CDN not in page.text
    assets = re.findall(r'(?:src|href)="(/graphql/static/[^"]+)"', page.text)
    assert len(assets) == 7
    for asset in assets:
        answer = await client.get(asset)
        assert answer.status_code == 200
        assert answer.headers["content-type"].split(";")[0] in ("text/javascript", "text/css")
        assert "immutable" in answer.headers["cache-control"]


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium (Debian's chromium package; .ci/run installs it)"
)
async def test_graphiql_works_offline_in_a_real_browser(tmp_path: Path) -> None:
    from playwright.async_api import Route, async_playwright

    blocked: list[str] = []

    async def loopback_only(route: Route) -> None:
        host = urlparse(route.request.url).hostname or ""
        if route.request.url.startswith("data:") or host in LOOPBACK:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    app = create_app(Settings(database=tmp_path / "ide.db"))
    with serving(app) as url:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
            )
            context = await browser.new_context()
            await context.route("**/*", loopback_only)
            page = await context.new_page()
            failures: list[str] = []
            page.on("requestfailed", lambda request: failures.append(request.url))
            await page.goto(f"{url}/graphql", wait_until="networkidle")
            editor = page.locator(".graphiql-query-editor .CodeMirror").first
            await editor.wait_for(timeout=20_000)
            await editor.click()
            await page.keyboard.press("Control+A")
            await page.keyboard.type(
                '{ livechatMessages(token: "nobody", rid: "r") { __typename } }'
            )
            await page.locator(".graphiql-execute-button").click()
            result = page.locator(".graphiql-response")
            await result.get_by_text("LivechatError").wait_for(timeout=20_000)
            shot = tmp_path / "graphiql.png"
            await page.screenshot(path=str(shot))
            text = await result.inner_text()
            await browser.close()
    print(f"screenshot: {shot}")
    assert '"__typename": "LivechatError"' in text
    assert not [failed for failed in failures if urlparse(failed).hostname in LOOPBACK]
    assert all(urlparse(url).hostname not in LOOPBACK for url in blocked)
