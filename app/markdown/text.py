"""The terminals of inline content (blanks, text runs, words, mentions, inline code), and how
neighbouring text merges once a rule has its items (`reduce_plain_texts`, the reference's name).

Rules:
    Line       = [ \\t]* Text+ [ \\t]*     (Text: letters, digits and most punctuation)
    Mention    = "@"+ name ([:@] name)?    /    "#" name
    InlineCode = "`" [^`\\n]+ "`"
Nothing here refers to another rule, so every rule module may use these.
"""

from __future__ import annotations

import re
from typing import Any

from app.markdown import nodes
from app.markdown.state import Node, Result, State
from app.markdown.unicode_classes import ALNUM_CHAR, NAME_CHAR

WHITESPACE = re.compile(r"[ \t]++")
TEXT_CHAR = re.compile(r"[ -'+-Za-z\x80-\uffff]")
LINE = re.compile(r"([ \t]*+)([ -'+-Za-z\x80-\uffff]++)([ \t]*+)")
NAME = re.compile(f"[{NAME_CHAR}]++")
ALNUM = re.compile(f"[{ALNUM_CHAR}]")
INLINE_CODE = re.compile(r"`([^`\n]++)`")
# Plain words, read in one step. At a letter or digit of WORD, the only rules that could match
# before a run of text are an email or URL (they need "@", ":", "." or "/" before the next
# blank), `word_` (it needs "_" right after the letters), a `#` or `@` right after the first
# letter, an emoticon such as `D:`, `B-)` or `8=)` (their second character is one of `:)_-;=`),
# a keycap emoji (a digit and U+FE0F or U+20E3) and `color:#`. A word of WORD and then
# characters none of those look for, followed by a blank, a line end or the end, is therefore
# one text item; the blanks after it are one whitespace item; so words joined by blanks make
# one text. It begins and ends with a word, so an emoji beside it sees the neighbour text it
# would have seen (a blank neighbour and a text one are not the same to an emoji).
ASCII_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WORD = "[0-9A-Za-z\u00c0-\u1fff]"
# After the first letter, at the top level: not where a text run stops, nor any character above.
_TEXT_TAIL = "[^*_~`:\n<\\[\\]! \t()\\\\|@./#\\-;=\ufe0f\u20e3\r]"
# At the top level a word may also start with ">" (its emoticons need one of `:;=.` next),
# which is what a line of nested quote markers reads as once the first is taken.
TEXT_WORD_CHAR = re.compile("[>0-9A-Za-z\u00c0-\u1fff]")
_TEXT_WORD = f"[>0-9A-Za-z\u00c0-\u1fff]{_TEXT_TAIL}*+"
WORDS = re.compile(f"(?:{_TEXT_WORD}[ \t]++)*{_TEXT_WORD}(?=[ \t\n]|\\Z)")
# Inside a bold or italic (no email or URL there; a text run stops only at a line end, a space
# and the three markers, so a tab is part of a word).
EMPHASIS_TAIL = "[^\n* _~@#\\-;=:)\ufe0f\u20e3]"


def whitespace(s: State, pos: int) -> Result[Node]:
    match = WHITESPACE.match(s.text, pos)
    return (nodes.plain(match.group(0)), match.end()) if match else None


def line(s: State, pos: int) -> Result[Node]:
    match = LINE.match(s.text, pos)
    return (nodes.plain(match.group(0)), match.end()) if match else None


def any_char(s: State, pos: int) -> Result[Node]:
    if pos < s.length and s.text[pos] not in "\r\n":
        return nodes.plain(s.text[pos]), pos + 1
    return None


def user_mention(s: State, pos: int) -> Result[Node]:
    """ "@"+ name ([:@] name)?, unless the name ends in "__" """
    text = s.text
    end = pos
    while text.startswith("@", end):
        end += 1
    if end == pos:
        return None
    name = NAME.match(text, end)
    if not name:
        return None
    stop = name.end()
    if stop < s.length and text[stop] in ":@" and (more := NAME.match(text, stop + 1)):
        stop = more.end()
    value = text[end:stop]
    if value.endswith("__"):
        return None
    return nodes.mention_user(value), stop


def glued_user_mention(s: State, pos: int) -> Result[Node]:
    """Text "@"+ letter reads as text (an address, not a mention); else a mention."""
    if not s.text.startswith("@", pos + 1):
        return user_mention(s, pos)
    if TEXT_CHAR.match(s.text, pos):
        end = pos + 1
        while s.text.startswith("@", end):
            end += 1
        if end > pos + 1 and ALNUM.match(s.text, end):
            return nodes.plain(s.text[pos] + "@" + s.text[end]), end + 1
    return user_mention(s, pos)


def channel_mention(s: State, pos: int) -> Result[Node]:
    """Text "#" letter reads as text; "#" name is a channel."""
    text = s.text
    if pos + 1 >= s.length:
        return None
    if text[pos + 1] == "#" and TEXT_CHAR.match(text, pos) and ALNUM.match(text, pos + 2):
        return nodes.plain(text[pos] + "#" + text[pos + 2]), pos + 3
    if text.startswith("#", pos):
        name = NAME.match(text, pos + 1)
        if name:
            return nodes.mention_channel(name.group(0)), name.end()
    return None


def inline_code(s: State, pos: int) -> Result[Node]:
    match = INLINE_CODE.match(s.text, pos)
    if not match:
        return None
    return nodes.typed("INLINE_CODE", nodes.plain(match.group(1))), match.end()


# JavaScript's String.prototype.trim() whitespace.
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


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
        shown: Node = node["value"]  # the emoticon as typed
        return shown
    return nodes.plain(f":{node['value']['value']}:")


# One letter per node for `reduce_plain_texts`, so that runs are found by a regular expression.
# "e" marks a shortcode or emoticon (they have a shortCode), the emoji that may turn into text;
# a unicode emoji is an "x" like any other node.
_CODE = {"PLAIN_TEXT": "p"}
_PLAIN_RUN = re.compile("pp+")
_EMOJI = re.compile("e")
_SMALL = 24  # nodes


def _codes(flat: list[Node]) -> str:
    return "".join(["e" if "shortCode" in node else _CODE.get(node["type"], "x") for node in flat])


def _merge_small(flat: list[Node], emoji_checked: bool) -> list[Node] | None:
    """The merged list, or None when it holds an emoji and `emoji_checked` is false."""
    merged: list[Node] = []
    pending: list[str] = []  # values of the PLAIN_TEXT run being merged
    for node in flat:
        kind = node["type"]
        if kind == "PLAIN_TEXT":
            pending.append(node["value"])
            if len(pending) == 1:
                merged.append(node)
            continue
        if kind == "EMOJI" and not emoji_checked:
            return None
        if len(pending) > 1:
            merged[-1] = nodes.plain("".join(pending))
        pending = []
        merged.append(node)
    if len(pending) > 1:
        merged[-1] = nodes.plain("".join(pending))
    return merged


def _merge_large(flat: list[Node], codes: str) -> list[Node]:
    merged: list[Node] = []
    done = 0
    for run in _PLAIN_RUN.finditer(codes):
        start, end = run.span()
        merged += flat[done:start]
        merged.append(nodes.plain("".join([node["value"] for node in flat[start:end]])))
        done = end
    if not done:
        return flat
    merged += flat[done:]
    return merged


def _emoji_in_texts(flat: list[Node]) -> list[Node]:
    return [
        _emoji_in_text(node, flat[i - 1] if i else None, flat[i + 1] if i + 1 < len(flat) else None)
        for i, node in enumerate(flat)
    ]


def reduce_plain_texts(values: list[Any]) -> list[Node]:
    """Merge neighbouring PLAIN_TEXT nodes (flattening nested lists), as the reference does.

    A paragraph may hold thousands of nodes, so there the per-node work is kept to list
    comprehensions: the node types become a string whose runs of plain text a regular
    expression finds. A short list (most calls) is merged by a plain loop."""
    if len(values) == 1 and type(values[0]) is not list and values[0]["type"] != "EMOJI":
        return values  # nothing to merge (a fresh list: every caller builds its own)
    flat: list[Node] = values
    if list in map(type, values):
        flat = []
        for value in values:
            if type(value) is list:
                flat.extend(value)
            else:
                flat.append(value)
    if len(flat) <= _SMALL:
        if len(flat) == 1 and flat[0]["type"] != "EMOJI":
            return flat
        merged = _merge_small(flat, emoji_checked=False)
        if merged is not None:
            return merged
        found = _merge_small(_emoji_in_texts(flat), emoji_checked=True)
        assert found is not None
        return found
    codes = _codes(flat)
    if "e" in codes:
        # only shortcodes and emoticons may turn into text; their neighbours are read in the
        # list as it was, as `_emoji_in_texts` reads them
        shown = flat.copy()
        last = len(flat) - 1
        changed = False
        for emoji in _EMOJI.finditer(codes):
            i = emoji.start()
            node = flat[i]
            shown[i] = _emoji_in_text(
                node, flat[i - 1] if i else None, flat[i + 1] if i < last else None
            )
            changed = changed or shown[i] is not node
        if changed:
            flat = shown
            codes = _codes(flat)
    return _merge_large(flat, codes)
