"""Execution that remembers, across requests, which fields each selection collects.

graphql-core collects the sub-fields of every object it completes, and memoizes that only
within one request. Every `MarkdownNode` of every answer is completed against the shipped
fragment: some 50 selections, inline fragments for each node type, at each of 10 levels, so
collecting was the largest single cost of a send. Collection depends only on the document,
the runtime type and the variables (through `@skip`/`@include`/`@defer`); for a document with
no directives at all it depends on the first two only, and clients send the same few
documents again and again (the parser cache hands back the same nodes for the same text).
"""

from __future__ import annotations

import operator
from typing import Any

from cachetools import LRUCache
from graphql import ExecutionResult, GraphQLObjectType, Node, OperationDefinitionNode
from graphql.execution.collect_fields import CollectedFields, FieldDetails
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

CACHE_SIZE = 4096
EVENT_CACHE_SIZE = 1024

# (operation, runtime type, field nodes) -> collected fields; the operation and nodes are
# kept in the entry too, and compared by identity, so a recycled id() can never match.
_CollectKey = tuple[int, GraphQLObjectType, tuple[int, ...]]
_collected: LRUCache[_CollectKey, tuple[Any, tuple[Node, ...], CollectedFields]] = LRUCache(
    CACHE_SIZE
)
_directive_free: LRUCache[int, tuple[OperationDefinitionNode, bool]] = LRUCache(CACHE_SIZE)


def _has_directives(node: Any) -> bool:
    if getattr(node, "directives", None) or (
        getattr(node, "variable_definitions", None)
        and any(definition.directives for definition in node.variable_definitions)
    ):
        return True
    selection_set = getattr(node, "selection_set", None)
    return selection_set is not None and any(
        _has_directives(selection) for selection in selection_set.selections
    )


class CachingExecutionContext(StrawberryGraphQLCoreExecutionContext):
    is_event = False

    def build_per_event_executor(self, payload: Any) -> CachingExecutionContext:
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, CachingExecutionContext)
        executor.is_event = True
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        """A subscription event's result, computed once per event, document and variables."""
        if not self.is_event:
            return super().execute_operation(serially)
        event, operation = self.root_value, self.operation
        variables = repr(sorted(self.variable_values.coerced.items()))
        key = (id(event), id(operation), variables)
        cached = _event_results.get(key)
        if cached is not None and cached[0] is event and cached[1] is operation:
            return cached[2]
        result = super().execute_operation(serially)
        if isinstance(result, ExecutionResult):
            _event_results[key] = (event, operation, result)
        return result

    def _directive_free(self) -> bool:
        operation = self.operation
        known = _directive_free.get(id(operation))
        if known is not None and known[0] is operation:
            return known[1]
        free = not _has_directives(operation) and not any(
            _has_directives(details.definition) or details.variable_signatures
            for details in self.fragments.values()
        )
        _directive_free[id(operation)] = (operation, free)
        return free

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: list[FieldDetails]
    ) -> CollectedFields:
        if not self._directive_free():
            return super().collect_subfields(return_type, field_details_list)
        nodes = tuple(details.node for details in field_details_list)
        key = (id(self.operation), return_type, tuple(map(id, nodes)))
        cached = _collected.get(key)
        if (
            cached is not None
            and cached[0] is self.operation
            and all(map(operator.is_, cached[1], nodes))
        ):
            return cached[2]
        collected: CollectedFields = super().collect_subfields(return_type, field_details_list)
        _collected[key] = (self.operation, nodes, collected)
        return collected


# Subscription events executed already: (event, operation, variables) -> result. Every
# subscriber of a room receives the same event object (see subscriptions.py), and subscribers
# with the same document and variables would compute the same answer: the first computes it,
# the others take it. The event and operation are kept in the entry and compared by identity.
_EventKey = tuple[int, int, str]
_event_results: LRUCache[_EventKey, tuple[Any, OperationDefinitionNode, ExecutionResult]] = (
    LRUCache(EVENT_CACHE_SIZE)
)
