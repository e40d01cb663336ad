"""The terminals of inline content: blanks, text runs, words, mentions and inline code.

Rules:
    Line       = [ \\t]* Text+ [ \\t]*     (Text: letters, digits and most punctuation)
    Mention    = "@"+ name ([:@] name)?    /    "#" name
    InlineCode = "`" [^`\\n]+ "`"
Nothing here refers to another rule, so every rule module may use these.
"""

from __future__ import annotations

import re

from app.markdown import nodes
from app.markdown.state import Node, Result, State
from app.markdown.unicode_classes import ALNUM_CHAR, NAME_CHAR

WHITESPACE = re.compile(r"[ \t]++")
TEXT_CHAR = re.compile(r"[ -'+-Za-z\x80-\uffff]")
LINE = re.compile(r"([ \t]*+)([ -'+-Za-z\x80-\uffff]++)([ \t]*+)")
NAME = re.compile(f"[{NAME_CHAR}]++")
ALNUM = re.compile(f"[{ALNUM_CHAR}]")
INLINE_CODE = re.compile(r"`([^`\n]++)`")
# A letter or digit that starts no item but a run of text (and `word_`, and `D:` style
# emoticons, and mentions and autolinks, all of which need a character after the word that
# the lookaheads below rule out).
WORD = "[0-9A-Za-z\u00c0-\u1fff]"
# Words joined by blanks, the last one followed by a blank, a line end or the end. Each word
# would be one text item (no rule but the text run matches at its first letter: an email or
# URL needs "@", ":", "." or "/" before the next blank, `word_` needs "_"), each blank run
# one whitespace item; merged, they are this one text. It begins and ends with a word, so
# an emoji next to it sees the same neighbour text it would have seen.
WORD_CHAR = re.compile(WORD)
WORDS = re.compile(f"(?:{WORD}++[ \t]++)*{WORD}++(?=[ \t\n]|\\Z)")


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
