"""Seeded messages that mix every construct the markdown grammar knows, for the differential test.

Chat-shaped samples (the dev-fuzz corpus, bench/markdown_fuzz.py) seldom put an emphasis opener,
emoticons and a closer-like `_` together; here short pieces of every construct are glued to one
another with or without blanks between, wrapped in every delimiter, and put after every block
prefix, so the places where two rules meet come up thousands of times a run. Each message goes
with one of the parser's option combinations, every combination in turn.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from typing import Any

from app.markdown.emoji import EMOTICONS

DELIMITERS = ["*", "**", "_", "__", "~", "~~", "||", "`", "```"]
WORDS = [
    "a", "h", "e", "x", "t", "y", "ab", "word", "the", "B", "D", "O", "X", "L", "P", "b", "l",
    "8", "0", "1", "42", "é", "ß", "日本", "ツ", "Привет", "h_e", "x_a", "e_h", "a__b", "a_b_c",
    "snake_case", "_a", "a_", "1_", "a__", "A1", "i", "s", "color", "mailto", "localhost",
]  # fmt: skip
# Every emoticon of the reference's table, and strings that start like one.
EMOTICON_TEXTS = [text for text, _ in EMOTICONS] + [
    ":", ";", "=", ":-", ">:", "'", "'=", "O:", "0;", "*\\", "\\0", "-_", "-__", "(y", "</",
]  # fmt: skip
SHORTCODES = [":l:", ":smile:", ":+1:", ":-1:", ":a_b:", ":x:", "::", ":1:", ":a.b:", ":é:"]
UNICODE_EMOJI = [
    "😀", "❤️", "❤", "👍🏽", "🇧🇷", "#️⃣", "1️⃣", "*️⃣", "👨\u200d👩\u200d👧", "©️", "☀", "🙂🙂",
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", "⌚", "🟠", "\ufe0f",
]  # fmt: skip
URLS = [
    "t.o", "a.com", "x.local", "intranet", "localhost", "http://a.b", "https://x.y/z_w",
    "https://a.b/(c)", "ftp://h.io", "www.a.io", "a.b/c?d=e#f", "192.168.0.1", "1.2.3.4:80",
    "http://localhost:3000/x", "custom://a", "//a.b", "te_st.la", "a-b.com", "x.y.", "e.g.",
    "https://a.b/c.", "http://a.b/*x*", "a.b/_c_", "https://u:p@a.b", "a.b:8", "x.co.uk",
    "file://a/b", "a.b/~c", "http://x.internal",
]  # fmt: skip
EMAILS = ["a@b.com", "x.y@z.io", "a@b", "a_b@c.de", "mailto:a@b.co", "a@b.local", "a+b@c.co"]
PHONES = ["+1234", "+12345678", "+(12)345-67", "+55 11", "+1-2", "+(1)2", "+123-4567"]
MENTIONS = [
    "@a", "@a.b", "@a:b.c", "@a_", "@a__", "@@a", "#c", "#c_d", "#c.d", "#", "@", "a@b",
    "a#b", "@all", "@é", "#日本",
]  # fmt: skip
TIMESTAMPS = [
    "<t:1700000000>", "<t:1700000000:R>", "<t:1700000000:x>", "<t:2025-01-02T10:00:00>",
    "<t:2025-01-02T10:00:00.000Z>", "<t:2025-01-02T10:00:00+02:00:f>", "<t:10:00>",
    "<t:10:00:00+03:00>", "<t:10:00:D>", "\\<t:1700000000>", "\\<t:10:00:t>", "<t:1>", "<t:",
]  # fmt: skip
KATEX = ["$x$", "$$x$$", "\\(x\\)", "\\[x\\]", "$", "$$", "\\(", "\\)", "\\[", "\\]", "$a_b$"]
COLORS = ["color:#fff", "color:#c7c7c7", "color:#c7c7c7c7", "color:#ffff", "color:#zzz", "color:"]
CODE = ["`c`", "``", "`a b`", "`*a*`", "```", "`"]
ESCAPES = ["\\*", "\\_", "\\~", "\\#", "\\.", "\\\\", "\\`", "\\a", "\\|", "\\"]
PUNCTUATION = [
    ",", ".", "!", "?", "(", ")", "-", "-_-", "'", '"', "/", ":", ";", "=", "+", "%", "&",
    "^", "{", "}", "[", "]", "](", "<", ">", "|", "!", "...", "(t)",
]  # fmt: skip
BLANKS = [" ", "  ", "\t", " \t"]
LINK_TITLES = ["", "t", "a b", "*b*", "_i_", "~s~", ":)", "[x]", "`c`", "@a", "😀", "a](b"]
SLACK_LABELS = ["t", "a b", "*b*", ":)", "", "x|y"]

# What may start a line: nothing, or the prefix of a block.
LINE_PREFIXES = [
    "> ", ">", ">> ", "# ", "## ", "#### ", "##### ", "#", "- ", "* ", "-\t", "1. ", "12. ",
    "0.", "- [ ] ", "- [x] ", "- [X] ", "---", "***", " - ", "\t", "    ", "||", "$$", "\\[",
]  # fmt: skip
LINE_ENDS = ["\n", "\n", "\n", "\r\n", "\n\n", "\r", " \n"]

# Every combination of the parser's options (the unset and the false of a flag read the same,
# and both are sent: the absent keys too).
_KATEX = [
    None,
    {"dollarSyntax": False, "parenthesisSyntax": False},
    {"dollarSyntax": True, "parenthesisSyntax": False},
    {"dollarSyntax": False, "parenthesisSyntax": True},
    {"dollarSyntax": True, "parenthesisSyntax": True},
]


def _options(emoticons: bool, colors: bool, katex: Any, domains: list[str] | None) -> Any:
    options: dict[str, Any] = {"emoticons": emoticons, "colors": colors}
    if katex is not None:
        options["katex"] = katex
    if domains is not None:
        options["customDomains"] = domains
    return options


OPTION_COMBINATIONS: list[dict[str, Any]] = [
    _options(emoticons, colors, katex, domains)
    for emoticons, colors, katex, domains in itertools.product(
        (False, True), (False, True), _KATEX, (None, ["local", "internal"])
    )
] + [{}]


class Messages:
    """One seeded stream of messages."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        choose = self.rng.choice
        # (weight, maker of a piece at a nesting depth)
        pieces: list[tuple[int, Callable[[int], str]]] = [
            (8, lambda _: choose(WORDS)),
            (3, lambda _: choose(DELIMITERS)),
            (6, lambda _: choose(EMOTICON_TEXTS)),
            (2, lambda _: choose(SHORTCODES)),
            (2, lambda _: choose(UNICODE_EMOJI)),
            (2, self.link),
            (1, self.slack_link),
            (2, lambda _: choose(URLS)),
            (1, lambda _: choose(EMAILS)),
            (1, lambda _: choose(PHONES)),
            (2, lambda _: choose(MENTIONS)),
            (1, lambda _: choose(TIMESTAMPS)),
            (1, lambda _: choose(KATEX)),
            (1, lambda _: choose(COLORS)),
            (1, lambda _: choose(CODE)),
            (1, lambda _: choose(ESCAPES)),
            (3, lambda _: choose(PUNCTUATION)),
            (2, lambda _: choose(BLANKS)),
            (5, self.wrapped),
        ]
        self.makers = [make for _, make in pieces]
        self.weights = list(itertools.accumulate(weight for weight, _ in pieces))

    def piece(self, depth: int) -> str:
        """One piece; two levels down, a word where it would nest again."""
        make = self.rng.choices(self.makers, cum_weights=self.weights)[0]
        if depth >= 2 and make in (self.wrapped, self.link):
            return self.rng.choice(WORDS)
        return make(depth)

    def run(self, low: int, high: int, depth: int = 0) -> str:
        """Pieces glued to one another (a third of the time) or with blanks between."""
        rng = self.rng
        parts = []
        for _ in range(rng.randint(low, high)):
            parts.append(self.piece(depth))
            parts.append("" if rng.random() < 0.35 else rng.choice([" ", " ", " ", "\t", "  "]))
        return "".join(parts[:-1])

    def wrapped(self, depth: int) -> str:
        """A delimiter, pieces, a delimiter (mostly the same), and sometimes a word glued on."""
        rng = self.rng
        opener = rng.choice(DELIMITERS[:7])
        closer = opener if rng.random() < 0.7 else rng.choice(DELIMITERS[:7])
        inner = self.run(1, 4, depth + 1)
        if rng.random() < 0.3:
            inner = rng.choice(BLANKS) + inner
        glued = rng.choice(WORDS) if rng.random() < 0.35 else ""
        return f"{opener}{inner}{closer}{glued}"

    def link(self, depth: int) -> str:
        rng = self.rng
        title = rng.choice(LINK_TITLES) if rng.random() < 0.7 else self.run(1, 3, depth + 1)
        target = rng.choice(URLS + PHONES[:2])
        bang = "!" if rng.random() < 0.2 else ""
        return f"{bang}[{title}]({target})"

    def slack_link(self, _: int) -> str:
        rng = self.rng
        label = rng.choice(SLACK_LABELS)
        target = rng.choice(URLS)
        return f"<{target}|{label}>" if rng.random() < 0.8 else f"<{target}>"

    def line(self) -> str:
        rng = self.rng
        prefix = rng.choice(LINE_PREFIXES) if rng.random() < 0.3 else ""
        return prefix + self.run(1, rng.choice([2, 4, 8]))

    def block(self) -> str:
        """A table, a code fence, a spoiler or KaTeX block, or a list: several lines at once."""
        rng = self.rng
        kind = rng.randrange(5)
        if kind == 0:
            columns = rng.randint(1, 3)
            rows = [
                "|" + "|".join(self.run(0, 2) for _ in range(columns)) + "|"
                for _ in range(rng.randint(1, 3))
            ]
            delimiter = (
                "|"
                + "|".join(rng.choice(["-", ":-", "-:", ":-:", " --- "]) for _ in range(columns))
                + "|"
            )
            return "\n".join([rows[0], delimiter, *rows[1:]])
        if kind == 1:
            language = rng.choice(["", "js", "a b", "*"])
            return f"```{language}\n{self.run(1, 4)}\n```"
        if kind == 2:
            opener, closer = rng.choice([("||", "||"), ("$$", "$$"), ("\\[", "\\]")])
            return f"{opener}\n{self.run(1, 4)}\n{closer}"
        marker = rng.choice(["- ", "* ", "1. ", "- [ ] ", "- [x] ", "> "])
        return "\n".join(marker + self.run(1, 4) for _ in range(rng.randint(2, 3)))

    def message(self) -> str:
        rng = self.rng
        lines = rng.choice([1, 1, 1, 2, 3])
        text = ""
        for i in range(lines):
            if i:
                text += rng.choice(LINE_ENDS)
            text += self.block() if rng.random() < 0.1 else self.line()
        return text or "x"


def generate(seed: int, count: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """`count` messages, each with the next of the option combinations."""
    messages = Messages(seed)
    for i in range(count):
        yield messages.message(), OPTION_COMBINATIONS[i % len(OPTION_COMBINATIONS)]
