"""Parsed documents, kept by the bytes they hold and without the text they came from.

Clients send the same few documents again and again, so each distinct text is parsed once and
its validation, execution plans and collected fields are kept with it. Two things bound that:

- graphql-core's AST keeps, through every node's `loc`, the whole source text and the chain of
  every token (comments included): a document padded with whitespace or comments to a megabyte
  kept the megabyte, and the caches kept thousands of documents. Here each node's place is a
  `Spot` whose source is the document's `Lines` (where the lines its nodes are on start, taken
  from the tokens when parsed), and the text is let go: an error's `locations` come out
  exactly as before. The cache is keyed by the text's SHA-256, so the text is not kept as a
  key either.
- The cache holds at most `max_bytes` by estimate (nodes, their names and strings, and what
  execution adds: plans and collected fields), least recently used dropped first; what is
  dropped takes its validation and plans with it.

What is found out about a document (its validation, its plans) hangs on the document itself
(`kept`), so it lives exactly as long as the document does, and is counted while cached.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from graphql import (
    DocumentNode,
    GraphQLError,
    NameNode,
    OperationDefinitionNode,
    Source,
    Token,
)
from graphql.language.location import SourceLocation
from graphql.language.parser import Parser, nested_too_deeply_error
from strawberry.extensions import SchemaExtension

# Estimated bytes of one parsed node with its Spot (a dataclass instance with its dict, the
# lists and tuples that hold it), measured with tracemalloc on the shipped operations.
NODE_BYTES = 250
# The estimated bytes of an entry itself: its key, the dataclass, the dicts it keeps.
ENTRY_BYTES = 1024

Rules = tuple[Any, ...]


class Lines:
    """Where the lines of a document start, for the lines its nodes start on: what
    GraphQLError asks of a `Source` (a position's line and column; for an error with several
    nodes, the `body` it scans for line ends), without the text. `body` is a stand-in of the
    text's length with a line end just before each line start, made only when asked."""

    name = "GraphQL request"
    location_offset = SourceLocation(1, 1)

    def __init__(self) -> None:
        self.starts = {1: 0}  # line number -> where it starts, filled in by the parser
        self._sorted: tuple[list[int], list[int]] | None = None

    def _index(self) -> tuple[list[int], list[int]]:
        if self._sorted is None:
            lines = sorted(self.starts)
            self._sorted = lines, [self.starts[line] for line in lines]
        return self._sorted

    def get_location(self, position: int) -> SourceLocation:
        lines, starts = self._index()
        index = max(0, bisect_right(starts, position) - 1)
        return SourceLocation(lines[index], position + 1 - starts[index])

    @property
    def body(self) -> str:
        parts, line, at = [], 1, 0
        for number, start in zip(*self._index(), strict=True):
            breaks = number - line  # the line ends before `start`, at its very end
            parts.append(" " * (start - breaks - at) + "\n" * breaks)
            line, at = number, start
        return "".join(parts)


class Spot:
    """A node's place in its document: what GraphQLError and printing read of a `Location`."""

    __slots__ = ("end", "source", "start")

    def __init__(self, start: int, end: int, source: Lines) -> None:
        self.start, self.end, self.source = start, end, source

    def __eq__(self, other: object) -> bool:
        start, end = getattr(other, "start", None), getattr(other, "end", None)
        return (start, end) == (self.start, self.end)

    def __hash__(self) -> int:
        return hash((self.start, self.end))

    def __repr__(self) -> str:
        return f"<Spot {self.start}:{self.end}>"


class _SpotParser(Parser):
    """graphql-core's parser, each node located by a Spot instead of a Location (which holds
    the source and the chain of every token); it counts what the nodes hold for the cache's
    estimate."""

    nodes = 0
    characters = 0

    def __init__(self, source: Source, max_tokens: int | None) -> None:
        super().__init__(source, max_tokens=max_tokens)
        self.lines = Lines()

    def loc(self, start_token: Token) -> Any:
        self.nodes += 1
        if start_token.line > 1:  # not the first line, nor the start of the document
            line_start = start_token.start + 1 - start_token.column
            self.lines.starts.setdefault(start_token.line, line_start)
        return Spot(start_token.start, self._lexer.last_token.end, self.lines)

    def parse_name(self) -> NameNode:
        node = super().parse_name()
        self.characters += len(node.value)
        return node

    def parse_string_literal(self, _is_const: bool = False) -> Any:
        node = super().parse_string_literal(_is_const)
        self.characters += len(node.value)
        return node


def parse(query: str, max_tokens: int | None = None) -> tuple[DocumentNode, int]:
    """The document, located by Spots, and its estimated bytes; GraphQLSyntaxError when it
    is not one (that error keeps the text for its message, and is not cached)."""
    parser = _SpotParser(Source(query), max_tokens=max_tokens)
    try:
        document = parser.parse_document()
    except RecursionError:
        pass
    else:
        size = parser.nodes * NODE_BYTES + parser.characters + 100 * len(parser.lines.starts)
        return document, size
    raise nested_too_deeply_error(parser)


@dataclass(eq=False)
class Kept:
    """What is kept with one document beside its AST: its validation results and execution's
    memo (plans, collected fields), with their estimated bytes. It hangs on the document and its
    operations (`kept`), so it lives exactly as long as they do, in the cache or not."""

    errors: dict[Rules, list[GraphQLError]] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)
    added_bytes: int = 0
    resize: Callable[[], None] | None = None  # set while a cache counts it

    def add(self, size: int) -> None:
        """Count `size` more bytes kept with the document (which may evict others, or it)."""
        self.added_bytes += size
        if self.resize is not None:
            self.resize()


KEPT = "_livechat_kept"


def kept(node: DocumentNode | OperationDefinitionNode) -> Kept:
    """What is kept with the document `node` is (or belongs to); attached on first use to a
    document that no cache parsed (tests may execute one directly)."""
    found: Kept | None = getattr(node, KEPT, None)
    if found is None:
        found = Kept()
        _attach(node, found)
    return found


def _attach(node: Any, found: Kept) -> None:
    object.__setattr__(node, KEPT, found)  # AST nodes are frozen dataclasses with a __dict__


@dataclass(eq=False)
class Parsed:
    """A cache entry: what it weighs is the document's estimate and what is kept with it."""

    document: DocumentNode
    parsed_bytes: int
    kept: Kept

    @property
    def weight(self) -> int:
        return ENTRY_BYTES + self.parsed_bytes + self.kept.added_bytes


class _Entries(LRUCache[Any, Parsed]):
    def popitem(self) -> tuple[Any, Parsed]:
        key, parsed = super().popitem()
        parsed.kept.resize = None
        return key, parsed


class Documents:
    """The parsed documents of one schema, by text, within `max_bytes` (by estimate)."""

    def __init__(self, max_bytes: int) -> None:
        self._entries = _Entries(max_bytes, getsizeof=lambda parsed: parsed.weight)
        self.hits = 0  # for the tests that prove the cache still hits

    @property
    def bytes(self) -> int:
        """The estimated bytes held now."""
        return int(self._entries.currsize)

    @property
    def max_bytes(self) -> int:
        return int(self._entries.maxsize)

    def __len__(self) -> int:
        return len(self._entries)

    def parse(self, query: str, max_tokens: int | None = None) -> DocumentNode:
        """The document for `query` (GraphQLSyntaxError when it is not one)."""
        key = (hashlib.sha256(query.encode()).digest(), max_tokens)
        found = self._entries.get(key)
        if found is not None:
            self.hits += 1
            return found.document
        document, size = parse(query, max_tokens)
        parsed = Parsed(document, size, Kept())
        for node in (document, *document.definitions):
            if isinstance(node, DocumentNode | OperationDefinitionNode):
                _attach(node, parsed.kept)
        if parsed.weight <= self.max_bytes:  # else used once and kept by nothing
            self._entries[key] = parsed
            parsed.kept.resize = lambda: self._resize(key, parsed)
        return document

    def _resize(self, key: Any, parsed: Parsed) -> None:
        """Count `parsed` again at its new weight: out and in again, as the most recently
        used (it is being used), the LRU evicting others; or out, if it outgrew the cache."""
        del self._entries[key]
        if parsed.weight <= self.max_bytes:
            self._entries[key] = parsed
        else:
            parsed.kept.resize = None

    def extension(self) -> type[SchemaExtension]:
        """A factory for the schema's `extensions`: parsing through this cache, with the
        parse options other extensions set (the token limit)."""
        documents = self

        class CachedParse(SchemaExtension):
            def on_parse(self) -> Iterator[None]:
                context = self.execution_context
                assert context.query is not None
                context.graphql_document = documents.parse(context.query, **context.parse_options)
                yield

        return CachedParse
