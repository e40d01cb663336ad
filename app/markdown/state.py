"""The parse state: the text as JavaScript sees it, the options, and the nesting flags.

The text is held as UTF-16 code units (one Python character per unit), because the reference
is a JavaScript parser: its character classes, its `.` and its source offsets all count units.
`Flag` records which of bold, italic, strike and link are open, since the reference forbids
each inside itself; a rule's result depends only on (position, flags), which is what lets
`State.memo` cache results and keep the whole parse linear.
"""

from __future__ import annotations

import bisect
import enum
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from app.markdown.nodes import Node as Node  # re-exported: the rules take it from here

T = TypeVar("T")
Result = tuple[T, int] | None

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def to_units(text: str) -> str:
    """One character per UTF-16 code unit (astral characters become surrogate pairs)."""
    if not _ASTRAL.search(text):
        return text
    data = text.encode("utf-16-le", "surrogatepass")
    return "".join(map(chr, memoryview(data).cast("H")))


class Flag:
    """Bits of `State.flags` (plain ints: they are tested on every rule call)."""

    BOLD = 1
    ITALIC = 2
    STRIKE = 4
    LINK = 8


class Needs:
    """Characters some rules need somewhere in the message (bits of `State.lacks`, set when
    the message has none): a table leaves those rules out for such a message, instead of
    asking them at every position."""

    AT = 1  # "@": an email, a mention glued to text
    DOT_OR_COLON = 2  # "." or ":": a URL (a host's dot, or "://")
    HASH = 4  # "#": a channel mention
    GREATER_THAN = 8  # ">": a timestamp, a Slack-style link
    TARGET = 16  # "](": a markdown link or image
    ALL = 31


def lacks(text: str) -> int:
    """The `Needs` bits of the characters `text` does not hold."""
    return (
        ("@" not in text) * Needs.AT
        | ("." not in text and ":" not in text) * Needs.DOT_OR_COLON
        | ("#" not in text) * Needs.HASH
        | (">" not in text) * Needs.GREATER_THAN
        | ("](" not in text) * Needs.TARGET
    )


class Memo(enum.IntEnum):
    """What a `State.memo` entry caches: one rule, or the items of one repetition."""

    ITEM = 0
    EMPHASIS = 1
    BOLD_ITEMS = 2
    ITALIC_ITEMS = 3
    STRIKE_ITEMS = 4
    LINK_TITLE = 5
    SPOILER_ITEMS = 6
    DOMAIN_CHARS = 7


class Scanned(NamedTuple):
    """A scan's answer kept in `State.scans`: `answer` (a position, -1 for none) holds for
    every position from `start` to `end`. `read` counts the characters the scans of one
    pattern have read so far (-1 once its matches are indexed, see `State.next_of`)."""

    start: int
    end: int
    answer: int
    read: int


# A memo slot is one int, (position, flags, rule) packed: cheaper to hash than a tuple.
_FLAG_SHIFT = 3  # Memo fits in 3 bits
POS_SHIFT = 7  # and the four flags in the next 4
# Once its scans for one pattern have read this many times the text, `next_of` indexes every
# match of that pattern at once.
_SCANS_BEFORE_INDEX = 4


class State:
    """Everything a rule may read; rules are functions of (state, position)."""

    __slots__ = (
        "closer_fails",
        "colors",
        "custom_domains",
        "emoticons",
        "ends",
        "flags",
        "grammar",
        "indexed",
        "katex_dollar",
        "katex_parenthesis",
        "lacks",
        "lasts",
        "length",
        "link_closer",
        "memo",
        "now",
        "scans",
        "targets",
        "text",
    )

    def __init__(
        self, text: str, options: Mapping[str, Any], now: datetime | None, grammar: Grammar
    ) -> None:
        self.grammar = grammar
        self.text = to_units(text)
        self.length = len(self.text)
        self.lacks = lacks(self.text)
        katex = options.get("katex") or {}
        self.colors = bool(options.get("colors"))
        self.emoticons = bool(options.get("emoticons"))
        self.katex_dollar = bool(katex.get("dollarSyntax"))
        self.katex_parenthesis = bool(katex.get("parenthesisSyntax"))
        self.custom_domains: list[str] = list(options.get("customDomains") or [])
        self.now = now
        self.flags = 0
        self.memo: dict[int, Any] = {}
        self.ends: dict[int, int] = {}
        # per pattern (or scanner): the last answer (see `_next_of`); every match, once indexed
        self.scans: dict[object, Scanned] = {}
        self.indexed: dict[re.Pattern[str], list[int]] = {}
        self.lasts: dict[str, int] = {}
        # where the last "](" that closes a link starts (links.last_link_closer), once asked
        self.link_closer: int | None = None
        self.targets: dict[int, Any] = {}  # a link target read after a "](", by position
        # whether the "](" at a position fails every "[" it is the first closer of (links.py)
        self.closer_fails: dict[int, bool] = {}

    def item_tag(self) -> int:
        """The low bits of the memo slots of `item` under the current flags."""
        return self.flags << _FLAG_SHIFT  # | Memo.ITEM, which is 0

    def item(self, pos: int) -> Result[Node]:
        """Item at `pos` (cached): how a rule reaches the items it may hold or be followed by.
        (`memoized` written out: this is the most frequent call of a parse.)"""
        slot = (pos << POS_SHIFT) | (self.flags << _FLAG_SHIFT)  # | Memo.ITEM, which is 0
        memo = self.memo
        if slot in memo:
            cached: Result[Node] = memo[slot]
            return cached
        result = self.grammar.item(self, pos)
        memo[slot] = result
        return result

    def emphasis(self, pos: int) -> Result[Node]:
        """Bold / italic / strike at `pos` (cached): how a link title reaches them."""
        return self.grammar.emphasis(self, pos)

    def memoized(self, key: Memo, rule: Callable[[State, int], Result[T]], pos: int) -> Result[T]:
        """Cache `rule` at (position, flags): PEG rules are pure given both."""
        slot = (pos << POS_SHIFT) | (self.flags << _FLAG_SHIFT) | key
        memo = self.memo
        if slot in memo:
            cached: Result[T] = memo[slot]
            return cached
        result = rule(self, pos)
        memo[slot] = result
        return result

    def collect(
        self, key: Memo, item: Callable[[State, int], Result[T]], pos: int, end: int
    ) -> list[T]:
        """The items of a repetition `repeat_end` measured, from the cache: called only once
        the rule around it has matched, so failed attempts never pay for building lists."""
        found: list[T] = []
        memo = self.memo
        tag = (self.flags << _FLAG_SHIFT) | key
        while pos < end:
            step = memo.get((pos << POS_SHIFT) | tag)
            if step is None:
                step = self.memoized(key, item, pos)
            assert step is not None
            found.append(step[0])
            pos = step[1]
        return found

    def repeat_end(self, key: Memo, item: Callable[[State, int], Result[T]], pos: int) -> int:
        """Where `item*` from `pos` ends. The end is stored for every item start along the way,
        so asking again from any of them costs nothing: this is what keeps nesting linear."""
        memo, ends = self.memo, self.ends
        tag = (self.flags << _FLAG_SHIFT) | key
        visited: list[int] = []
        while True:
            slot = (pos << POS_SHIFT) | tag
            end = ends.get(slot)
            if end is not None:
                break
            if slot in memo:
                step = memo[slot]
            else:
                step = item(self, pos)
                memo[slot] = step
            if step is None or step[1] == pos:
                end = pos
                break
            visited.append(slot)
            pos = step[1]
        for slot in visited:
            ends[slot] = end
        return end

    def occurs_after(self, literal: str, pos: int) -> bool:
        """Whether `literal` occurs at or after `pos`: one comparison with where it occurs last
        (found once per message), for the rules that only need a closer to exist ahead."""
        last = self.lasts.get(literal)
        if last is None:
            last = self.lasts[literal] = self.text.rfind(literal)
        return last >= pos

    def span(self, stop: re.Pattern[str], pos: int) -> int:
        """Where a run of characters that `stop` does not match ends (the run may be empty)."""
        last = self.scans.get(stop)
        if last is not None and last.start <= pos <= last.end:
            end = last.answer
        else:
            end = self._next_of(stop, pos, last)
        return self.length if end < 0 else end

    def next_of(self, pattern: re.Pattern[str], pos: int) -> int:
        """The first position at or after `pos` where `pattern` matches, or -1.

        The last answer is kept per pattern, and it holds for any position between the one
        asked and the match found; rules mostly ask at increasing positions, so most questions
        cost nothing or a short scan. Once the scans for a pattern have read the text a few
        times over, every match of it is indexed at once, which keeps any order of questions
        linear."""
        last = self.scans.get(pattern)
        if last is not None and last.start <= pos <= last.end:
            return last.answer
        return self._next_of(pattern, pos, last)

    def _next_of(self, pattern: re.Pattern[str], pos: int, last: Scanned | None) -> int:
        """`next_of` when the last answer does not hold at `pos`: a scan, or the index. The
        answer kept holds up to the match found, or to the end of the text when none is."""
        read = 0 if last is None else last.read
        if 0 <= read <= _SCANS_BEFORE_INDEX * self.length:
            match = pattern.search(self.text, pos)
            if match:
                found = match.start()
                self.scans[pattern] = Scanned(pos, found, found, read + found - pos + 1)
                return found
            self.scans[pattern] = Scanned(pos, self.length, -1, read + self.length - pos + 1)
            return -1
        stops = self.indexed.get(pattern)
        if stops is None:
            stops = [match.start() for match in pattern.finditer(self.text)]
            self.indexed[pattern] = stops
        index = bisect.bisect_left(stops, pos)
        if index < len(stops):
            found = stops[index]
            self.scans[pattern] = Scanned(pos, found, found, -1)
            return found
        self.scans[pattern] = Scanned(pos, self.length, -1, -1)
        return -1

    def eol(self, pos: int) -> int:
        """End of a line break at `pos` (\\r\\n, \\n or \\r), or -1."""
        text = self.text
        if pos < self.length:
            char = text[pos]
            if char == "\r":
                return pos + 2 if text.startswith("\n", pos + 1) else pos + 1
            if char == "\n":
                return pos + 1
        return -1


def unnested(
    flag: int, rule: Callable[[State, int], Result[T]], first: str = ""
) -> Callable[[State, int], Result[T]]:
    """`rule` run with `flag` set, failing at once if it is set already (no bold in bold), or
    if the text at the position does not start with `first`."""

    def run(s: State, pos: int) -> Result[T]:
        flags = s.flags
        if flags & flag or not s.text.startswith(first, pos):
            return None
        s.flags = flags | flag
        result = rule(s, pos)  # an exception ends the parse, so no need to restore on one
        s.flags = flags
        return result

    return run


Starts = Callable[[str], bool]
NodeRule = Callable[["State", int], "Result[Node]"]


def among(chars: str) -> Starts:
    """A `ByFirstChar` start test: the character is one of `chars`."""
    return frozenset(chars).__contains__


class Grammar(NamedTuple):
    """The rule tables (built in grammar.py), for the rules that recurse: a rule module never
    imports the modules whose rules it may contain, it asks the state (markdown-it-py's
    `state.md.inline`)."""

    block: NodeRule
    item: NodeRule
    emphasis: NodeRule
    bold_content: NodeRule
    italic_content: NodeRule
    strike_content: NodeRule


class ByFirstChar:
    """Ordered choice over rules, trying only those that can start with the next character.

    Each rule comes with a test of the character it needs at its start (None: any), and may
    need one of the `Needs` characters somewhere in the message. Skipping a rule that cannot
    match changes no answer, and the rules left for each character (and for what the message
    lacks) are worked out once, so a position of plain text costs one dict lookup instead of
    a dozen calls."""

    __slots__ = ("needs", "rules", "tables")

    def __init__(
        self, *rules: tuple[NodeRule, Starts | None], needs: Mapping[NodeRule, int] | None = None
    ) -> None:
        self.rules = rules
        self.needs = dict(needs or {})
        # one table per `State.lacks` value: character -> the rules worth trying there
        self.tables: tuple[dict[str, tuple[NodeRule, ...]], ...] = tuple(
            {} for _ in range(Needs.ALL + 1)
        )

    def candidates(self, char: str, lacks: int) -> tuple[NodeRule, ...]:
        table = self.tables[lacks]
        found = table.get(char)
        if found is None:
            chosen = [
                rule
                for rule, starts in self.rules
                if (starts is None or starts(char)) and not self.needs.get(rule, 0) & lacks
            ]
            found = tuple(dict.fromkeys(chosen))  # a rule listed twice fails the same twice
            table[char] = found
        return found

    def dispatcher(self) -> NodeRule:
        """The choice as a plain function (cheaper to call than this object, and it is called
        at nearly every position of a message)."""
        tables, candidates = self.tables, self.candidates

        def dispatch(s: State, pos: int) -> Result[Node]:
            if pos >= s.length:
                return None
            char = s.text[pos]
            rules = tables[s.lacks].get(char)
            if rules is None:
                rules = candidates(char, s.lacks)
            for rule in rules:
                found = rule(s, pos)
                if found is not None:
                    return found
            return None

        return dispatch
