"""Validate each distinct document once, keyed by its text.

Strawberry's own `ValidationCache` keys its LRU by the parsed `DocumentNode`. graphql-core's
AST nodes are frozen dataclasses whose hash walks the whole tree, so every lookup re-hashes
every node of the document: for the shipped markdown fragment (about 4,000 nodes) that cost
more than validating had saved. The query text is a string whose hash Python caches, and
the parser cache already maps equal texts to the same document, so the text is the key.

One `ValidationCache` belongs to a schema: Strawberry's path reaches it through the
extension class `extension`, the lean POST path (`app.graphql.lean`) calls `errors` itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from cachetools import LRUCache
from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from app.graphql.export import graphql_core_schema


class ValidationStats:
    """Counted for the test that proves the cache still hits (every schema's together)."""

    hits = 0


Rules = tuple[type[ASTValidationRule], ...]


class ValidationCache:
    """The errors found per (document text, rule set), least recently used dropped first."""

    def __init__(self, maxsize: int) -> None:
        self._results: LRUCache[tuple[str, Rules], list[GraphQLError]] = LRUCache(maxsize)
        self.extension = self._extension()

    def errors(
        self,
        schema: GraphQLSchema,
        query: str | None,
        document: DocumentNode,
        rules: Sequence[type[ASTValidationRule]],
    ) -> list[GraphQLError]:
        """The document's validation errors, from the cache when its text was seen with these
        rules (a document without its text has nothing to key it by: validated every time)."""
        key = (query, tuple(rules)) if query else None
        errors = self._results.get(key) if key is not None else None
        if errors is not None:
            ValidationStats.hits += 1
            return errors
        errors = validate_document(schema, document, tuple(rules))
        if key is not None:
            self._results[key] = errors
        return errors

    def _extension(self) -> type[SchemaExtension]:
        """The extension class for the schema's `extensions` (one instance per request, this
        cache)."""
        cache = self

        class CachedValidation(SchemaExtension):
            def on_validate(self) -> Iterator[None]:
                context = self.execution_context
                assert context.graphql_document is not None
                context.pre_execution_errors = cache.errors(
                    graphql_core_schema(context.schema),
                    context.query,
                    context.graphql_document,
                    context.validation_rules,
                )
                yield

        return CachedValidation
