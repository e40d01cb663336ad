"""The typed MarkdownNode tree: lossless against Rocket.Chat's JSON, and complete in queries/."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from app.graphql import markdown_nodes as md
from app.markdown import parse
from tests.helpers import ROOT, GraphQL

FIXTURES = ROOT / "tests" / "fixtures" / "markdown"

PLAIN_VALUED = {"INLINE_CODE", "CODE_LINE", "MENTION_USER", "MENTION_CHANNEL"}
FALLBACK = {"TIMESTAMP", "TABLE", "HORIZONTAL_RULE"}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "PLAIN_TEXT", "value": text}


def back_to_json(node: Any) -> dict[str, Any]:
    """Rocket.Chat's JSON again, from the typed node alone (what a client can rebuild)."""
    kind = node.type
    out: dict[str, Any] = {"type": kind}
    if isinstance(node, md.UnknownMarkdownNode):
        return dict(cast(dict[str, Any], node.raw))
    if kind == "PLAIN_TEXT":
        out["value"] = node.text
    elif kind in PLAIN_VALUED:
        out["value"] = _plain(node.text)
    elif kind in ("KATEX", "INLINE_KATEX"):
        out["value"] = node.text
    elif kind in ("LINK", "IMAGE"):
        label = [back_to_json(child) for child in node.label]
        out["value"] = {"src": _plain(node.src), "label": label if kind == "LINK" else label[0]}
    elif kind == "EMOJI":
        if node.unicode is not None:
            out["unicode"] = node.unicode
        else:
            out["value"] = _plain(node.emoticon or node.short_code)
            out["shortCode"] = node.short_code
    elif kind == "COLOR":
        out["value"] = {"r": node.r, "g": node.g, "b": node.b, "a": node.a}
    elif kind == "TIMESTAMP":
        out["value"] = {"timestamp": node.timestamp, "format": node.format}
    elif kind == "TABLE":
        out["value"] = {
            "header": [back_to_json(cell) for cell in node.header],
            "rows": [back_to_json(row) for row in node.rows],
        }
    elif kind not in ("LINE_BREAK", "HORIZONTAL_RULE"):
        out["value"] = [back_to_json(child) for child in node.children]
    for field, key in (("language", "language"), ("level", "level"), ("checked", "status")):
        if hasattr(node, field):
            out[key] = getattr(node, field)
    if kind == "LIST_ITEM" and node.number is not None:
        out["number"] = node.number
    if kind == "TABLE_CELL" and node.align is not None:
        out["align"] = node.align
    if kind in FALLBACK and node.fallback is not None:
        out["fallback"] = node.fallback
    return out


def corpus_cases() -> list[Any]:
    """Every tree of the corpora, as a case named by its corpus and id."""
    cases = []
    for corpus in ("public-cases", "dev-fuzz"):
        for line in (FIXTURES / f"{corpus}.expected.jsonl").read_text().splitlines():
            case = json.loads(line)
            if "expected" in case:
                cases.append(pytest.param(case["expected"], id=f"{corpus}:{case['id']}"))
    return cases


def corpus_trees() -> list[Any]:
    return [case.values[0] for case in corpus_cases()]


@pytest.mark.parametrize("tree", corpus_cases())
def test_a_corpus_tree_converts_losslessly_and_without_unknown_nodes(tree: list[Any]) -> None:
    typed = md.from_json(tree)
    assert not any(isinstance(node, md.UnknownMarkdownNode) for node in typed)
    assert [back_to_json(node) for node in typed] == tree


def test_a_node_type_from_a_newer_server_is_kept_raw() -> None:
    future: dict[str, Any] = {"type": "POLL", "value": {"question": "lunch?"}}
    [paragraph] = md.from_json([{"type": "PARAGRAPH", "value": [future]}])
    assert isinstance(paragraph, md.Paragraph)
    [unknown] = paragraph.children
    assert isinstance(unknown, md.UnknownMarkdownNode)
    assert unknown.type == "POLL"
    assert cast(dict[str, Any], unknown.raw) == future


@pytest.mark.parametrize(
    "broken",
    [{"type": "BOLD"}, {"type": "LINK", "value": "x"}, {"type": "COLOR", "value": {"r": "1"}}, 7],
    ids=["no-value", "link-without-parts", "colour-not-numbers", "not-an-object"],
)
def test_a_malformed_node_is_kept_raw_instead_of_failing(broken: Any) -> None:
    [node] = md.from_json([broken])
    assert isinstance(node, md.UnknownMarkdownNode)
    assert node.raw == broken


def test_a_single_link_label_becomes_a_list() -> None:
    [link] = md.from_json(
        [{"type": "LINK", "value": {"src": _plain("https://x.org"), "label": _plain("x")}}]
    )
    assert isinstance(link, md.Link)
    assert [node.text for node in link.label] == ["x"]  # type: ignore[union-attr]


# The deepest trees the grammar allows: a self-nesting rule cannot reopen inside itself, so at
# most one each of spoiler, link, bold, italic and strike stack under a block.
DEEPEST = [
    "> ||[**_~x~_**](https://a.com)||",
    "- [x] ||[*_~@x~_*](https://a.com)||",
    "| h |\n| - |\n| [**_~x~_**](https://a.com) |",
    "1. ||[__*~:smile:~*__](https://a.com)||",
]


def depth(node: Any) -> int:
    """Levels of MarkdownNode a query must select to reach every node of the tree."""
    if isinstance(node, list):
        return max((depth(child) for child in node), default=0)
    value = node.get("value")
    if node["type"] in ("LINK", "IMAGE"):
        value = value["label"]
    elif node["type"] == "TABLE":
        value = value["header"] + value["rows"]
    return 1 + (depth(value) if isinstance(value, list) else 0)


def test_the_deepest_trees_are_eight_levels_and_the_corpora_stay_within() -> None:
    assert [depth(parse(text)) for text in DEEPEST] == [8, 8, 8, 8]
    assert max(depth(tree) for tree in corpus_trees()) <= 8


@pytest.mark.parametrize("text", DEEPEST)
async def test_the_shipped_fragment_brings_the_deepest_tree_whole(
    graphql: GraphQL, text: str
) -> None:
    await graphql.visitor()
    rid = (await graphql.room())["room"]["id"]
    message = (await graphql.send(token="visitor-token", rid=rid, msg=text))["message"]
    typed = md.from_json(message["mdJson"])
    assert message["md"] == [_as_graphql(node) for node in typed]


def _as_graphql(node: Any) -> dict[str, Any]:
    """What the shipped fragment selects for a typed node: every field, camelCased."""
    out: dict[str, Any] = {"__typename": type(node).__name__}
    for name, value in vars(node).items():
        key = "".join(part.title() if i else part for i, part in enumerate(name.split("_")))
        if isinstance(value, list) and value and not isinstance(value[0], int):
            out[key] = [_as_graphql(child) for child in value]
        else:
            out[key] = value
    return out
