"""Validate each distinct document once: the errors are kept with the document.

Strawberry's own `ValidationCache` keys its LRU by the parsed `DocumentNode`. graphql-core's
AST nodes are frozen dataclasses whose hash walks the whole tree, so every lookup re-hashes
every node of the document: for the shipped markdown fragment (about 4,000 nodes) that cost
more than validating had saved. The parser's cache (`app.graphql.documents`) hands back the
same document for the same text, so the errors are kept with that document, per rule set:
they live as long as it does, and its cache counts their bytes.

Strawberry's path reaches this through the extension `extension()` makes, the lean POST path
(`app.graphql.lean`) calls `errors` itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from app.graphql.documents import kept
from app.graphql.export import graphql_core_schema
from app.graphql.limits import DocumentLimits

# Estimated bytes of one validation error kept (its object, locations and formatted parts),
# beside its message.
ERROR_BYTES = 600


class ValidationStats:
    """Counted for the test that proves the cache still hits (every schema's together)."""

    hits = 0


def errors(
    schema: GraphQLSchema, document: DocumentNode, rules: Sequence[type[ASTValidationRule]]
) -> list[GraphQLError]:
    """The document's validation errors, found once per rule set."""
    held = kept(document)
    key = tuple(rules)
    found = held.errors.get(key)
    if found is not None:
        ValidationStats.hits += 1
        return found
    # The limits first, and alone: a document they refuse is not given to graphql-core's
    # rules, some of which cost time quadratic in what the limits bound.
    limits = tuple(rule for rule in key if issubclass(rule, DocumentLimits))
    found = validate_document(schema, document, limits) if limits else []
    if not found:
        found = validate_document(schema, document, tuple(r for r in key if r not in limits))
    held.errors[key] = found
    held.add(sum(ERROR_BYTES + len(error.message) for error in found))
    return found


def extension() -> type[SchemaExtension]:
    """A factory for the schema's `extensions`: validation through `errors`."""

    class CachedValidation(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            assert context.graphql_document is not None
            context.pre_execution_errors = errors(
                graphql_core_schema(context.schema),
                context.graphql_document,
                context.validation_rules,
            )
            yield

    return CachedValidation
