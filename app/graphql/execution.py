"""Execution that remembers, across requests, which fields each selection collects, and
completes values by plans compiled once per document (`plans.py`).

graphql-core collects the sub-fields of every object it completes, and memoizes that only
within one request. Every `MarkdownNode` of every answer is completed against the shipped
fragment: some 50 selections, inline fragments for each node type, at each of 10 levels, so
collecting was the largest single cost of a send. Collection depends only on the document,
the runtime type and the variables (through `@skip`/`@include`/`@defer`); for a document with
no directives at all it depends on the first two only, and clients send the same few
documents again and again (the parser cache hands back the same nodes for the same text).

The same key (operation, type, field nodes) finds the selection's execution plan. A value the
plan does not cover, and every document with directives (whose selections depend on the
variables), is completed by graphql-core as before.
"""

from __future__ import annotations

import operator
from typing import Any, TypeVar

from cachetools import LRUCache
from graphql import (
    ExecutionResult,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Node,
    OperationDefinitionNode,
    is_leaf_type,
)
from graphql.execution.collect_fields import CollectedFields, FieldDetails
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.graphql.plans import Completer, PlanBuilder, Unsupported

CACHE_SIZE = 4096
EVENT_CACHE_SIZE = 1024

# (operation, runtime type, field nodes) -> collected fields; the operation and nodes are
# kept in the entry too, and compared by identity, so a recycled id() can never match.
_CollectKey = tuple[int, GraphQLObjectType, tuple[int, ...]]
# Building the plan of the shipped markdown fragment alone collects some 6,600 selections
# (20 node types with children, 33 possible types under each, 10 levels).
COLLECTED_CACHE_SIZE = 32768
_collected: LRUCache[_CollectKey, tuple[Any, tuple[Node, ...], CollectedFields]] = LRUCache(
    COLLECTED_CACHE_SIZE
)
_directive_free: LRUCache[int, tuple[OperationDefinitionNode, bool]] = LRUCache(CACHE_SIZE)
# (operation, return type, field nodes) -> the plan, or None where none can be built.
_PlanKey = tuple[int, GraphQLOutputType, tuple[int, ...]]
_plans: LRUCache[_PlanKey, tuple[Any, tuple[Node, ...], Completer | None]] = LRUCache(CACHE_SIZE)
V = TypeVar("V")
_MISSING: Any = object()


def _cache_key(
    operation: Any, output_type: Any, field_details_list: list[FieldDetails]
) -> tuple[tuple[int, Any, tuple[int, ...]], tuple[Node, ...]]:
    nodes = tuple(details.node for details in field_details_list)
    return (id(operation), output_type, tuple(map(id, nodes))), nodes


def _cached(
    cache: LRUCache[Any, tuple[Any, tuple[Node, ...], V]],
    key: Any,
    operation: Any,
    nodes: tuple[Node, ...],
) -> V:
    """The entry for `key` if it was made for this very operation and these very nodes (ids
    can be recycled once an object is gone; identity cannot), else _MISSING."""
    entry = cache.get(key)
    if entry is not None and entry[0] is operation and all(map(operator.is_, entry[1], nodes)):
        return entry[2]
    return _MISSING  # type: ignore[no-any-return]


class ExecutionStats:
    """Counts kept for the tests that prove these overrides of graphql-core's executor are
    still called and still hit: if a new graphql-core stops calling them, those tests fail."""

    collected_hits = 0
    plans_built = 0
    plans_completed = 0
    plans_fell_back = 0
    events_shared = 0  # a subscription event's result taken from another subscriber's


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
            ExecutionStats.events_shared += 1
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
        key, nodes = _cache_key(self.operation, return_type, field_details_list)
        cached = _cached(_collected, key, self.operation, nodes)
        if cached is not _MISSING:
            ExecutionStats.collected_hits += 1
            return cached
        collected: CollectedFields = super().collect_subfields(return_type, field_details_list)
        _collected[key] = (self.operation, nodes, collected)
        return collected

    def _plan(
        self, return_type: GraphQLOutputType, field_details_list: list[FieldDetails]
    ) -> Completer | None:
        key, nodes = _cache_key(self.operation, return_type, field_details_list)
        cached = _cached(_plans, key, self.operation, nodes)
        if cached is not _MISSING:
            return cached
        try:
            plan: Completer | None = PlanBuilder(self.schema, self.collect_subfields).completer(
                return_type, field_details_list
            )
            ExecutionStats.plans_built += 1
        except Unsupported:
            plan = None
        _plans[key] = (self.operation, nodes, plan)
        return plan

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: list[FieldDetails],
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        """The plan's answer when it has one; graphql-core's otherwise, from the start."""
        middleware = self.middleware_manager
        if (
            not is_leaf_type(return_type)
            and (middleware is None or not middleware.middlewares)
            and self._directive_free()
        ):
            plan = self._plan(return_type, field_details_list)
            if plan is not None:
                try:
                    completed = plan(result)
                except Exception:
                    ExecutionStats.plans_fell_back += 1
                else:
                    ExecutionStats.plans_completed += 1
                    return completed
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )


# Subscription events executed already: (event, operation, variables) -> result. Every
# subscriber of a room receives the same event object (see subscriptions.py), and subscribers
# with the same document and variables would compute the same answer: the first computes it,
# the others take it. The event and operation are kept in the entry and compared by identity.
_EventKey = tuple[int, int, str]
_event_results: LRUCache[_EventKey, tuple[Any, OperationDefinitionNode, ExecutionResult]] = (
    LRUCache(EVENT_CACHE_SIZE)
)
