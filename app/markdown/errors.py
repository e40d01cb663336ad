"""The parser's one error."""


class MarkdownSyntaxError(ValueError):
    """The input has no parse, as the reference throws for the empty message."""
