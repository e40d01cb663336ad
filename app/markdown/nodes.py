"""Constructors for the AST's node dicts, key for key as the reference emits them (no parsing
here: what merges or trims is decided by the rules).

A key whose value would be `undefined` in JavaScript is left out, as JSON.stringify drops it.
"""

from __future__ import annotations

from typing import Any

Node = dict[str, Any]


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


def table_cell(value: list[Node], align: str | None) -> Node:
    node: Node = {"type": "TABLE_CELL"}
    if align is not None:
        node["align"] = align
    node["value"] = value
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
