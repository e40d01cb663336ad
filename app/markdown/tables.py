"""Tables, GitHub style: a header row, a delimiter row that sets alignment, then rows.

Rules:
    Table     = Row Delimiter Row*
    Row       = "|" (Cell "|")+ EndOfLine?       Cell = ("\\|" / !"|" !EndOfLine (Item / Any))*
    Delimiter = "|" ([ \\t]* ":"? "-"+ ":"? [ \\t]* "|")+ EndOfLine?
The node's fallback is the table's source range, for clients that cannot draw tables.
"""

from __future__ import annotations

import re

from app.markdown import nodes
from app.markdown.state import Node, Result, State
from app.markdown.text import JS_WHITESPACE, any_char, reduce_plain_texts

ALIGNMENT = re.compile(r"[ \t]*+(:?+)-++(:?+)[ \t]*+\|")


def _cell(s: State, pos: int) -> tuple[list[Node], int]:
    content: list[Node] = []
    end = pos
    text = s.text
    while end < s.length:
        if text.startswith("\\|", end):
            content.append(nodes.plain("|"))
            end += 2
            continue
        if text[end] == "|" or s.eol(end) >= 0:
            break
        found = s.item(end) or any_char(s, end)
        if found is None:
            break
        content.append(found[0])
        end = found[1]
    return reduce_plain_texts(content), end


def _row(s: State, pos: int) -> Result[list[list[Node]]]:
    if not s.text.startswith("|", pos):
        return None
    cells: list[list[Node]] = []
    end = pos + 1
    while True:
        content, stop = _cell(s, end)
        if not s.text.startswith("|", stop):
            break
        cells.append(content)
        end = stop + 1
    if not cells:
        return None
    after = s.eol(end)
    return cells, after if after >= 0 else end


def _delimiter(s: State, pos: int) -> Result[list[str | None]]:
    if not s.text.startswith("|", pos):
        return None
    aligns: list[str | None] = []
    end = pos + 1
    while match := ALIGNMENT.match(s.text, end):
        left, right = bool(match.group(1)), bool(match.group(2))
        aligns.append(
            "center" if left and right else "right" if right else "left" if left else None
        )
        end = match.end()
    if not aligns:
        return None
    after = s.eol(end)
    return aligns, after if after >= 0 else end


def _trimmed_cell(value: list[Node]) -> list[Node]:
    """A table cell's content without the blanks around it (the reference's trim)."""
    cell = list(value)
    if cell and cell[0]["type"] == "PLAIN_TEXT":
        text = cell[0]["value"].lstrip(JS_WHITESPACE)
        if text:
            cell[0] = nodes.plain(text)
        else:
            cell.pop(0)
    if cell and cell[-1]["type"] == "PLAIN_TEXT":
        text = cell[-1]["value"].rstrip(JS_WHITESPACE)
        if text:
            cell[-1] = nodes.plain(text)
        else:
            cell.pop()
    return cell


def table(s: State, pos: int) -> Result[Node]:
    header = _row(s, pos)
    if header is None:
        return None
    aligns = _delimiter(s, header[1])
    if aligns is None:
        return None
    rows: list[list[list[Node]]] = []
    end = aligns[1]
    while (row := _row(s, end)) is not None:
        rows.append(row[0])
        end = row[1]
    header_cells = [_trimmed_cell(cell) for cell in header[0]]
    body = [[_trimmed_cell(cell) for cell in row] for row in rows]
    return nodes.table(header_cells, aligns[0], body, [pos, end]), end
