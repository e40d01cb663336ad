"""The parse state: the text as JavaScript sees it, the options, and the nesting flags.

The text is held as UTF-16 code units (one Python character per unit), because the reference
is a JavaScript parser: its character classes, its `.` and its source offsets all count units.
`Flag` records which of bold, italic, strike and link are open, since the reference forbids
each inside itself; a rule's result depends only on (position, flags), which is what lets
`State.memo` cache results and keep the whole parse linear.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

Node = dict[str, Any]
T = TypeVar("T")
Result = tuple[T, int] | None

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def to_units(text: str) -> str:
    """One character per UTF-16 code unit (astral characters become surrogate pairs)."""
    if not _ASTRAL.search(text):
        return text
    data = text.encode("utf-16-le", "surrogatepass")
    return "".join(map(chr, memoryview(data).cast("H")))


def from_units(units: str) -> str:
    """Join surrogate pairs back into characters; lone surrogates stay as they are."""
    if not any("\ud800" <= char <= "\udfff" for char in units):
        return units
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


class Flag:
    """Bits of `State.flags` (plain ints: they are tested on every rule call)."""

    BOLD = 1
    ITALIC = 2
    STRIKE = 4
    REFERENCE = 8


class State:
    """Everything a rule may read; rules are functions of (state, position)."""

    __slots__ = (
        "colors",
        "custom_domains",
        "emoticons",
        "flags",
        "katex_dollar",
        "katex_parenthesis",
        "length",
        "memo",
        "now",
        "stops",
        "text",
    )

    def __init__(self, text: str, options: Mapping[str, Any], now: datetime | None) -> None:
        self.text = to_units(text)
        self.length = len(self.text)
        katex = options.get("katex") or {}
        self.colors = bool(options.get("colors"))
        self.emoticons = bool(options.get("emoticons"))
        self.katex_dollar = bool(katex.get("dollarSyntax"))
        self.katex_parenthesis = bool(katex.get("parenthesisSyntax"))
        self.custom_domains: list[str] = list(options.get("customDomains") or [])
        self.now = now
        self.flags = 0
        self.memo: dict[tuple[int, int, int], Any] = {}
        self.stops: dict[str, list[int]] = {}

    def guarded(self, flag: int, rule: Callable[[State, int], Result[T]], pos: int) -> Result[T]:
        """Run `rule` with `flag` set, failing at once if it is set already (no bold in bold)."""
        if self.flags & flag:
            return None
        self.flags |= flag
        try:
            return rule(self, pos)
        finally:
            self.flags &= ~flag

    def memoized(self, key: int, rule: Callable[[State, int], Result[T]], pos: int) -> Result[T]:
        """Cache `rule` at (position, flags): PEG rules are pure given both."""
        slot = (key, pos, self.flags)
        memo = self.memo
        if slot in memo:
            cached: Result[T] = memo[slot]
            return cached
        result = rule(self, pos)
        memo[slot] = result
        return result

    def collect(
        self, key: int, item: Callable[[State, int], Result[T]], pos: int, end: int
    ) -> list[T]:
        """The items of a run `run_end` measured, from the cache: called only once the rule
        around the run has matched, so failed attempts never pay for building lists."""
        found: list[T] = []
        while pos < end:
            step = self.memoized(key, item, pos)
            assert step is not None
            found.append(step[0])
            pos = step[1]
        return found

    def run_end(self, key: int, item: Callable[[State, int], Result[T]], pos: int) -> int:
        """Where `item*` from `pos` ends. The end is stored for every item start along the way,
        so asking again from any of them costs nothing: this is what keeps nesting linear."""
        memo, flags = self.memo, self.flags
        visited: list[int] = []
        while True:
            slot = (-key, pos, flags)
            if slot in memo:
                end: int = memo[slot]
                break
            step = self.memoized(key, item, pos)
            if step is None or step[1] == pos:
                end = pos
                break
            visited.append(pos)
            pos = step[1]
        for start in visited:
            memo[(-key, start, flags)] = end
        return end

    def span(self, stop: re.Pattern[str], pos: int) -> int:
        """Where a run of characters that `stop` does not match ends (the run may be empty)."""
        end = self.next_of(stop.pattern, stop, pos)
        return self.length if end < 0 else end

    def next_of(self, key: str, pattern: re.Pattern[str], pos: int) -> int:
        """The first position at or after `pos` where `pattern` matches, or -1 (indexed once)."""
        stops = self.stops.get(key)
        if stops is None:
            stops = [match.start() for match in pattern.finditer(self.text)]
            self.stops[key] = stops
        index = bisect.bisect_left(stops, pos)
        return stops[index] if index < len(stops) else -1

    def at(self, pos: int, literal: str) -> bool:
        return self.text.startswith(literal, pos)

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
