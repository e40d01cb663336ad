"""GraphiQL in a real browser with the internet cut off: it loads from our own assets, shows
the editor, and runs a query typed into it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from strawberry.http.ides import get_graphql_ide_html

from app.graphql.ide import CDN, STATIC_DIRECTORY, with_walkthrough
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


def test_the_page_starts_with_the_walkthrough_and_its_variables(tmp_path: Path) -> None:
    page = with_walkthrough(get_graphql_ide_html(graphql_ide="graphiql"))
    assert "Welcome to GraphiQL" not in page
    assert "mutation Start($token: String!)" in page
    # What a widget asks first comes first.
    assert page.index("query Config($token: String)") < page.index("mutation Start")
    assert "graphiql-visitor" in page


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium (Debian's chromium package; .ci/run installs it)"
)
async def test_graphiql_is_ready_to_use_offline_in_a_real_browser(tmp_path: Path) -> None:
    """What a new user does first: read the Docs, type with completion, run the example."""
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
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            await context.route("**/*", loopback_only)
            page = await context.new_page()
            failures: list[str] = []
            page.on("requestfailed", lambda request: failures.append(request.url))
            await page.goto(f"{url}/graphql", wait_until="networkidle")
            editor = page.locator(".graphiql-query-editor .CodeMirror").first
            await editor.wait_for(timeout=20_000)
            await editor.get_by_text("mutation Start").wait_for(timeout=20_000)

            # The Docs pane knows the schema: Mutation, then sendLivechatMessage in it.
            await page.get_by_label("Show Documentation Explorer").click()
            docs = page.locator(".graphiql-doc-explorer")
            await docs.get_by_role("link", name="Mutation").click(timeout=20_000)
            await docs.get_by_text("sendLivechatMessage").first.wait_for(timeout=20_000)
            docs_shot = tmp_path / "graphiql-docs.png"
            await page.screenshot(path=str(docs_shot))

            # The example runs: Start, then Send with the room it opened.
            await page.locator(".graphiql-execute-button").click()
            await page.get_by_role("menuitem", name="Start").click()
            result = page.locator(".graphiql-response")
            await result.get_by_text("OpenLivechatRoomSuccess").wait_for(timeout=20_000)
            started = json.loads(await response_json(page))
            rid = started["data"]["openLivechatRoom"]["room"]["id"]
            await page.evaluate(
                """rid => {
                    const variables = document.querySelector('.graphiql-editor-tool .CodeMirror');
                    const current = JSON.parse(variables.CodeMirror.getValue());
                    variables.CodeMirror.setValue(JSON.stringify({...current, rid}, null, 2));
                }""",
                rid,
            )
            await editor.get_by_text("mutation Send").click()
            await page.keyboard.press("Control+Enter")
            await result.get_by_text("SendLivechatMessageSuccess").wait_for(timeout=20_000)
            sent = json.loads(await response_json(page))
            run_shot = tmp_path / "graphiql-run.png"
            await page.screenshot(path=str(run_shot))

            # Typing completes field names from the schema.
            await editor.click()
            await page.keyboard.press("Control+A")
            await page.keyboard.press("Delete")
            await page.keyboard.type("mutation { sendLi")
            hints = page.locator(".CodeMirror-hints")
            await hints.wait_for(timeout=20_000)
            offered = await hints.inner_text()
            await browser.close()
    print(f"screenshots: {docs_shot} {run_shot}")
    assert sent["data"]["sendLivechatMessage"]["message"]["msg"].startswith("Hello **world**")
    assert "sendLivechatMessage" in offered.split()
    assert not [failed for failed in failures if urlparse(failed).hostname in LOOPBACK]
    assert all(urlparse(url).hostname not in LOOPBACK for url in blocked)


async def response_json(page: Any) -> str:
    """The result pane's text (its editor is read-only CodeMirror)."""
    text: str = await page.evaluate(
        "() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"
    )
    return text
