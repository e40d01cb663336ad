"""Rocket.Chat's message markdown: `parse(text, options)` gives the AST of
`@rocket.chat/message-parser` 0.32 as plain JSON-ready dicts. Imports nothing of ours."""

from app.markdown.errors import MarkdownSyntaxError
from app.markdown.parser import parse

__all__ = ["MarkdownSyntaxError", "parse"]
