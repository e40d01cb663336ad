"""The parser's time grows linearly with the input, where the reference's grows quadratically.

Each input is timed at n and 2n characters (best of several runs, so a busy machine only makes
the test slower, not wrong). Linear growth doubles the time; quadratic growth quadruples it.
The bound sits between the two with room for noise.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from app.markdown import parse

OPTIONS = {
    "colors": True,
    "emoticons": True,
    "katex": {"dollarSyntax": True, "parenthesisSyntax": True},
}
SIZE = 3000
LINEAR_BOUND = 3.2

INPUTS: dict[str, Callable[[int], str]] = {
    "asterisks": lambda n: "*" * n,
    "underscores": lambda n: "_" * n,
    "tildes": lambda n: "~" * n,
    "brackets": lambda n: "[" * n,
    "pipes": lambda n: "|" * n,
    "backticks": lambda n: "`" * n,
    "less-thans": lambda n: "<" * n,
    "quote nesting": lambda n: "> " * (n // 2),
    "mixed markup": lambda n: ("*_~[|`<" * n)[:n],
    "unclosed bolds": lambda n: ("**a " * n)[:n],
    "unclosed links": lambda n: ("[a](" * n)[:n],
    "snake words": lambda n: ("a_" * n)[:n],
}


def best_time(text: str, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        parse(text, OPTIONS)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_growth_is_linear(name: str) -> None:
    make = INPUTS[name]
    small, large = best_time(make(SIZE)), best_time(make(2 * SIZE))
    assert large / small < LINEAR_BOUND, f"{name}: {small * 1000:.1f} ms -> {large * 1000:.1f} ms"
