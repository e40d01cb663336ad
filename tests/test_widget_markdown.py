"""examples/widget's markdown renderer: its inputs are what the API answers today, it type-checks
under `tsc --strict`, esbuild bundles it, and its Node unit test (happy-dom) renders every
`MarkdownNode` member and the hostile messages as the test expects; the bundle in Chromium renders
the same HTML."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from app.markdown.emoji import EMOTICONS
from tests.helpers import NPM, ROOT, GraphQL, npm_ci
from tests.widget_markdown_cases import CASES, CLOSE, FIXTURES, TOKEN, generate, serialise

WIDGET = ROOT / "examples" / "widget"
needs_node = pytest.mark.skipif(
    shutil.which("node") is None or NPM is None, reason="needs Node 20 and npm on PATH"
)


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=WIDGET, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_fixture_messages_are_what_the_api_answers_now() -> None:
    """A parser or fragment change that alters `md` fails here until the fixtures are
    regenerated (`.venv/bin/python -m tests.widget_markdown_cases`), so the renderer is always
    tested on the shapes a client really gets."""
    answered = generate()
    stored = {path.stem: path.read_text() for path in FIXTURES.glob("*.json")}
    assert sorted(stored) == sorted([*CASES, CLOSE])
    for case, message in answered.items():
        assert stored[case] == serialise(message), case


async def test_every_backend_answers_the_fixture_md(api: GraphQL) -> None:
    """The fixtures come from the in-process app; the facade in front of a Rocket.Chat (here the
    in-process server's REST routes) answers the same trees, so the renderer is tested on what
    a client of either backend gets. (`/poll` is left out: only a newer parser knows it.)"""
    await api.visitor(TOKEN)
    rid = (await api.room(TOKEN))["room"]["id"]
    for case, msg in CASES.items():
        if case == "unknown-node":
            continue
        answer = await api.send(token=TOKEN, rid=rid, msg=msg)
        stored = json.loads((FIXTURES / f"{case}.json").read_text())
        assert answer["message"]["md"] == stored["md"], case


def test_the_fixtures_hold_every_member_of_the_union() -> None:
    members = set(json.loads((ROOT / "schema" / "possibleTypes.json").read_text())["MarkdownNode"])
    seen: set[str] = set()
    for path in FIXTURES.glob("*.json"):
        pending: list[object] = [json.loads(path.read_text())["md"]]
        while pending:
            value = pending.pop()
            if isinstance(value, list):
                pending += value
            elif isinstance(value, dict):
                seen.add(str(value.get("__typename")))
                pending += [
                    value[key] for key in ("children", "label", "header", "rows") if key in value
                ]
    assert members - seen == set()


def test_the_emoticons_fixture_holds_every_emoticon_the_parser_knows() -> None:
    """The renderer's test then shows each of their shortcodes has a character."""
    md = json.loads((FIXTURES / "emoticons.json").read_text())["md"]
    shortcodes = {node.get("shortCode") for node in md[0]["children"]}
    assert shortcodes >= {name for _, name in EMOTICONS}


@pytest.fixture(scope="module")
def installed() -> Path:
    return npm_ci(WIDGET)


@needs_node
def test_the_renderer_type_checks_bundles_and_renders_every_member(installed: Path) -> None:
    checked = run(str(NPM), "run", "--silent", "typecheck")
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    built = run(str(NPM), "run", "--silent", "build")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    bundle = installed / "dist" / "markdown.js"
    assert "innerHTML" not in bundle.read_text()
    tested = run("node", "--test", "markdown.test.mjs")
    assert tested.returncode == 0, tested.stdout[-6000:] + tested.stderr[-2000:]
    assert "# fail 0" in tested.stdout
    rendered = json.loads(
        (ROOT / "tests" / "fixtures" / "widget-markdown-rendered.json").read_text()
    )
    assert f"# pass {len(rendered) + 10}" in tested.stdout  # a test per message, and 10 more


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CAT = "https://example.com/cat.png"  # the image fixture's src, answered by the page's route


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A one-colour PNG: the image message's picture, without a file in the repository."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


ORIGIN = "http://widget.test"
# The Node test's options: en-US, UTC, three days after <t:1700000000>.
NOW = (1_700_000_000 + 3 * 86_400) * 1000
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>markdown.ts</title>
<link rel="stylesheet" href="/markdown.css">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; max-width: 760px; margin: 12px; }
  section { border-bottom: 1px solid #ddd; padding: 4px 0; overflow-wrap: anywhere; }
  h6 { margin: 0; color: #888; font: 11px monospace; }
</style></head>
<body><script type="module">
  import * as markdown from "/markdown.js";
  window.markdown = markdown;
</script></body></html>"""
RENDER_ALL = """([cases, now]) => {
  const html = {};
  for (const [name, { msg, md }] of Object.entries(cases)) {
    const section = document.createElement("section");
    const label = document.createElement("h6");
    label.textContent = name;
    const message = document.createElement("div");
    message.appendChild(
      window.markdown.renderMarkdown(md, { msg, locale: "en-US", timeZone: "UTC", now: () => now }),
    );
    section.append(label, message);
    document.body.append(section);
    html[name] = message.innerHTML;
  }
  return html;
}"""
RENDER_DEEP = """() => {
  let tree = { __typename: "PlainText", text: "bottom" };
  for (let level = 0; level < 100000; level += 1) tree = { __typename: "Bold", children: [tree] };
  const host = document.createElement("div");
  host.appendChild(window.markdown.renderMarkdown([{ __typename: "Paragraph", children: [tree] }]));
  return [host.textContent, host.querySelectorAll("*").length];
}"""


@needs_node
@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium (Debian's chromium package; .ci/run installs it)"
)
async def test_chromium_renders_the_bundle_as_happy_dom_does(
    installed: Path, tmp_path: Path
) -> None:
    """The built bundle in a real browser, with nothing reachable but the page and the bundle:
    every fixture message renders to the same HTML as in the Node test, no script in a message
    runs (no dialog opens), and deep nesting neither throws nor builds a deep DOM."""
    from playwright.async_api import Dialog, Route, async_playwright

    built = run(str(NPM), "run", "--silent", "build")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    dist = installed / "dist"
    files = {
        f"{ORIGIN}/": (PAGE.encode(), "text/html"),
        f"{ORIGIN}/markdown.js": ((dist / "markdown.js").read_bytes(), "text/javascript"),
        f"{ORIGIN}/markdown.css": ((dist / "markdown.css").read_bytes(), "text/css"),
        CAT: (png(96, 64, (230, 126, 34)), "image/png"),
    }
    refused: list[str] = []
    dialogs: list[str] = []

    async def serve(route: Route) -> None:
        found = files.get(route.request.url)
        if found is None:
            refused.append(route.request.url)
            await route.abort()
        else:
            await route.fulfill(body=found[0], content_type=found[1])

    async def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    cases = {path.stem: json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))}
    expected = json.loads(
        (ROOT / "tests" / "fixtures" / "widget-markdown-rendered.json").read_text()
    )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        page = await browser.new_page(locale="en-US", timezone_id="UTC")
        await page.route("**/*", serve)
        page.on("dialog", dismiss)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{ORIGIN}/")
        await page.wait_for_function("window.markdown !== undefined", timeout=20_000)
        rendered: dict[str, str] = await page.evaluate(RENDER_ALL, [cases, NOW])
        text, elements = await page.evaluate(RENDER_DEEP)
        cat = page.locator(f'img[src="{CAT}"]')
        await cat.scroll_into_view_if_needed()  # it loads lazily
        cat_width = await cat.evaluate("image => image.decode().then(() => image.naturalWidth)")
        shot = tmp_path / "widget-markdown.png"
        await page.screenshot(path=str(shot), full_page=True)
        await browser.close()
    print(f"screenshot: {shot}")
    assert {name: rendered[name] for name in expected} == expected
    assert (text, elements) == ("bottom", 33)
    assert cat_width == 96
    assert dialogs == [] and errors == [] and refused == []
