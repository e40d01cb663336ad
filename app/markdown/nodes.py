"""Constructors for the AST's node dicts, key for key as the reference emits them.

A key whose value would be `undefined` in JavaScript is left out, as JSON.stringify drops it.
"""

from __future__ import annotations

from typing import Any

Node = dict[str, Any]

# JavaScript's String.prototype.trim() whitespace.
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def plain(value: str) -> Node:
    return {"type": "PLAIN_TEXT", "value": value}


def typed(kind: str, value: Any) -> Node:
    return {"type": kind, "value": value}


def paragraph(value: list[Node]) -> Node:
    return typed("PARAGRAPH", value)


def bold(value: list[Node]) -> Node:
    return typed("BOLD", value)


def italic(value: list[Node]) -> Node:
    return typed("ITALIC", value)


def strike(value: list[Node]) -> Node:
    return typed("STRIKE", value)


def color(r: int, g: int, b: int, a: int = 255) -> Node:
    return {"type": "COLOR", "value": {"r": r, "g": g, "b": b, "a": a}}


def heading(value: list[Node], level: int) -> Node:
    return {"type": "HEADING", "level": level, "value": value}


def code(lines: list[Node], language: str | None) -> Node:
    return {"type": "CODE", "language": language or "none", "value": lines}


def code_line(text: Node) -> Node:
    return typed("CODE_LINE", text)


def task(value: list[Node], status: bool) -> Node:
    return {"type": "TASK", "status": status, "value": value}


def list_item(value: list[Node], number: float | None = None) -> Node:
    node: Node = {"type": "LIST_ITEM", "value": value}
    if number is not None:
        node["number"] = number
    return node


def link(src: str, label: list[Node] | None = None) -> Node:
    return {
        "type": "LINK",
        "value": {"src": plain(src), "label": label if label is not None else [plain(src)]},
    }


def image(src: str, label: Node | None = None) -> Node:
    return {"type": "IMAGE", "value": {"src": plain(src), "label": label or plain(src)}}


def mention_user(name: str) -> Node:
    return typed("MENTION_USER", plain(name))


def mention_channel(name: str) -> Node:
    return typed("MENTION_CHANNEL", plain(name))


def emoji(short_code: str) -> Node:
    return {"type": "EMOJI", "value": plain(short_code), "shortCode": short_code}


def emoji_unicode(characters: str) -> Node:
    return {"type": "EMOJI", "unicode": characters}


def emoticon(text: str, short_code: str) -> Node:
    return {"type": "EMOJI", "value": plain(text), "shortCode": short_code}


def line_break() -> Node:
    return {"type": "LINE_BREAK"}


def horizontal_rule(fallback: list[int]) -> Node:
    return {"type": "HORIZONTAL_RULE", "fallback": fallback}


def timestamp(value: str, style: str | None, fallback: list[int]) -> Node:
    return {
        "type": "TIMESTAMP",
        "value": {"timestamp": value, "format": style or "t"},
        "fallback": fallback,
    }


def _trimmed_cell(value: list[Node]) -> list[Node]:
    """A table cell's content without the blanks around it (the reference's trim)."""
    cell = list(value)
    if cell and cell[0]["type"] == "PLAIN_TEXT":
        text = cell[0]["value"].lstrip(JS_WHITESPACE)
        if text:
            cell[0] = plain(text)
        else:
            cell.pop(0)
    if cell and cell[-1]["type"] == "PLAIN_TEXT":
        text = cell[-1]["value"].rstrip(JS_WHITESPACE)
        if text:
            cell[-1] = plain(text)
        else:
            cell.pop()
    return cell


def table_cell(value: list[Node], align: str | None) -> Node:
    node: Node = {"type": "TABLE_CELL"}
    if align is not None:
        node["align"] = align
    node["value"] = _trimmed_cell(value)
    return node


def table(
    header: list[list[Node]],
    aligns: list[str | None],
    rows: list[list[list[Node]]],
    fallback: list[int],
) -> Node:
    def align(index: int) -> str | None:
        return aligns[index] if index < len(aligns) else None

    return {
        "type": "TABLE",
        "value": {
            "header": [table_cell(cell, align(i)) for i, cell in enumerate(header)],
            "rows": [
                typed(
                    "TABLE_ROW",
                    [
                        table_cell(row[i] if i < len(row) else [], align(i))
                        for i in range(len(header))
                    ],
                )
                for row in rows
            ],
        },
        "fallback": fallback,
    }


def _is_blank(node: Node | None) -> bool:
    return node is None or node["type"] != "PLAIN_TEXT" or not node["value"].strip(JS_WHITESPACE)


def _emoji_in_text(node: Node, before: Node | None, after: Node | None) -> Node:
    """A shortcode or emoticon touching text or another emoji reads as text, as in the reference."""
    if node["type"] != "EMOJI" or "value" not in node or (before is None and after is None):
        return node
    next_to_emoji = (before is not None and before["type"] == "EMOJI") or (
        after is not None and after["type"] == "EMOJI"
    )
    next_to_text = not _is_blank(before) or not _is_blank(after)
    if not (next_to_emoji or next_to_text):
        return node
    if node["shortCode"] != node["value"]["value"]:
        return node["value"]  # type: ignore[no-any-return]
    return plain(f":{node['value']['value']}:")


def reduce_plain_texts(values: list[Any]) -> list[Node]:
    """Merge neighbouring PLAIN_TEXT nodes (flattening nested lists), as the reference does."""
    flat: list[Node] = []
    has_emoji = False
    for value in values:
        if type(value) is list:
            flat.extend(value)
            has_emoji = True
        else:
            flat.append(value)
            if value["type"] == "EMOJI":
                has_emoji = True
    if has_emoji:
        flat = [
            _emoji_in_text(
                node, flat[i - 1] if i else None, flat[i + 1] if i + 1 < len(flat) else None
            )
            for i, node in enumerate(flat)
        ]
    merged: list[Node] = []
    pending: list[str] = []  # values of the PLAIN_TEXT run being merged
    for node in flat:
        if node["type"] == "PLAIN_TEXT":
            pending.append(node["value"])
            if len(pending) == 1:
                merged.append(node)
            continue
        if len(pending) > 1:
            merged[-1] = plain("".join(pending))
        pending = []
        merged.append(node)
    if len(pending) > 1:
        merged[-1] = plain("".join(pending))
    return merged
