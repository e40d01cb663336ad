"""The messages examples/widget's markdown renderer is tested on, as the GraphQL API answers them.

Each case is sent with the shipped `sendLivechatMessage` and read back with `livechatMessages`
through the in-process app (its HTTP entrance, over ASGI), so the fixture files in
tests/fixtures/widget-markdown/ hold exactly the `md` a client gets through
queries/fragments/MarkdownNode.graphql. Together the cases hold every member of the
`MarkdownNode` union, plus hostile text, plus the system message closing the room writes (its
`md` is empty). `UnknownMarkdownNode` is what a newer Rocket.Chat's node
type becomes; the in-process backend's parser seam stands in for that newer parser.

Regenerate after a parser or fragment change (a test fails until you do):
    .venv/bin/python -m tests.widget_markdown_cases
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

from app.backends.base import LivechatBackend
from app.backends.inprocess.service import InProcessBackend
from app.backends.inprocess.store import SqliteStore
from app.main import create_app
from app.markdown import parse
from app.markdown.emoji import EMOTICONS
from app.settings import Settings
from tests.helpers import ROOT, GraphQL

FIXTURES = ROOT / "tests" / "fixtures" / "widget-markdown"
TOKEN = "widget-markdown-visitor"
# The message closing the room writes: a system message, with no `md`.
CLOSE = "system-close"

# Inputs to render, by case id: a case per construct, then the hostile ones.
CASES: dict[str, str] = {
    "paragraph-bold-emoji": "Hello **world** :smile:",
    "italic-strike-code": "_italic_ ~~struck~~ `x < y`",
    "spoiler": "the end: ||it was the butler||",
    "spoiler-block": "||\nhidden paragraph\n||",
    "code-block": "```js\nconst a = 1;\n</code></pre><script>alert(1)</script>\n```",
    "heading": "## Opening hours",
    "quote": "> quoted **text**",
    "links": "[docs](https://example.com/docs?a=1&b=2) example.org write to help@example.com",
    "image": "![a cat](https://example.com/cat.png)",
    "mentions": "@kim is in #support",
    "emoticon": "thanks :)",
    "emoticons": "faces: " + " ".join(text for text, _ in EMOTICONS),
    "unknown-shortcode": "a :notanemoji: b",
    "unicode-emoji": "ok 👍🏽",
    "big-emoji": "😀 :heart: :+1:",
    "color": "brand color:#ff000080",
    "tasks": "- [x] done\n- [ ] to do",
    "ordered-list": "1. one\n2. two",
    "unordered-list": "- apples\n- pears",
    "line-break": "first\n\nsecond",
    "horizontal-rule": "---",
    "katex": "\\[x^2 + y^2\\]",
    "inline-katex": "area \\(\\pi r^2\\)",
    "timestamps": "<t:1700000000:t> <t:1700000000:D> <t:1700000000:f> <t:1700000000:R>",
    "table": "| name | qty |\n|:-|-:|\n| tea | 2 |",
    "unknown-node": "/poll lunch?",
    "hostile-script": '<script>alert(1)</script><img src=x onerror="alert(2)">',
    "hostile-links": (
        "[a](javascript:alert(1)) [b](JaVaScRiPt:alert(2)) [c](data:text/html;base64,PHNjcmlwdD4=)"
        " [d](vbscript:msgbox) [e](tel:+123456789) ![f](javascript:alert(3))"
        " ![g](data:image/png;base64,AAAA) [h](https://example.com/ok)"
    ),
    "hostile-nesting": ">" * 300 + " " + "*_~||" * 200 + "deep" + "||~_*" * 200,
}


def newer_parser(
    text: str, options: Mapping[str, Any] | None = None, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Our parser, plus one node type it does not know: a newer Rocket.Chat's `/poll`."""
    if text.startswith("/poll "):
        return [{"type": "POLL", "value": {"question": text.removeprefix("/poll ")}}]
    return parse(text, options, now=now)


async def answers(database: Path) -> dict[str, dict[str, Any]]:
    """Each case's message as `livechatMessages` answers it, once `sendLivechatMessage` has
    answered the same `md`."""
    settings = Settings(database=database)

    async def factory(settings: Settings) -> LivechatBackend:
        store = await SqliteStore.open(settings.database)
        return InProcessBackend(
            store, markdown_options=settings.markdown_options(), parse_markdown=newer_parser
        )

    app = create_app(settings, backend_factory=factory)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://widget") as client:
            api = GraphQL(client)
            await api.visitor(TOKEN)
            rid = (await api.room(TOKEN))["room"]["id"]
            sent: dict[str, dict[str, Any]] = {}
            for case, msg in CASES.items():
                answer = await api.send(token=TOKEN, rid=rid, msg=msg)
                assert answer["__typename"] == "SendLivechatMessageSuccess", answer
                sent[answer["message"]["id"]] = {"case": case, "md": answer["message"]["md"]}
            await api.close(token=TOKEN, rid=rid)
            data = await api.run(
                "livechatMessages", {"token": TOKEN, "rid": rid, "limit": len(CASES) + 10}
            )
    found: dict[str, dict[str, Any]] = {}
    for message in data["livechatMessages"]["messages"]:
        if message["t"] == "livechat-close":
            found[CLOSE] = {"msg": message["msg"], "md": message["md"]}
        elif message["id"] in sent:
            answered = sent[message["id"]]
            assert message["md"] == answered["md"], answered["case"]
            found[answered["case"]] = {"msg": message["msg"], "md": message["md"]}
    assert set(found) == {*CASES, CLOSE}
    return {case: found[case] for case in [*CASES, CLOSE]}


def generate() -> dict[str, dict[str, Any]]:
    with TemporaryDirectory() as folder:
        return asyncio.run(answers(Path(folder) / "widget-markdown.db"))


def serialise(message: dict[str, Any]) -> str:
    return json.dumps(message, indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for stale in FIXTURES.glob("*.json"):
        stale.unlink()
    for case, message in generate().items():
        (FIXTURES / f"{case}.json").write_text(serialise(message))
    sys.stdout.write(f"{len(CASES) + 1} messages in {FIXTURES.relative_to(ROOT)}\n")


if __name__ == "__main__":
    main()
