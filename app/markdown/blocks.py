"""Blocks: what a message is made of, line by line.

Rules:
    Message       = BigEmoji (alone) / (Block / Paragraph / EndOfLine)+
    Block         = Quote / SpoilerBlock / Code / HorizontalRule / Table / Heading / Tasks
                  / OrderedList / UnorderedList / KatexBlock / LineBreak
    Quote         = (">" [ \\t]* (EndOfLine / Paragraph))+
    SpoilerBlock  = "||" EndOfLine Paragraph+ EndOfLine? "||"
    Code          = "```" language? EndOfLine CodeLine+ EndOfLine "```"
    HorizontalRule= [ \\t]* "-"{3,} [ \\t]* (EndOfLine / end)
    Heading       = "#"{1,4} [ \\t]+ Item+ EndOfLine?
    Tasks         = ("- [" ("x" / " ") "]" [ \\t]+ Inline)+
    OrderedList   = (digits "." [ \\t]+ Inline)+
    UnorderedList = ("-" [ \\t]+ Inline)+ / ("*" [ \\t]+ Item+ (no "*" next) EndOfLine?)+
    KatexBlock    = "\\\\[" ... "\\\\]" / "$$" ... "$$" (as the options allow)
    LineBreak     = [ \\t]* EndOfLine
"""

from __future__ import annotations

import re
from collections.abc import Callable

from app.markdown import emoji, inline, nodes
from app.markdown.state import Node, Result, State
from app.markdown.text import any_char, reduce_plain_texts

BLANKS_REQUIRED = re.compile(r"[ \t]++")
LANGUAGE = re.compile(r"[a-zA-Z0-9 _\-.]++")
CODE_CHUNK = re.compile(r"(?:[^\r\n`]|`[^`\r\n]|``[^`\r\n]|``(?=[\n\r]|\Z)|`(?=[\n\r]|\Z))++")
DASHES = re.compile(r"-{3,}+")
HASHES = re.compile(r"#{1,4}+")
DIGITS = re.compile(r"[0-9]++")
MAX_SAFE_INTEGER = 2**53


def _skip_blanks(s: State, pos: int) -> int:
    """Past the spaces and tabs at `pos`."""
    blanks = BLANKS_REQUIRED.match(s.text, pos)
    return blanks.end() if blanks else pos


def paragraph(s: State, pos: int) -> Result[Node]:
    found = inline.inline(s, pos)
    return (nodes.paragraph(found[0]), found[1]) if found else None


def _quote_line(s: State, pos: int) -> Result[Node]:
    if not s.text.startswith(">", pos):
        return None
    start = _skip_blanks(s, pos + 1)
    end = s.eol(start)
    if end >= 0:
        return nodes.paragraph([nodes.plain("")]), end
    return paragraph(s, start)


def _repeated(rule: Callable[[State, int], Result[Node]], s: State, pos: int) -> Result[list[Node]]:
    found: list[Node] = []
    end = pos
    while (item := rule(s, end)) is not None:
        found.append(item[0])
        end = item[1]
    return (found, end) if found else None


def quote(s: State, pos: int) -> Result[Node]:
    lines = _repeated(_quote_line, s, pos)
    return (nodes.typed("QUOTE", lines[0]), lines[1]) if lines else None


def _unspoiled_paragraph(s: State, pos: int) -> Result[Node]:
    return None if s.text.startswith("||", pos) else paragraph(s, pos)


def spoiler_block(s: State, pos: int) -> Result[Node]:
    if not s.text.startswith("||", pos):
        return None
    start = s.eol(pos + 2)
    if start < 0:
        return None
    paragraphs = _repeated(_unspoiled_paragraph, s, start)
    if paragraphs is None:
        return None
    content, end = paragraphs
    after = s.eol(end)
    end = after if after >= 0 else end
    if not s.text.startswith("||", end):
        return None
    return nodes.typed("SPOILER_BLOCK", content), end + 2


def _code_line(s: State, pos: int) -> Result[Node]:
    text = s.text
    chunk = CODE_CHUNK.match(text, pos)
    if chunk:
        return nodes.code_line(nodes.plain(chunk.group(0))), chunk.end()
    if text.startswith("\n", pos):
        chunk = CODE_CHUNK.match(text, pos + 1)
        if chunk:
            return nodes.code_line(nodes.plain(chunk.group(0))), chunk.end()
        if not text.startswith("```", pos + 1):
            return nodes.code_line(nodes.plain("")), pos + 1
    return None


def code(s: State, pos: int) -> Result[Node]:
    text = s.text
    if not text.startswith("```", pos):
        return None
    language = LANGUAGE.match(text, pos + 3)
    start = s.eol(language.end() if language else pos + 3)
    if start < 0:
        return None
    lines = _repeated(_code_line, s, start)
    if lines is None:
        return None
    end = s.eol(lines[1])
    if end < 0 or not text.startswith("```", end):
        return None
    return nodes.code(lines[0], language.group(0) if language else None), end + 3


def horizontal_rule(s: State, pos: int) -> Result[Node]:
    start = _skip_blanks(s, pos)
    dashes = DASHES.match(s.text, start)
    if not dashes:
        return None
    end = _skip_blanks(s, dashes.end())
    after = s.eol(end)
    if after < 0 and end < s.length:
        return None
    return nodes.horizontal_rule([dashes.start(), dashes.end()]), after if after >= 0 else end


def _heading_item(s: State, pos: int) -> Result[Node]:
    found = s.item(pos)
    if found is not None:
        return found
    return None if s.eol(pos) >= 0 else any_char(s, pos)


def heading(s: State, pos: int) -> Result[Node]:
    hashes = HASHES.match(s.text, pos)
    if not hashes:
        return None
    blanks = BLANKS_REQUIRED.match(s.text, hashes.end())
    if not blanks:
        return None
    content = _repeated(_heading_item, s, blanks.end())
    if content is None:
        return None
    end = content[1]
    after = s.eol(end)
    level = len(hashes.group(0))
    return nodes.heading(reduce_plain_texts(content[0]), level), after if after >= 0 else end


def _task(s: State, pos: int) -> Result[Node]:
    text = s.text
    if not text.startswith("- [", pos) or pos + 4 >= s.length + 1:
        return None
    flag = text[pos + 3 : pos + 4]
    if flag not in ("x", " ") or not text.startswith("]", pos + 4):
        return None
    blanks = BLANKS_REQUIRED.match(text, pos + 5)
    if not blanks:
        return None
    content = inline.inline(s, blanks.end())
    return (nodes.task(content[0], flag == "x"), content[1]) if content else None


def tasks(s: State, pos: int) -> Result[Node]:
    items = _repeated(_task, s, pos)
    return (nodes.typed("TASKS", items[0]), items[1]) if items else None


def _ordered_item(s: State, pos: int) -> Result[Node]:
    digits = DIGITS.match(s.text, pos)
    if not digits or not s.text.startswith(".", digits.end()):
        return None
    blanks = BLANKS_REQUIRED.match(s.text, digits.end() + 1)
    if not blanks:
        return None
    content = inline.inline(s, blanks.end())
    if content is None:
        return None
    number: int | float = int(digits.group(0))
    if number > MAX_SAFE_INTEGER:
        number = float(digits.group(0))  # JavaScript's parseInt loses the same precision
    return nodes.list_item(content[0], number), content[1]


def ordered_list(s: State, pos: int) -> Result[Node]:
    items = _repeated(_ordered_item, s, pos)
    return (nodes.typed("ORDERED_LIST", items[0]), items[1]) if items else None


def _hyphen_item(s: State, pos: int) -> Result[Node]:
    if not s.text.startswith("-", pos):
        return None
    blanks = BLANKS_REQUIRED.match(s.text, pos + 1)
    if not blanks:
        return None
    content = inline.inline(s, blanks.end())
    return (nodes.list_item(content[0]), content[1]) if content else None


def _asterisk_content_item(s: State, pos: int) -> Result[Node]:
    found = s.item(pos)
    if found is not None:
        return found
    return None if s.text.startswith("*", pos) else any_char(s, pos)


def _asterisk_item(s: State, pos: int) -> Result[Node]:
    if not s.text.startswith("*", pos):
        return None
    blanks = BLANKS_REQUIRED.match(s.text, pos + 1)
    if not blanks:
        return None
    content = _repeated(_asterisk_content_item, s, blanks.end())
    if content is None or s.text.startswith("*", content[1]):
        return None
    end = content[1]
    after = s.eol(end)
    return nodes.list_item(reduce_plain_texts(content[0])), after if after >= 0 else end


def unordered_list(s: State, pos: int) -> Result[Node]:
    items = _repeated(_hyphen_item, s, pos) or _repeated(_asterisk_item, s, pos)
    return (nodes.typed("UNORDERED_LIST", items[0]), items[1]) if items else None


# What closes a KaTeX block, by which syntaxes are on: (parenthesis, dollar) -> pattern.
_KATEX_BLOCK_CLOSE = {
    (True, True): re.compile(r"\\\]|\$\$"),
    (True, False): re.compile(r"\\\]"),
    (False, True): re.compile(r"\$\$"),
}


def katex_block(s: State, pos: int) -> Result[Node]:
    """The content runs to the first closer the options allow, whichever opened it."""
    text = s.text
    opens = (s.katex_parenthesis and text.startswith("\\[", pos)) or (
        s.katex_dollar and text.startswith("$$", pos)
    )
    if not opens:
        return None
    start = pos + 2
    end = s.next_of(_KATEX_BLOCK_CLOSE[s.katex_parenthesis, s.katex_dollar], start)
    if end < 0:
        return None
    return nodes.typed("KATEX", text[start:end]), end + 2


def line_break(s: State, pos: int) -> Result[Node]:
    end = s.eol(_skip_blanks(s, pos))
    return (nodes.line_break(), end) if end >= 0 else None


def empty_line(s: State, pos: int) -> Result[Node]:
    end = s.eol(pos)
    return (nodes.paragraph([nodes.plain("")]), end) if end >= 0 else None


def message(s: State) -> list[Node] | None:
    """The whole message, or None when nothing parses (only the empty message)."""
    big = emoji.big_emoji(s, 0)
    if big is not None and big[1] == s.length:
        return big[0]
    found: list[Node] = []
    pos = 0
    while pos < s.length and (block := s.grammar.block(s, pos)) is not None:
        found.append(block[0])
        pos = block[1]
    return found if found and pos == s.length else None
