"""Seams for predictable tests: a clock and an id generator that count, and query loading."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "queries"


class SteppingClock:
    """Starts at a fixed instant and moves one second per reading."""

    def __init__(self, start: datetime = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)) -> None:
        self._now = start

    def __call__(self) -> datetime:
        now = self._now
        self._now += timedelta(seconds=1)
        return now


class CountingIds:
    """Ids of Rocket.Chat's length that say in which order they were made."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"id{next(self._counter):015d}"


FRAGMENT_DEFINITION = re.compile(r"^fragment (\w+)", re.MULTILINE)
SPREAD = re.compile(r"\.\.\.(\w+)")


def operation(name: str) -> str:
    """`queries/<name>.graphql` with the fragment files it spreads, as a client sends it."""
    files = {
        defined: path
        for path in sorted((QUERIES / "fragments").glob("*.graphql"))
        for defined in FRAGMENT_DEFINITION.findall(path.read_text())
    }
    document = (QUERIES / f"{name}.graphql").read_text()
    included: list[Path] = []
    pending = SPREAD.findall(document)
    while pending:
        path = files.get(pending.pop())
        if path is not None and path not in included:
            included.append(path)
            pending += SPREAD.findall(path.read_text())
    return "\n".join([document, *(path.read_text() for path in included)])
