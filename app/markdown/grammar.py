"""The grammar in one place: which rules each construct tries, in which order.

Every rule module holds rules that need no other module's (or reach them through the state:
`State.item`, `State.emphasis`, `State.grammar`), so the precedence is read here, top to
bottom, the way the reference's grammar lists its alternatives:

    Block   = Quote / SpoilerBlock / Code / HorizontalRule / Table / Heading / Tasks
            / OrderedList / UnorderedList / KatexBlock / LineBreak / Paragraph / EmptyLine
    Item    = the rules its own character chooses (escape, link, image, spoiler, mention,
              code, phone, KaTeX, emoji, emphasis, dash, emoticon), then the items any
              character may start (email, URL, emphasis, channel, emoji, emoticon, colour),
              then a run of text
    Bold    holds blanks, code, timestamps, links, mentions, italic, strike, emoji, emoticons
    Italic  the same with bold in place of italic
    Strike  text first, then escaped timestamps, the same items, both others, and emoticons

Each table is a `ByFirstChar`: a rule is tried only at a character it can start with, and
the order among the rules a character allows is the order written here.
"""

from __future__ import annotations

from app.markdown import blocks, emoji, emphasis, inline, links, tables, text, timestamps, urls
from app.markdown.state import ByFirstChar, Grammar, Needs, NodeRule, Starts, among

_EMOTICON_STARTS = among(emoji.EMOTICON_FIRST_CHARS)


def _line_starts(char: str) -> bool:
    return char in " \t" or text.TEXT_CHAR.match(char) is not None


def _words_start(char: str) -> bool:
    return text.TEXT_WORD_CHAR.match(char) is not None


def _email_starts(char: str) -> bool:
    return urls.LOCAL_START.match(char) is not None  # "mailto:" starts with a letter too


def _mention_starts(char: str) -> bool:
    """ "@" name, or a text character glued to "@" (read as text)."""
    return char == "@" or text.TEXT_CHAR.match(char) is not None


def _channel_starts(char: str) -> bool:
    """ "#" name, or a text character glued to "#" (read as text)."""
    return char == "#" or text.TEXT_CHAR.match(char) is not None


def _text_run_starts(char: str) -> bool:
    return inline.TEXT_STOP.match(char) is None


def _strike_run_starts(char: str) -> bool:
    return emphasis.STRIKE_STOP.match(char) is None


# What rules need somewhere in the message (see `Needs`).
_NEEDS: dict[NodeRule, int] = {
    inline.email: Needs.AT,
    text.glued_user_mention: Needs.AT,
    inline.url: Needs.DOT_OR_COLON,
    text.channel_mention: Needs.HASH,
    timestamps.timestamp: Needs.GREATER_THAN,
    timestamps.escaped_timestamp: Needs.GREATER_THAN,
    links.angle_reference: Needs.GREATER_THAN,
    links.bracket_reference: Needs.TARGET,
    links.image: Needs.TARGET,
}

BLOCK = ByFirstChar(
    (blocks.quote, among(">")),
    (blocks.spoiler_block, among("|")),
    (blocks.code, among("`")),
    (blocks.horizontal_rule, among(" \t-")),
    (tables.table, among("|")),
    (blocks.heading, among("#")),
    (blocks.tasks, among("-")),
    (blocks.ordered_list, among("0123456789")),
    (blocks.unordered_list, among("-*")),
    (blocks.katex_block, among("\\$")),
    (blocks.line_break, among(" \t\r\n")),
    (blocks.paragraph, None),
    (blocks.empty_line, None),
)

ITEM = ByFirstChar(
    (inline.words, _words_start),
    (text.whitespace, among(" \t")),
    # the rules a character chooses
    (timestamps.escaped_timestamp, among("\\")),
    (inline.inline_katex, among("\\$")),
    (inline.escaped, among("\\")),
    (timestamps.timestamp, among("<")),
    (links.bracket_reference, among("[")),
    (links.angle_reference, among("<")),
    (links.image, among("!")),
    (inline.spoiler, among("|")),
    (text.user_mention, among("@")),
    (text.inline_code, among("`")),
    (urls.autolinked_phone, among("+")),
    (emoji.shortcode_or_unicode, among(":")),
    (emphasis.whitespace_emphasis, among("*~")),
    (emphasis.emphasis, among("*~")),
    (inline.dash, among("-")),
    (inline.free_emoticon, among("<:*-")),
    # the items any character may start
    (inline.emoji_run, among(inline.EMOJI_RUN_STARTS)),  # the next three, then emoji
    (inline.email, _email_starts),
    (inline.underscore_domain, among("_")),
    (inline.url, urls.could_start_url),
    (emphasis.whitespace_emphasis, among("*_~")),
    (emphasis.emphasis, among("*_~")),
    (inline.word_emphasis, among(text.ASCII_ALNUM)),
    (text.channel_mention, _channel_starts),
    (emoji.shortcode_or_unicode, emoji.could_start),
    (inline.dash, among("-")),
    (inline.free_emoticon, _EMOTICON_STARTS),
    (inline.color, among("c")),
    (inline.text_run, _text_run_starts),
    needs=_NEEDS,
)

_IN_EMPHASIS: tuple[tuple[NodeRule, Starts | None], ...] = (
    (text.whitespace, among(" \t")),
    (text.inline_code, among("`")),
    (timestamps.timestamp, among("<")),
    (links.bracket_reference, among("[")),
    (links.angle_reference, among("<")),
    (text.glued_user_mention, _mention_starts),
    (text.channel_mention, _channel_starts),
)
_ITALIC_STARTS = among("_" + text.ASCII_ALNUM)

BOLD_CONTENT = ByFirstChar(
    *_IN_EMPHASIS,
    (emphasis.italic, _ITALIC_STARTS),
    (emphasis.strike, among("~")),
    (emoji.shortcode_or_unicode, emoji.could_start),
    needs=_NEEDS,
)
ITALIC_CONTENT = ByFirstChar(
    *_IN_EMPHASIS,
    (emphasis.bold, among("*")),
    (emphasis.strike, among("~")),
    (emoji.shortcode_or_unicode, emoji.could_start),
    needs=_NEEDS,
)
STRIKE_CONTENT = ByFirstChar(
    (emphasis.strike_run, _strike_run_starts),
    (timestamps.escaped_timestamp, among("\\")),
    (timestamps.timestamp, among("<")),
    (text.whitespace, among(" \t")),
    (text.inline_code, among("`")),
    (links.bracket_reference, among("[")),
    (links.angle_reference, among("<")),
    (text.glued_user_mention, _mention_starts),
    (text.channel_mention, _channel_starts),
    (emphasis.italic, _ITALIC_STARTS),
    (emphasis.bold, among("*")),
    (emoji.shortcode_or_unicode, emoji.could_start),
    (emoji.emoticon, _EMOTICON_STARTS),
    (emphasis.strike_char, lambda char: char not in "\n~ "),
    (text.line, _line_starts),
    needs=_NEEDS,
)

GRAMMAR = Grammar(
    block=BLOCK.dispatcher(),
    item=ITEM.dispatcher(),
    emphasis=emphasis.emphasis,
    bold_content=BOLD_CONTENT.dispatcher(),
    italic_content=ITALIC_CONTENT.dispatcher(),
    strike_content=STRIKE_CONTENT.dispatcher(),
)
