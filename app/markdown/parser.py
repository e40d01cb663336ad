"""The entry point: `parse(text, options)` gives the AST @rocket.chat/message-parser 0.32 gives."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.markdown.blocks import message
from app.markdown.errors import MarkdownSyntaxError
from app.markdown.grammar import GRAMMAR
from app.markdown.state import State, from_units


def _restore_characters(value: Any) -> Any:
    """Join the UTF-16 surrogate pairs the parser worked on back into characters."""
    if isinstance(value, str):
        return from_units(value)
    if isinstance(value, list):
        return [_restore_characters(item) for item in value]
    if isinstance(value, dict):
        return {key: _restore_characters(item) for key, item in value.items()}
    return value


def parse(
    text: str, options: Mapping[str, Any] | None = None, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Parse a message; `now` pins the date that time-of-day timestamps land on."""
    state = State(text, options or {}, now, GRAMMAR)
    tree = message(state)
    if tree is None:
        raise MarkdownSyntaxError("a message needs at least one character")
    if state.text is not text:
        tree = _restore_characters(tree)
    return tree
