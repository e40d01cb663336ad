"""Properties that hold for every input, found by hypothesis rather than listed by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.markdown import MarkdownSyntaxError, parse

OPTIONS = st.sampled_from(
    [
        {},
        {"emoticons": True, "colors": True},
        {"katex": {"dollarSyntax": True, "parenthesisSyntax": True}, "customDomains": ["local"]},
    ]
)
MARKUP = "*_~`[]()<>|!@#:;.,-+=$\\/ \t\n\r"
markup_heavy = st.text(alphabet=st.sampled_from(list(MARKUP) + list("ab1😀é")), min_size=1)
# Words and spaces only: nothing here is markup, so it must all come back as text.
PROSE = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 ,?'\"éßПр"
prose_line = st.text(alphabet=PROSE, min_size=1).filter(lambda line: line.strip() != "")


def plain_texts(node: Any) -> str:
    """All PLAIN_TEXT of a tree, in order."""
    if isinstance(node, list):
        return "".join(plain_texts(child) for child in node)
    if isinstance(node, dict):
        if node.get("type") == "PLAIN_TEXT":
            return str(node["value"])
        return "".join(plain_texts(value) for key, value in node.items() if key != "type")
    return ""


@settings(max_examples=300, deadline=None)
@given(text=st.text(min_size=1), options=OPTIONS)
def test_never_raises_on_a_non_empty_message(text: str, options: dict[str, Any]) -> None:
    tree = parse(text, options)
    assert tree and all(isinstance(node, dict) and "type" in node for node in tree)
    json.dumps(tree)


@settings(max_examples=300, deadline=None)
@given(text=markup_heavy, options=OPTIONS)
def test_never_raises_on_markup_soup(text: str, options: dict[str, Any]) -> None:
    assert parse(text, options)


def test_only_the_empty_message_is_an_error() -> None:
    with pytest.raises(MarkdownSyntaxError):
        parse("")
    assert parse(" ") == [{"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": " "}]}]


@settings(max_examples=300, deadline=None)
@given(line=prose_line)
def test_a_line_of_prose_comes_back_whole(line: str) -> None:
    assert parse(line) == [{"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": line}]}]


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(prose_line, min_size=1, max_size=6))
def test_no_text_is_lost_across_lines(lines: list[str]) -> None:
    tree = parse("\n".join(lines))
    assert [node["type"] for node in tree] == ["PARAGRAPH"] * len(lines)
    assert [plain_texts(node) for node in tree] == lines
