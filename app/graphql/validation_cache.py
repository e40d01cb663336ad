"""Validate each distinct document once, keyed by its text.

Strawberry's own `ValidationCache` keys its LRU by the parsed `DocumentNode`. graphql-core's
AST nodes are frozen dataclasses whose hash walks the whole tree, so every lookup re-hashes
every node of the document: for the shipped markdown fragment (about 4,000 nodes) that cost
more than validating had saved. The query text is a string whose hash Python caches, and
the parser cache already maps equal texts to the same document, so the text is the key.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

ValidationKey = tuple[str, tuple[type, ...]]


class ValidationResults:
    """The errors found for each document text (and rule set), least recently used dropped."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._errors: OrderedDict[ValidationKey, list[GraphQLError]] = OrderedDict()

    def get(self, key: ValidationKey) -> list[GraphQLError] | None:
        errors = self._errors.get(key)
        if errors is not None:
            self._errors.move_to_end(key)
        return errors

    def put(self, key: ValidationKey, errors: list[GraphQLError]) -> None:
        self._errors[key] = errors
        while len(self._errors) > self.maxsize:
            self._errors.popitem(last=False)

    def extension(self) -> Callable[[], SchemaExtension]:
        """A factory for the schema's `extensions`: one instance per request, one cache."""
        results = self

        class CachedValidation(SchemaExtension):
            def on_validate(self) -> Iterator[None]:
                context = self.execution_context
                rules = tuple(context.validation_rules)
                key = (context.query or "", rules)
                errors = results.get(key) if context.query else None
                if errors is None:
                    assert context.graphql_document is not None
                    errors = validate_document(
                        context.schema._schema, context.graphql_document, rules
                    )
                    if context.query:
                        results.put(key, errors)
                context.pre_execution_errors = errors
                yield

        return CachedValidation
