"""Bold, italic and strike, which may nest in one another but never in themselves.

Rules:
    Bold      = "**" BoldItem+ "**" / "*" BoldItem+ "*"
    Italic    = word "_" "_"?                          (snake_case stays text)
              / "__" ItalicItem+ "__" word / "_" ItalicItem+ "_" letters   (text, not italic)
              / "__" ItalicItem+ "__" / "_" ItalicItem+ "_"
    Strike    = "~~" StrikeItem+ "~~" / "~" StrikeItem+ "~"
    Blank     = "*"+ [ \\t]+ "*"+ (and the same for "_" and "~"): plain text
Each content item is one of the inline items the reference allows there (code, timestamp,
reference, mentions, the other two emphases, emoji, emoticon), else a run of text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import cast

from app.markdown import emoji, nodes, text
from app.markdown.state import Flag, Memo, Node, Result, State, unnested
from app.markdown.text import reduce_plain_texts

Rule = Callable[[State, int], Result[Node]]

WORD_UNDERSCORE = re.compile(r"[a-zA-Z0-9]++__?+")
WORD = re.compile(r"[a-zA-Z0-9]++")
LETTERS = re.compile(r"[a-zA-Z]++")
BOLD_STOP = re.compile(r"[\n* _~]")
ITALIC_STOP = re.compile(r"[\n_ *~]")
STRIKE_STOP = re.compile(r"[\n~ *_:`@#\[\]\\<!|\ud83c\ud83d\ud83e\u2300-\u27bf\u2600-\u26ff]")
STRIKE_CHAR = re.compile(r"[^\n~ ]")


NOT_MARKER = {marker: re.compile(f"[^{re.escape(marker)}]") for marker in "*_~"}
NOT_BLANK = re.compile(r"[^ \t]")
_BLANKS = (" ", "\t")


def whitespace_emphasis(s: State, pos: int) -> Result[Node]:
    """Markers around blanks only, e.g. `** **`, stay text."""
    if pos >= s.length or s.text[pos] not in NOT_MARKER:
        return None
    marker = s.text[pos]
    following = s.text[pos + 1 : pos + 2]
    if following != marker and following not in _BLANKS:
        return None  # neither more markers nor blanks next (the common case, as in "*a")
    not_marker = NOT_MARKER[marker]
    blanks = s.span(not_marker, pos)
    closer = s.span(NOT_BLANK, blanks)
    if closer == blanks or not s.text.startswith(marker, closer):
        return None
    end = s.span(not_marker, closer)
    return nodes.plain(s.text[pos:end]), end


def _text_run(stop: re.Pattern[str]) -> Rule:
    """A run of plain text up to the first character `stop` matches."""

    def rule(s: State, pos: int) -> Result[Node]:
        if stop.match(s.text, pos):
            return None  # an empty run (no scan: the last answer may be for another run)
        end = s.span(stop, pos)
        return (nodes.plain(s.text[pos:end]), end) if end > pos else None

    return rule


def _plain(pattern: re.Pattern[str]) -> Rule:
    def rule(s: State, pos: int) -> Result[Node]:
        match = pattern.match(s.text, pos)
        return (nodes.plain(match.group(0)), match.end()) if match else None

    return rule


def _closed_end(key: Memo, item: Rule, s: State, pos: int, closer: str) -> int:
    """Where Items+ from `pos` end when `closer` follows them (the closer is not consumed), or
    -1. Without a closer ahead the items are not read at all, and a match's items are listed
    (`_content`) only once the whole rule around them has matched."""
    if not s.occurs_after(closer, pos + 1):
        return -1
    end = s.repeat_end(key, item, pos)
    if end == pos or not s.text.startswith(closer, end):
        return -1
    return end


def _content(key: Memo, item: Rule, s: State, pos: int, end: int) -> list[Node]:
    return reduce_plain_texts(s.collect(key, item, pos, end))


def _fallback(s: State, pos: int, stop: re.Pattern[str], alone: str) -> Result[Node]:
    """What a bold or italic holds where none of its items starts: a run of text up to `stop`
    / one character other than a line end, a space or its own marker (of the stops, those in
    `alone`) / a Line. Chosen by the character: the run is empty exactly at a stop, and a Line
    starts at no stop but a space."""
    if pos >= s.length:
        return None
    char = s.text[pos]
    if not stop.match(char):
        end = s.span(stop, pos)
        return nodes.plain(s.text[pos:end]), end
    if char in alone:
        return nodes.plain(char), pos + 1
    return text.line(s, pos) if char == " " else None


def _emoticon_before(s: State, pos: int, follows: Callable[[State, int], bool]) -> Result[Node]:
    """An emoticon followed by what a bold or italic may hold next (tried only where one
    starts: the callers look at the first two characters)."""
    found = emoji.emoticon(s, pos)
    if found is None:
        return None
    end = found[1]
    if end >= s.length or s.text[end] in "\r\n \t*" or follows(s, end):
        return found
    return None


# ---- bold ----


def _bold_preferred(s: State, pos: int) -> Result[Node]:
    found = s.grammar.bold_content(s, pos)
    if found is None and s.text[pos : pos + 2] in emoji.EMOTICON_PREFIXES:
        return _emoticon_before(s, pos, _bold_goes_on)
    return found


def _bold_goes_on(s: State, pos: int) -> bool:
    return _bold_preferred(s, pos) is not None


# Words joined by blanks (see text.WORDS), the last one before a space, a line end, "*" or "~",
# where a bold's own text run stops; the blanks between are whitespace items. No other item
# starts at one of the words: code, links, timestamps and mentions need their own first
# character ("@" and "#" also end a word, for a letter glued to them), and `word_`, a keycap
# and the emoticons that start with a letter or digit (`D:`, `B-)`, `8)`, `O:)`, `O_O`, ...)
# need a second character that EMPHASIS_TAIL leaves out and that is not one of " \n*~".
_EMPHASIS_WORD = f"{text.WORD}{text.EMPHASIS_TAIL}*+"
BOLD_WORDS = re.compile(f"(?:{_EMPHASIS_WORD} [ \t]*+)*{_EMPHASIS_WORD}(?=[ \n*~]|\\Z)")
# The same in an italic, which may also end at "_" (no `word_` is tried inside an italic),
# except at a last word "O" before "_O": the emoticon `O_O` (the only one whose first character
# is a word's and whose second may follow a word here) is an item that starts there.
ITALIC_WORDS = re.compile(f"(?:{_EMPHASIS_WORD} [ \t]*+)*(?!O_O){_EMPHASIS_WORD}(?=[ \n*_~]|\\Z)")


def _bold_item(s: State, pos: int) -> Result[Node]:
    match = BOLD_WORDS.match(s.text, pos)
    if match:
        return nodes.plain(match.group(0)), match.end()
    return _bold_preferred(s, pos) or _fallback(s, pos, BOLD_STOP, "_~")


def _delimited(
    s: State, pos: int, marker: str, key: Memo, item: Rule, wrap: Callable[[list[Node]], Node]
) -> Result[Node]:
    """marker marker Items marker marker / marker Items marker"""
    text = s.text
    if not text.startswith(marker, pos):
        return None
    if text.startswith(marker, pos + 1):
        start = pos + 2
        end = _closed_end(key, item, s, start, marker * 2)
        if end >= 0:
            return wrap(_content(key, item, s, start, end)), end + 2
    end = _closed_end(key, item, s, pos + 1, marker)
    if end >= 0:
        return wrap(_content(key, item, s, pos + 1, end)), end + 1
    return None


# After a closing "*", what lets an item start at that "*" (a keycap, or the emoticons `*)`,
# `*-)`, `*\\0/*`), so that the bold's items would not end there.
_AFTER_STAR = frozenset(")-\\\ufe0f\u20e3")


def _bold(s: State, pos: int) -> Result[Node]:
    text = s.text
    if text.startswith("*", pos) and not text.startswith("*", pos + 1):
        # "*" words "*": the words are the first item (`_bold_item` reads them first) and no
        # item starts at the "*" after them, so the answer is known without the repetition.
        words = BOLD_WORDS.match(text, pos + 1)
        if words:
            end = words.end()
            if text.startswith("*", end) and (
                end + 1 >= s.length or text[end + 1] not in _AFTER_STAR
            ):
                return nodes.bold([nodes.plain(words.group(0))]), end + 1
    return _delimited(s, pos, "*", Memo.BOLD_ITEMS, _bold_item, nodes.bold)


bold = unnested(Flag.BOLD, _bold, "*")


# ---- italic ----


def _italic_preferred(s: State, pos: int) -> Result[Node]:
    found = s.grammar.italic_content(s, pos)
    if found is None and s.text[pos : pos + 2] in emoji.EMOTICON_PREFIXES:
        return _emoticon_before(s, pos, _italic_goes_on)
    return found


def _italic_goes_on(s: State, pos: int) -> bool:
    return _italic_preferred(s, pos) is not None or s.text.startswith("_", pos)


def _italic_item(s: State, pos: int) -> Result[Node]:
    match = ITALIC_WORDS.match(s.text, pos)
    if match:
        return nodes.plain(match.group(0)), match.end()
    return _italic_preferred(s, pos) or _fallback(s, pos, ITALIC_STOP, "*~")


def _glued(s: State, pos: int, marker: str, word: re.Pattern[str]) -> Result[Node]:
    """marker Items marker word: underscores glued to a word stay text. The reference hands
    back a list here, which the enclosing run flattens (joining emoji to the text around)."""
    start = pos + len(marker)
    end = _closed_end(Memo.ITALIC_ITEMS, _italic_item, s, start, marker)
    if end < 0:
        return None
    tail = word.match(s.text, end + len(marker))
    if not tail:
        return None
    # Merged once more with the markers, as the reference does. Not a join of the ends only: a
    # shortcode or emoticon anywhere in the content now has the merged runs for neighbours
    # (" h" where its items had " " then "h"), which may turn it into text.
    content = _content(Memo.ITALIC_ITEMS, _italic_item, s, start, end)
    parts = [nodes.plain(marker), *content, nodes.plain(marker + tail.group(0))]
    return cast(Node, reduce_plain_texts(parts)), tail.end()


def _italic(s: State, pos: int) -> Result[Node]:
    text = s.text
    word = WORD_UNDERSCORE.match(text, pos)
    if word:
        return nodes.plain(word.group(0)), word.end()
    if text.startswith("_", pos) and not text.startswith("_", pos + 1):
        # "_" words "_": the words are the first item (`_italic_item` reads them first) and no
        # item starts at the "_" after them, so `_glued` and `_delimited` would both find this
        # closer; a letter after it makes the whole text, else it is an italic.
        words = ITALIC_WORDS.match(text, pos + 1)
        if words and text.startswith("_", words.end()):
            end = words.end()
            tail = LETTERS.match(text, end + 1)
            if tail:
                return cast(Node, [nodes.plain(text[pos : tail.end()])]), tail.end()
            return nodes.italic([nodes.plain(words.group(0))]), end + 1
    glued = (text.startswith("__", pos) and _glued(s, pos, "__", WORD)) or (
        text.startswith("_", pos) and _glued(s, pos, "_", LETTERS)
    )
    return glued or _delimited(s, pos, "_", Memo.ITALIC_ITEMS, _italic_item, nodes.italic)


italic = unnested(Flag.ITALIC, _italic)


# ---- strike ----


strike_run = _text_run(STRIKE_STOP)
strike_char = _plain(STRIKE_CHAR)


def _strike_item(s: State, pos: int) -> Result[Node]:
    return s.grammar.strike_content(s, pos)


def _strike(s: State, pos: int) -> Result[Node]:
    return _delimited(s, pos, "~", Memo.STRIKE_ITEMS, _strike_item, nodes.strike)


strike = unnested(Flag.STRIKE, _strike, "~")


def _emphasis(s: State, pos: int) -> Result[Node]:
    """Emphasis = Bold / Italic / Strike, of which only one can start at a given character:
    bold at "*", strike at "~", italic at "_" or a letter or digit (`word_`)."""
    char = s.text[pos : pos + 1]
    if char == "*":
        return bold(s, pos)
    if char == "~":
        return strike(s, pos)
    return italic(s, pos)


def emphasis(s: State, pos: int) -> Result[Node]:
    """Emphasis, cached (an item and a link title may both ask at one position)."""
    return s.memoized(Memo.EMPHASIS, _emphasis, pos)
