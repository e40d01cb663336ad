"""Inline content: the item dispatcher, and the small inline rules.

Rules:
    Inline     = (Item / Any)+ EndOfLine?
    Item       = chosen by the next character (see `item`), else email, URL, emphasis,
                 channel mention, emoji, emoticon, colour, or a run of ordinary text
    Any        = one character that is not a line end
    Line       = [ \\t]* Text+ [ \\t]*     (Text: letters, digits and most punctuation)
    Mention    = "@"+ name ([:@] name)?    /    "#" name
    InlineCode = "`" [^`\\n]+ "`"
    Spoiler    = "||" (!"||" (Item / Any))+ "||"
    Color      = "color:#" (3 or 4 hex pairs / 3 or 4 hex digits), not followed by Text
"""

from __future__ import annotations

import re
from typing import cast

from app.markdown import emoji, emphasis, nodes, text, urls
from app.markdown.state import POS_SHIFT, Memo, Needs, Node, Result, State
from app.markdown.text import reduce_plain_texts

HEX_PAIRS = re.compile(r"(?:[0-9A-Fa-f]{2}){3,4}+")
HEX_DIGITS = re.compile(r"[0-9A-Fa-f]{3,4}+")
TEXT_STOP = re.compile(r"[*_~`:\n<\[\]! \t()\\|]")
ESCAPABLE = frozenset("*_~`#.")
EMAIL_STOP = re.compile(r"[ \t\r\n@]")
URL_STOP = re.compile(r"[ \t\r\n:./@]")


def _katex_delimiters(s: State, pos: int) -> tuple[str, int] | None:
    if s.katex_parenthesis and s.text.startswith("\\(", pos):
        return "\\(", pos + 2
    if s.katex_dollar and s.text.startswith("$", pos):
        return "$", pos + 1
    return None


# What closes inline KaTeX, by which syntaxes are on: (parenthesis, dollar) -> pattern.
_KATEX_CLOSE = {
    (True, True): re.compile(r"\\\)|\$"),
    (True, False): re.compile(r"\\\)"),
    (False, True): re.compile(r"\$"),
}


def inline_katex(s: State, pos: int) -> Result[Node]:
    """KatexInline = open ([^$\\\\\\r\\n] / !close .)* close: the content runs to the first
    closer, line ends included (found through `next_of`, so runs of openers stay linear)."""
    opened = _katex_delimiters(s, pos)
    if opened is None:
        return None
    start = opened[1]
    end = s.next_of(_KATEX_CLOSE[s.katex_parenthesis, s.katex_dollar], start)
    if end < 0:
        return None
    close = end + 2 if s.text.startswith("\\)", end) else end + 1
    return nodes.typed("INLINE_KATEX", s.text[start:end]), close


def escaped(s: State, pos: int) -> Result[Node]:
    if s.text.startswith("\\", pos) and pos + 1 < s.length and s.text[pos + 1] in ESCAPABLE:
        return nodes.plain(s.text[pos + 1]), pos + 2
    return None


def _spoiler_item(s: State, pos: int) -> Result[Node]:
    if s.text.startswith("||", pos):
        return None
    return s.item(pos) or text.any_char(s, pos)


def spoiler(s: State, pos: int) -> Result[Node]:
    """Spoiler = "||" (!"||" (Item / Any))+ "||" """
    text = s.text
    if not text.startswith("||", pos) or not s.occurs_after("||", pos + 3):
        return None
    end = s.repeat_end(Memo.SPOILER_ITEMS, _spoiler_item, pos + 2)
    if end == pos + 2 or not text.startswith("||", end):
        return None
    content = s.collect(Memo.SPOILER_ITEMS, _spoiler_item, pos + 2, end)
    return nodes.typed("SPOILER", reduce_plain_texts(content)), end + 2


def color(s: State, pos: int) -> Result[Node]:
    """Color = "color:#" (HexPair{3,4} / HexDigit{3,4}) !Text"""
    if not s.colors or not s.text.startswith("color:#", pos):
        return None
    start = pos + 7
    pairs = HEX_PAIRS.match(s.text, start)
    if pairs:
        digits = pairs.group(0)
        channels = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
        end = pairs.end()
    else:
        singles = HEX_DIGITS.match(s.text, start)
        if not singles:
            return None
        channels = [int(digit * 2, 16) for digit in singles.group(0)]
        end = singles.end()
    if text.TEXT_CHAR.match(s.text, end):
        return None
    return nodes.color(*channels), end


def dash(s: State, pos: int) -> Result[Node]:
    """ "-" before "_-" and a character is a plain dash (so `-_-x` is no emoticon)."""
    if s.text.startswith("-_-", pos) and pos + 3 < s.length:
        return nodes.plain("-"), pos + 1
    return None


def _emoticon_neighbour(s: State, pos: int) -> bool:
    if pos >= s.length:
        return True
    return s.text[pos] in "\r\n \t*"


def free_emoticon(s: State, pos: int) -> Result[Node]:
    """An emoticon followed by a blank, a line end, "*", the end, or another item."""
    found = emoji.emoticon(s, pos)
    if found is None:
        return None
    end = found[1]
    if _emoticon_neighbour(s, end) or s.item(end) is not None:
        return found
    return None


# After the "@" of an address or the "." of a host, these leave no domain to read.
_NO_DOMAIN_AFTER = frozenset(" \t\r\n")


_EMAIL_STOPS = frozenset(" \t\r\n@")
_URL_STOPS = frozenset(" \t\r\n:./@")
_TEXT_STOPS = frozenset("*_~`:\n<[]! \t()\\|")


def _next_stop(s: State, pos: int, stop: re.Pattern[str], stops: frozenset[str]) -> int:
    """`s.next_of(stop, pos + 1)` for a rule whose first character is no stop, looking at the
    next character first: one-letter words stop there, and need no scan."""
    if pos + 1 < s.length and s.text[pos + 1] in stops:
        return pos + 1
    return s.next_of(stop, pos + 1)


def email(s: State, pos: int) -> Result[Node]:
    """An address, tried only when [^ \\t\\r\\n@]* "@" is ahead with something after the "@"
    that a domain may start with. (`_next_stop` written out: this and `url` are asked at
    every character of a run of letters that no word rule reads, such as emoji.)"""
    text = s.text
    stop = pos + 1
    if stop >= s.length or text[stop] not in _EMAIL_STOPS:
        stop = s.next_of(EMAIL_STOP, stop)
    if stop < 0 or text[stop] != "@" or stop + 1 >= s.length or text[stop + 1] in _NO_DOMAIN_AFTER:
        return None
    return urls.autolinked_email(s, pos)


def url(s: State, pos: int) -> Result[Node]:
    """A URL, tried only when [^ \\t\\r\\n:./@]* ("://" / ".") is ahead and, after a ".",
    something a host may go on with (a "." before a blank or the end is no host's, so "1. "
    is no URL; but "localhost" is a host without one, and "localhost." a URL)."""
    text = s.text
    stop = pos + 1
    if stop >= s.length or text[stop] not in _URL_STOPS:
        stop = s.next_of(URL_STOP, stop)
    if stop < 0:
        return None
    if text[stop] == ".":
        if (stop + 1 >= s.length or text[stop + 1] in _NO_DOMAIN_AFTER) and not text.startswith(
            "localhost", pos
        ):
            return None
    elif not text.startswith("://", stop):
        return None
    return urls.autolinked_url(s, pos)


# The high surrogates of the emoji planes. At one of them the item table tries an address, a
# URL and a channel, then an emoji (tests/test_markdown_nodes.py checks that order).
EMOJI_RUN_STARTS = "\ud83c\ud83d\ud83e"


def emoji_run(s: State, pos: int) -> Result[Node]:
    """An address, a URL or a channel at `pos`, else the unicode emoji that follow one another
    from `pos`, in one step: each of them is the item at its start, read as the item table
    would, one by one.

    At every emoji of the run the table first tries an address and a URL, which look ahead to
    the same stop from each of them (a blank, "@", ":" or "."; no emoji holds one), and a
    channel, which needs a "#" there or next; when those fail at the first emoji they fail at
    all of them. The emoji come back as a list, which the items around are flattened with."""
    found = email(s, pos) or url(s, pos) or text.channel_mention(s, pos)
    if found is not None:
        return found
    chars, length = s.text, s.length
    limit = length
    for stop in (s.next_of(EMAIL_STOP, pos + 1), s.next_of(URL_STOP, pos + 1)):
        if 0 <= stop < limit:
            limit = stop
    run: list[Node] = []
    end = pos
    while True:
        match = emoji.UNICODE_EMOJI.match(chars, end)
        if match is None or match.end() > limit:
            break
        run.append(nodes.emoji_unicode(match.group(0)))
        end = match.end()
        if end + 1 >= limit or chars[end] not in EMOJI_RUN_STARTS or chars[end + 1] == "#":
            break
    if not run:
        return None
    return (run[0] if len(run) == 1 else cast(Node, run)), end


def underscore_domain(s: State, pos: int) -> Result[Node]:
    """ "_" DomainName, not followed by another "_": plain text, so no italic opens there."""
    if not s.text.startswith("_", pos):
        return None
    if s.lacks & Needs.DOT_OR_COLON and not s.text.startswith("localhost", pos + 1):
        return None  # a domain name is "localhost" or has a dot
    end = urls.domain_name(s, pos + 1)
    if end < 0:
        return None
    if end < s.length and s.text[end] == "_":
        return None
    return nodes.plain(s.text[pos:end]), end


def words(s: State, pos: int) -> Result[Node]:
    match = text.WORDS.match(s.text, pos)
    return (nodes.plain(match.group(0)), match.end()) if match else None


def word_emphasis(s: State, pos: int) -> Result[Node]:
    """At a letter or digit only `word_` (text, not italic) can start an emphasis."""
    return emphasis.emphasis(s, pos) if emphasis.WORD_UNDERSCORE.match(s.text, pos) else None


def text_run(s: State, pos: int) -> Result[Node]:
    """A run of characters up to a TEXT_STOP (tried only where one starts)."""
    end = _next_stop(s, pos, TEXT_STOP, _TEXT_STOPS)
    if end < 0:
        end = s.length
    return (nodes.plain(s.text[pos:end]), end) if end > pos else None


# Runs of one delimiter where no item starts: when the item at the start of a run of one of
# these characters fails, it fails at every later position of the run but the last few (how
# many: the value), because what an item there looks at is the same from each of them.
#   "*": an emphasis needs an item after "*" or "**", and none starts at "*" followed by "*"
#        (the emoticons and keycaps that start with "*" do not go on with "*"); "`**  **`"
#        style blanks depend only on where the run ends;
#   "_", "~": the same, one closer;  "|": a spoiler needs an item that is not "||";
#   "[": a link title read from inside the run runs to the same place;
#   "`", "<": code needs a character other than "`" next, a target one other than "<";
#   ":", "(", ")", "]", "!", "\\": nothing starts there with the same character next (no
#        emoji, emoticon, image, escape or URL).
# Reading those positions one by one costs a dozen rule calls each, which is what made runs
# of 5,000 delimiters slow; skipping them gives the same text.
_RUN_KEEP = {"*": 3, "_": 2, "~": 2, "|": 3, "[": 1, "`": 1, "<": 1}
_RUN_KEEP.update(dict.fromkeys(":()]!\\", 1))
_NOT_SAME = {char: re.compile(f"[^{re.escape(char)}]") for char in _RUN_KEEP}
# The shortest run of each that has a position to skip (two more than it keeps).
_SKIPPABLE = {char: char * (keep + 2) for char, keep in _RUN_KEEP.items()}


def _dead_run_end(s: State, pos: int) -> int:
    """Where the items that cannot start in the delimiter run at `pos` end (pos: none, and
    also when the run is too short to skip anything)."""
    text = s.text
    char = text[pos]
    keep = _RUN_KEEP.get(char)
    if keep is None or not text.startswith(_SKIPPABLE[char], pos):
        return pos
    return s.span(_NOT_SAME[char], pos) - keep


def inline(s: State, pos: int) -> Result[list[Node]]:
    """Inline = (Item / Any)+ EndOfLine?"""
    content: list[Node] = []
    text, length = s.text, s.length
    # `State.item` written out (the memo lookup), as this loop asks at nearly every position
    memo, item, tag = s.memo, s.grammar.item, s.item_tag()
    end = pos
    while True:
        slot = (end << POS_SHIFT) | tag
        if slot in memo:
            found = memo[slot]
        else:
            found = memo[slot] = item(s, end)
        if found is not None:
            content.append(found[0])
            end = found[1]
            continue
        if end >= length or text[end] in "\r\n":
            break
        skip = _dead_run_end(s, end)
        if skip > end + 1:
            content.append(nodes.plain(text[end:skip]))
            end = skip
        else:
            content.append(nodes.plain(text[end]))  # Any
            end += 1
    if not content:
        return None
    after = s.eol(end)
    return reduce_plain_texts(content), after if after >= 0 else end
