"""The entry point: `parse(text, options)` gives the AST @rocket.chat/message-parser 0.32 gives."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from app.markdown.blocks import message
from app.markdown.errors import MarkdownSyntaxError
from app.markdown.grammar import GRAMMAR
from app.markdown.state import State

# A tree has no cycles, and the text between the two steps is never shown.
_ENCODER = json.JSONEncoder(check_circular=False, separators=(",", ":"))
_DECODER = json.JSONDecoder()


def _restore_characters(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join the UTF-16 surrogate pairs the parser worked on back into characters.

    A JSON round trip does it in C: `dumps` escapes each surrogate as `\\udXXX`, and `loads`
    reads an escaped high and low surrogate as the one character they encode while a lone
    surrogate stays as it is. Walking the tree in Python cost more than the parse itself on
    a message of emoji."""
    restored: list[dict[str, Any]] = _DECODER.decode(_ENCODER.encode(tree))
    return restored


# Shorter messages allocate too little to set the collector off.
_PAUSE_COLLECTOR_FROM = 1000


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a long message is parsed.

    A parse makes no reference cycles (reference counting frees all it allocated once it
    returns), but a long message keeps enough objects alive in the memo to set off the
    collector, and a full collection walks every object of the process: in a server, or in
    bench/markdown.py with its corpora loaded, that cost 4-7 ms within one 3,000-character
    message that parses in 1.7 ms. The collector is resumed as it was found."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse(
    text: str, options: Mapping[str, Any] | None = None, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Parse a message; `now` pins the date that time-of-day timestamps land on."""
    state = State(text, options or {}, now, GRAMMAR)
    if len(text) < _PAUSE_COLLECTOR_FROM:
        tree = message(state)
    else:
        with _collector_paused():
            tree = message(state)
    if tree is None:
        raise MarkdownSyntaxError("a message needs at least one character")
    if state.text is not text:
        tree = _restore_characters(tree)
    return tree
