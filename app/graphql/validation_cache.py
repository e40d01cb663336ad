"""Validate each distinct document once, keyed by its text.

Strawberry's own `ValidationCache` keys its LRU by the parsed `DocumentNode`. graphql-core's
AST nodes are frozen dataclasses whose hash walks the whole tree, so every lookup re-hashes
every node of the document: for the shipped markdown fragment (about 4,000 nodes) that cost
more than validating had saved. The query text is a string whose hash Python caches, and
the parser cache already maps equal texts to the same document, so the text is the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from cachetools import LRUCache
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from app.graphql.export import graphql_core_schema


class ValidationStats:
    """Counted for the test that proves the cache still hits (every schema's together)."""

    hits = 0


def cached_validation(maxsize: int) -> Callable[[], SchemaExtension]:
    """A factory for the schema's `extensions`: one instance per request, one shared cache of
    the errors found per (document text, rule set)."""
    results: LRUCache[tuple[str | None, tuple[type, ...]], list[GraphQLError]] = LRUCache(maxsize)

    class CachedValidation(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            rules = tuple(context.validation_rules)
            key = (context.query, rules)
            # A document without its text has nothing to key it by: validated every time.
            errors = results.get(key) if context.query else None
            if errors is not None:
                ValidationStats.hits += 1
            else:
                assert context.graphql_document is not None
                core = graphql_core_schema(context.schema)
                errors = validate_document(core, context.graphql_document, rules)
                if context.query:
                    results[key] = errors
            context.pre_execution_errors = errors
            yield

    return CachedValidation
