"""The example widget (examples/widget/) in Chromium, as a visitor uses it, against the in-process
server and against the facade in front of the in-process server: the config's theme, register
with a custom field, send markdown and see it rendered, edit and delete it, lose the WebSocket and
miss nothing, reload and find the room through the config, scroll back through the history to
its first message, close, ask for the transcript and rate the chat. With nobody online, the
offline form and its mail; with Livechat off or no registration form, what shows first. Every
request stays on loopback.

Screenshots land in tests/artefacts/widget/ (gitignored); with UPDATE_WIDGET_SCREENSHOT=1 in the
environment the test also refreshes the one README shows, examples/widget/screenshot.png."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx
import pytest
from PIL import Image

from app.main import create_app
from app.settings import Settings
from app.widget import NOT_BUILT, mount_widget, where_the_widget_is
from tests.helpers import NPM, ROOT, GraphQL, npm_ci
from tests.servers import serving

if TYPE_CHECKING:
    from playwright.async_api import Page, WebSocketRoute

WIDGET = ROOT / "examples" / "widget"
ARTEFACTS = ROOT / "tests" / "artefacts" / "widget"
README_SCREENSHOT = WIDGET / "screenshot.png"
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
WAIT = 20_000  # ms, for anything the page does after a request
SEEDED = 60


async def test_widget_is_not_served_in_production(tmp_path: Path) -> None:
    app = create_app(Settings(database=tmp_path / "p.db", production=True))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        assert (await client.get("/widget/")).status_code == 404
        assert "make widget" not in (await client.get("/widget/")).text


async def test_an_unbuilt_widget_says_how_to_build_it(tmp_path: Path) -> None:
    from fastapi import FastAPI

    app = FastAPI()
    mount_widget(app, tmp_path / "dist")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", follow_redirects=True
    ) as client:
        for path in ("/widget", "/widget/", "/widget/main.js"):
            answer = await client.get(path)
            assert answer.status_code == 404
            assert answer.text == NOT_BUILT
            assert "make widget" in answer.text


def test_the_startup_line_says_where_the_widget_is(tmp_path: Path) -> None:
    line = where_the_widget_is("127.0.0.1", 8000, tmp_path)
    assert line == "Widget: http://127.0.0.1:8000/widget/ (not built: run `make widget`)"
    (tmp_path / "index.html").write_text("<!doctype html>")
    assert (
        where_the_widget_is("127.0.0.1", 8000, tmp_path) == "Widget: http://127.0.0.1:8000/widget/"
    )


needs_node = pytest.mark.skipif(
    NPM is None or shutil.which("node") is None, reason="needs Node 20 and npm on PATH"
)
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or NPM is None or shutil.which("node") is None,
    reason="needs Chromium (Debian's chromium package; .ci/run installs it), Node 20 and npm",
)


@needs_node
def test_the_message_store_keeps_each_message_once() -> None:
    """store.ts on its own (examples/widget/store.test.mjs): duplicates, order, late versions,
    and the merge of a newest page after a reconnect."""
    npm_ci(WIDGET)
    tested = subprocess.run(
        ["node", "--test", "store.test.mjs"],
        cwd=WIDGET, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout[-6000:] + tested.stderr[-2000:]
    assert "# fail 0" in tested.stdout
    assert "# pass 6" in tested.stdout


@needs_node
def test_the_visitors_typing_is_throttled_as_rocketchats_widget() -> None:
    """typing.ts on its own (examples/widget/typing.test.mjs), on a mocked clock: `typing` at
    most every 4.5 s while keys are pressed, stopped 5 s after the last key and on send."""
    npm_ci(WIDGET)
    tested = subprocess.run(
        ["node", "--test", "typing.test.mjs"],
        cwd=WIDGET, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout[-6000:] + tested.stderr[-2000:]
    assert "# fail 0" in tested.stdout
    assert "# pass 3" in tested.stdout


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make widget`'s steps: the lockfile's packages, then the bundle, here into a folder of
    the test's own (tests/test_widget_markdown.py builds dist/ meanwhile)."""
    npm_ci(WIDGET)
    assert NPM is not None
    folder = tmp_path_factory.mktemp("widget-dist")
    built = subprocess.run(
        [NPM, "run", "--silent", "build", "--", str(folder)],
        cwd=WIDGET, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return folder


@dataclass(frozen=True)
class Served:
    """Where the widget is served, and the SQLite database the Rocket.Chat behind it keeps."""

    url: str
    database: Path


# The registration form's custom field (a regexp the server checks too) and departments (one to
# register with, the other to switch to), the transcript offered after the chat, and the theme's
# title and colour on the page.
CONFIGURED: dict[str, Any] = {
    "custom_fields": [{"key": "plan", "label": "Plan", "regexp": "^(gold|silver)$"}],
    "departments": [{"id": "dep-sales", "name": "Sales"}, {"id": "dep-support", "name": "Support"}],
    "enable_transcript": True,
    "theme": {"title": "Acme help", "color": "#008060"},
    # The demo agent answers each visitor message: typing, then the text quoted back.
    "demo_agent": "echo",
}
# The visitor's own messages: the demo agent's answers repeat their text.
OWN = "[data-message-id][data-own]"


@pytest.fixture(params=["in-process", "facade"])
def served(request: pytest.FixtureRequest, bundle: Path, tmp_path: Path) -> Iterator[Served]:
    """The app serving the widget and the API it calls: the in-process backend, or the upstream
    backend forwarding to an in-process server's Rocket.Chat routes."""
    with ExitStack() as stack:
        if request.param == "in-process":
            database = tmp_path / "w.db"
            app = create_app(Settings(database=database, **CONFIGURED), widget_bundle=bundle)
            url = stack.enter_context(serving(app))
        else:
            database = tmp_path / "rocketchat.db"
            rocketchat = stack.enter_context(
                serving(create_app(Settings(database=database, **CONFIGURED)))
            )
            facade = Settings(
                backend="upstream", upstream_url=rocketchat, database=tmp_path / "unused.db"
            )
            url = stack.enter_context(serving(create_app(facade, widget_bundle=bundle)))
        yield Served(url, database)


def rows(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql).fetchall()


class Sockets:
    """The page's WebSockets, each forwarded to the server, until `cut` drops them: while cut,
    the page's attempts to reconnect are refused, as when a network goes away."""

    def __init__(self) -> None:
        self.open: list[WebSocketRoute] = []
        self.down = False
        self.connections = 0

    async def route(self, socket: WebSocketRoute) -> None:
        if self.down:
            await socket.close(code=1001, reason="network down")
            return
        socket.connect_to_server()
        self.connections += 1
        self.open.append(socket)

    async def cut(self) -> None:
        self.down = True
        while self.open:
            await self.open.pop().close(code=1001, reason="network down")


async def message_ids(page: Page, selector: str = OWN) -> list[str]:
    """The ids of the messages shown (by default the visitor's own), in order."""
    ids: list[str] = await page.eval_on_selector_all(
        selector, "items => items.map(item => item.dataset.messageId)"
    )
    return ids


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Polls `check` until it holds, for as long as the page's own waits."""
    for _ in range(WAIT // 50):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still not {what}")


async def shoot(page: Page, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    await page.locator("[data-widget]").screenshot(path=str(ARTEFACTS / f"{name}.png"))


@needs_browser
async def test_a_visitor_chats_through_the_widget(
    served: Served, request: pytest.FixtureRequest
) -> None:
    from playwright.async_api import Route, async_playwright, expect

    expect.set_options(timeout=WAIT)
    kind = request.node.callspec.params["served"]
    blocked: list[str] = []

    async def loopback_only(route: Route) -> None:
        host = urlparse(route.request.url).hostname or ""
        if route.request.url.startswith("data:") or host in LOOPBACK:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    server = served.url
    sockets = Sockets()
    # The steps in the browser can leave the API's connection idle past the server's keep-alive
    # timeout (5 s); a client that keeps it longer may send on a connection being closed.
    idle_before_the_server = httpx.Limits(keepalive_expiry=1)
    async with (
        async_playwright() as playwright,
        httpx.AsyncClient(base_url=server, limits=idle_before_the_server) as http,
    ):
        api = GraphQL(http)
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        context = await browser.new_context(
            viewport={"width": 480, "height": 700}, locale="en-GB", timezone_id="UTC"
        )
        await context.route("**/*", loopback_only)
        page = await context.new_page()
        await page.route_web_socket(re.compile(r"/graphql$"), sockets.route)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        # Registration first: a new visitor, with a token made in the page.
        await page.goto(f"{server}/widget/")
        await expect(page.locator("[data-title]")).to_have_text("Acme help")
        accent = await page.locator("[data-title]").evaluate(
            "title => getComputedStyle(title).backgroundColor"
        )
        assert accent == "rgb(0, 128, 96)"
        await page.get_by_label("Name").fill("Ada Lovelace")
        await page.get_by_label("Email").fill("ada@example.com")
        await page.get_by_label("Plan").fill("gold")
        await page.get_by_label("Department").select_option(label="Sales")
        await shoot(page, f"{kind}-registration")
        await page.get_by_role("button", name="Start chat").click()
        chat = page.locator("[data-view=chat]")
        await expect(chat).to_be_visible()
        token = await page.evaluate("localStorage.getItem('livechat-graphql:token')")
        rid = await chat.get_attribute("data-rid")
        assert token and rid
        # The custom field was set once the visitor existed, on the visitor.
        assert rows(served.database, "SELECT custom_fields FROM visitor_data") == [
            (b'{"plan":"gold"}',)
        ]

        async def room_department() -> str | None:
            config = await api.run("livechatConfig", {"token": token})
            department: str | None = config["livechatConfig"]["config"]["raw"]["room"].get(
                "departmentId"
            )
            return department

        assert await room_department() == "dep-sales"
        # Switching department transfers the open room.
        await page.locator("[data-department]").select_option(label="Support")
        await expect(page.locator("[data-department]")).to_be_enabled()

        async def transferred() -> bool:
            return await room_department() == "dep-support"

        await until(transferred, "transferred to Support")
        # The agent's card: the demo agent, routed to the room, online.
        agent = page.locator("[data-agent]")
        await expect(agent).to_have_text("Demo agent")
        await expect(agent).to_have_attribute("data-status", "online")
        await expect(page.locator("[data-typing]")).to_have_text("")

        # Send: the message shows once, its markdown rendered.
        composer = page.locator("textarea[name=msg]")
        await composer.fill("Hello **world** :smile:")
        await composer.press("Enter")
        hello = page.locator(OWN, has_text="Hello")
        await expect(hello.locator("strong")).to_have_text("world")
        await expect(hello).to_contain_text("😄")
        await expect(hello).not_to_contain_text(":smile:")
        await expect(composer).to_have_value("")
        hello_id = await hello.get_attribute("data-message-id")
        # The agent types, then answers: their reply rendered as markdown too.
        typing = page.locator("[data-typing]")
        await expect(typing).to_have_text("Demo agent is typing…")
        reply = page.locator("[data-message-id][data-author=demo]", has_text="Hello")
        await expect(reply.locator("blockquote strong")).to_have_text("world")
        await expect(reply.locator("strong").first).to_have_text("You said:")
        await expect(reply).to_contain_text("😄")
        await expect(reply).to_contain_text("Demo agent")
        await expect(typing).to_have_text("")
        # The visitor's own typing goes out with setLivechatTyping, and the server takes it.
        async with page.expect_response(
            lambda response: "SetLivechatTyping" in (response.request.post_data or "")
        ) as typed:
            await composer.press_sequentially("hm")
        said = (await (await typed.value).json())["data"]["setLivechatTyping"]
        assert said == {"__typename": "SetLivechatTypingSuccess", "rid": rid, "typing": True}
        await composer.fill("")

        async def online() -> bool:
            return rows(served.database, "SELECT status FROM visitor_data") == [("online",)]

        await until(online, "online, from the visitor's activity")
        assert await message_ids(page) == [hello_id]

        # Edit: the same message, in its new version, still once.
        await hello.locator("[data-action=edit]").click()
        await expect(composer).to_have_value("Hello **world** :smile:")
        await composer.fill("Hello _edited_ **world** :smile:")
        await composer.press("Enter")
        edited = page.locator(f'[data-message-id="{hello_id}"]')
        await expect(edited.locator("em")).to_have_text("edited")
        await expect(edited.locator("[data-edited]")).to_be_visible()
        assert await message_ids(page) == [hello_id]
        await shoot(page, f"{kind}-chat")
        if kind == "in-process" and os.environ.get("UPDATE_WIDGET_SCREENSHOT") == "1":
            await page.locator("[data-widget]").screenshot(path=str(README_SCREENSHOT))

        # Delete: gone from the list, and from the room's history.
        await edited.locator("[data-action=delete]").click()
        await expect(edited).to_have_count(0)
        history = await api.run("livechatMessages", {"token": token, "rid": rid})
        left = history["livechatMessages"]["messages"]
        assert [message for message in left if message["token"] == token] == []
        assert {message["u"]["username"] for message in left} == {"demo"}  # the answers stay

        # The WebSocket drops; what is said meanwhile shows once the widget is back, once each.
        await composer.fill("before the cut")
        await composer.press("Enter")
        before_cut = page.locator(OWN, has_text="before the cut")
        await expect(before_cut).to_have_count(1)
        gone_id = await before_cut.get_attribute("data-message-id")
        await sockets.cut()
        # From another tab of the visitor's, while this one is offline: two sent, one deleted.
        missed = [await api.send(token=token, rid=rid, msg=f"missed {n}") for n in (1, 2)]
        deleted = await api.run(
            "deleteLivechatMessage", {"input": {"token": token, "rid": rid, "id": gone_id}}
        )
        assert deleted["deleteLivechatMessage"]["__typename"] == "DeleteLivechatMessageSuccess"
        await asyncio.sleep(0.5)
        await expect(before_cut).to_have_count(1)  # nothing heard while offline
        sockets.down = False
        for sent in missed:
            item = page.locator(f'[data-message-id="{sent["message"]["id"]}"]')
            await expect(item).to_have_count(1)
        await expect(before_cut).to_have_count(0)
        assert sockets.connections > 1
        after = await api.send(token=token, rid=rid, msg="after the cut")
        await expect(page.locator(f'[data-message-id="{after["message"]["id"]}"]')).to_have_count(1)
        ids = await message_ids(page)
        assert len(ids) == len(set(ids)) == 3

        # History: 60 more messages; a reload shows the newest page, scrolling up the rest.
        for n in range(1, SEEDED + 1):
            await api.send(token=token, rid=rid, msg=f"seed {n}")
        # The agent answers each, live; the newest of all is the last answer to arrive.
        answers = page.locator("[data-author=demo]", has_text="seed")
        await expect(answers).to_have_count(SEEDED)
        newest = (await message_ids(page, "[data-message-id]"))[-1]
        # The reload finds the visitor and their room through the config, whatever localStorage
        # says of the room.
        await page.evaluate("localStorage.removeItem('livechat-graphql:rid')")
        await page.reload()
        await expect(chat).to_have_attribute("data-rid", rid)
        await expect(page.locator(f'[data-message-id="{newest}"]')).to_be_visible()
        first_page = len(await message_ids(page, "[data-message-id]"))
        assert first_page < 2 * SEEDED
        oldest = page.locator(OWN, has_text="missed 1")
        for _ in range(10):
            if await oldest.count():
                break
            count = len(await message_ids(page, "[data-message-id]"))
            await page.locator("[data-messages]").evaluate("list => { list.scrollTop = 0; }")

            async def grew(count: int = count) -> bool:
                return len(await message_ids(page, "[data-message-id]")) > count

            await until(grew, "an older page")
        await expect(oldest).to_be_visible()
        texts = await page.locator(f"{OWN} .body").all_inner_texts()
        seeds = [text for text in texts if text.startswith("seed ")]
        assert seeds == [f"seed {n}" for n in range(1, SEEDED + 1)]
        ids = await message_ids(page)
        assert len(ids) == len(set(ids)) == 3 + SEEDED
        await expect(answers).to_have_count(SEEDED)
        await shoot(page, f"{kind}-history")

        # A file: a PNG made here, uploaded from the picker beside Send, shown as its image,
        # loaded through /file-upload/ with the room's cookies.
        picture = io.BytesIO()
        Image.new("RGB", (40, 30), (0, 128, 96)).save(picture, format="PNG")
        await page.locator("input[type=file]").set_input_files(
            {"name": "dot.png", "mimeType": "image/png", "buffer": picture.getvalue()}
        )
        image = page.locator(f"{OWN} [data-attachment] img")
        await expect(image).to_have_count(1)
        await expect(image).to_have_attribute("width", "40")
        await until(
            lambda: image.evaluate("img => img.complete && img.naturalWidth === 40"),
            "the image loaded",
        )
        await expect(page.locator(f"{OWN} [data-download]")).to_have_text("dot.png")
        await page.locator("[data-messages]").evaluate("list => { list.scrollTop = 1e9; }")
        await shoot(page, f"{kind}-file")

        # Close: the closed view, and the room is closed for the API too.
        await page.locator("[data-action=close]").click()
        await expect(page.locator("[data-view=closed]")).to_be_visible()
        refused = await api.send(token=token, rid=rid, msg="too late")
        assert refused["__typename"] == "LivechatError"

        # After the chat: the transcript to the registered email, and the survey.
        transcript = page.locator("[data-transcript]")
        await expect(transcript.locator("input")).to_have_value("ada@example.com")
        await transcript.get_by_role("button").click()
        await expect(page.locator("[data-transcript-sent]")).not_to_be_empty()
        survey = page.locator("[data-survey]")
        await survey.get_by_role("group", name="Overall satisfaction").get_by_label("5").check()
        await survey.get_by_label("Anything else?").fill("Quick and kind")
        await shoot(page, f"{kind}-closed")
        await survey.get_by_role("button", name="Send rating").click()
        await expect(page.locator("[data-rated]")).to_be_visible()
        assert rows(served.database, "SELECT kind, recipient FROM outbox") == [
            ("transcript", "ada@example.com")
        ]
        assert rows(served.database, f"SELECT survey FROM room_data WHERE rid = '{rid}'") == [
            (b'{"satisfaction":"5","additionalFeedback":"Quick and kind"}',)
        ]

        # A new chat, in a new room, closed from elsewhere (another tab): the widget follows.
        await page.locator("[data-action=new-chat]").click()
        await expect(chat).to_be_visible()
        await expect(page.locator("[data-message-id]")).to_have_count(0)
        second = await chat.get_attribute("data-rid")
        assert second and second != rid
        closing = await api.close(token=token, rid=second)
        assert closing["__typename"] == "CloseLivechatRoomSuccess"
        await expect(page.locator("[data-view=closed]")).to_be_visible()

        await browser.close()
    assert errors == []
    assert blocked == []


@needs_browser
async def test_with_nobody_online_the_widget_takes_a_message(bundle: Path, tmp_path: Path) -> None:
    """Rocket.Chat's offline route: chats need an agent and none is online, so the config
    answers `online` false and the widget shows the offline form instead of registration. The
    message goes to the chosen department's email (departments hidden from the offline form are
    not offered), and the config's success message replaces the form."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=WAIT)
    database = tmp_path / "offline.db"
    settings = Settings(
        database=database,
        accept_chats_with_no_agents=False,
        departments=[
            {"id": "dep-sales", "name": "Sales", "email": "sales@example.com"},
            {"id": "dep-internal", "name": "Internal", "showOnOfflineForm": False},
        ],
        offline_email="desk@example.com",
        messages={"offlineSuccessMessage": "Thanks, we will write back soon."},
    )
    with serving(create_app(settings, widget_bundle=bundle)) as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
            )
            page = await browser.new_page(viewport={"width": 480, "height": 700})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{server}/widget/")
            form = page.locator("[data-view=offline]")
            await expect(form).to_be_visible()
            await expect(page.locator("[data-title]")).to_have_text("Leave a message")
            await expect(page.locator("[data-view=registration]")).to_have_count(0)
            department = form.get_by_label("Department")
            assert await department.locator("option").all_inner_texts() == ["Any", "Sales"]
            await form.get_by_label("Name").fill("Ann")
            await form.get_by_label("Email").fill("ann@example.com")
            await department.select_option(label="Sales")
            await form.get_by_label("Message").fill("Call me back")
            await shoot(page, "offline")
            await form.get_by_role("button", name="Send").click()
            await expect(page.locator("[data-sent]")).to_have_text(
                "Thanks, we will write back soon."
            )
            await browser.close()
    assert errors == []
    assert rows(database, "SELECT kind, recipient FROM outbox") == [
        ("offline-message", "sales@example.com")
    ]


@needs_browser
async def test_the_config_decides_the_first_view(bundle: Path, tmp_path: Path) -> None:
    """Livechat switched off: a notice and nothing else. Registration form off: straight into a
    chat, the visitor registered with their token alone (as Rocket.Chat's widget does). Consent
    forced: the consent first, and the visitor's data removable after the chat."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=WAIT)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        errors: list[str] = []
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("disabled", {"livechat_enabled": False}, "disabled"),
            ("no-form", {"registration_form": False}, "chat"),
        ]
        for name, settings, view in cases:
            app = create_app(
                Settings(database=tmp_path / f"{name}.db", **settings), widget_bundle=bundle
            )
            with serving(app) as server:
                page = await browser.new_page()
                page.on("pageerror", lambda error: errors.append(str(error)))
                await page.goto(f"{server}/widget/")
                await expect(page.locator(f"[data-view={view}]")).to_be_visible()
                await expect(page.locator("[data-view=registration]")).to_have_count(0)
                if view == "chat":
                    await expect(page.locator("textarea[name=msg]")).to_be_enabled()
                await page.close()

        # Consent forced: its text and "I agree" first; after the chat, "Remove my data" deletes
        # the visitor and the widget starts over as someone new.
        database = tmp_path / "consent.db"
        consent = Settings(
            database=database,
            registration_form=False,
            force_accept_data_processing_consent=True,
            messages={"dataProcessingConsentText": "We keep what you write."},
        )
        with serving(create_app(consent, widget_bundle=bundle)) as server:
            page = await browser.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{server}/widget/")
            await expect(page.locator("[data-view=consent]")).to_contain_text(
                "We keep what you write."
            )
            await page.locator("[data-action=consent]").click()
            await expect(page.locator("textarea[name=msg]")).to_be_enabled()
            assert rows(database, "SELECT COUNT(*) FROM visitors") == [(1,)]
            await page.locator("[data-action=close]").click()
            await page.locator("[data-action=remove-data]").click()
            await expect(page.locator("[data-view=consent]")).to_be_visible()
            assert rows(database, "SELECT COUNT(*) FROM visitors") == [(0,)]
            await page.close()
        await browser.close()
    assert errors == []
