"""examples/widget's markdown renderer: its inputs are what the API answers today, it type-checks
under `tsc --strict`, esbuild bundles it, and its Node unit test (happy-dom) renders every
`MarkdownNode` member and the hostile messages as the test expects."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.markdown.emoji import EMOTICONS
from tests.helpers import NPM, ROOT, npm_ci
from tests.widget_markdown_cases import CASES, FIXTURES, generate, serialise

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
    assert sorted(stored) == sorted(CASES)
    for case, message in answered.items():
        assert stored[case] == serialise(message), case


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
    assert f"# pass {len(CASES) + 8}" in tested.stdout
