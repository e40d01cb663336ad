"""The parser's work grows linearly with the input, where the reference's grows quadratically.

Work is counted, not timed: every function call the parse makes (ours and the C ones, such as
a regular expression's match) is one unit, so the count is the same on a busy machine and on
an idle one. Each input is parsed at n and 4n characters: linear growth quadruples the count,
quadratic growth multiplies it by 16, and the bound sits just above 4. It is that tight, and
the step is 4n rather than 2n, for a cost per character that rises with the length before it
levels off: each "[" of `*_~[|`<...` once read its title to a far "](" under every
combination of open emphases reached from the openers before it, so the count rose by 2.4
from n to 2n (within a bound between 2 and 4) but by 5.4 from n to 4n.

Each input is parsed three times: as it is, with every closer a rule looks ahead for at the
end (`CLOSERS`), since a message without "@", ".", "#", ">" or "](" leaves the rules that need
them out altogether (`state.Needs`) and would not exercise them, and with links that do close
after those (`LINKED`), so that no link is ruled out by the last "](" a target follows either.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from app.markdown import parse

OPTIONS = {
    "colors": True,
    "emoticons": True,
    "katex": {"dollarSyntax": True, "parenthesisSyntax": True},
}
SIZE = 2000
LINEAR_BOUND = 4.5
CLOSERS = " see a.b@c.de #x > [y](z)"
LINKED = CLOSERS + " [y](a.bc) <a.bc|y>"


def repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


INPUTS: dict[str, Callable[[int], str]] = {
    **{f"run of {char!r}": repeat(char) for char in "*_~[]|`<>:()!\\$@#-+"},
    "quote nesting": repeat("> "),
    "list prefixes": repeat("- "),
    "task prefixes": repeat("- [ ] "),
    "mixed markup": repeat("*_~[|`<"),
    "nested openers": repeat("**_~~"),
    "nested links": repeat("[[*_"),
    "alternating *a_": repeat("*a_"),
    "unclosed bolds": repeat("**a "),
    "unclosed links": repeat("[a]("),
    "unclosed slack links": repeat("<a|"),
    "unclosed timestamps": repeat("<t:"),
    "unclosed katex": repeat("\\("),
    "unclosed katex blocks": repeat("\\["),
    "unclosed shortcodes": repeat(":a"),
    "images": repeat("!["),
    "snake words": repeat("a_"),
    "long url": lambda n: "https://example.com/" + "a" * n,
    "dotted host": repeat("a."),
    "emoji": repeat("😀"),
    "prose": repeat("hello world, see https://example.com and :smile: "),
}


def closed(make: Callable[[int], str], closers: str) -> Callable[[int], str]:
    return lambda n: make(n)[: n - len(closers)] + closers


INPUTS.update(
    {
        f"{name}, {suffix}": closed(make, closers)
        for name, make in list(INPUTS.items())
        for suffix, closers in (("closed", CLOSERS), ("linked", LINKED))
    }
)


def calls(text: str) -> int:
    """Function calls made while parsing `text`."""
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        parse(text, OPTIONS)
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_work_grows_linearly(name: str) -> None:
    make = INPUTS[name]
    small, large = calls(make(SIZE)), calls(make(4 * SIZE))
    assert large / small < LINEAR_BOUND, f"{name}: {small} calls -> {large} calls"
