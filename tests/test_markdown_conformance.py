"""Our parser against the reference's own answers: every case of the three corpora, by id.

The corpora (tests/fixtures/markdown/) are @rocket.chat/message-parser 0.32.0's outputs for its
own test inputs, the full emoji set, and generated chat messages. `regressions` holds the
reference's answers (`node bench/reference/bench.js ast` on its inputs) for shapes the parser
answers by a shortcut (a bold or italic of plain words, underscores glued to a word around
other items, rules skipped by the first characters or by what the message lacks, links
skipped after the last "](" a target follows or before a first "](" that takes none, Slack
links skipped where a blank, line end or "\\" comes before the first "|") that the corpora
happen not to hold, and every difference tests/test_markdown_differential.py has found (an
emphasis opener, emoticons and a `_` inside a word; `O_O` in an italic; "localhost."). That
test also checks these answers against the reference itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from app.markdown import MarkdownSyntaxError, parse
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "markdown"
CORPORA = ("public-cases", "public-emoji", "dev-fuzz")


def cases(corpora: tuple[str, ...] = CORPORA) -> list[Any]:
    found = []
    for corpus in corpora:
        for line in (FIXTURES / f"{corpus}.expected.jsonl").read_text().splitlines():
            case = json.loads(line)
            found.append(pytest.param(case, id=f"{corpus}:{case['id']}"))
    return found


def test_the_corpora_are_all_here() -> None:
    assert len(cases()) == 5847


@pytest.mark.parametrize("case", cases())
def test_matches_the_reference(case: dict[str, Any]) -> None:
    now = datetime.fromisoformat(case["now"].replace("Z", "+00:00")) if case.get("now") else None
    if "error" in case:
        with pytest.raises(MarkdownSyntaxError):
            parse(case["input"], case.get("options"), now=now)
    else:
        assert parse(case["input"], case.get("options"), now=now) == case["expected"]


@pytest.mark.parametrize("case", cases(("regressions",)))
def test_a_shortcut_matches_the_reference(case: dict[str, Any]) -> None:
    assert parse(case["input"], case.get("options")) == case["expected"]
