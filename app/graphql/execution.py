"""Execution that remembers, across requests, which fields each selection collects, and
completes values by plans compiled once per document (`plans.py`).

graphql-core collects the sub-fields of every object it completes, and memoizes that only
within one request. Every `MarkdownNode` of every answer is completed against the shipped
fragment: some 50 selections, inline fragments for each node type, at each of 10 levels, so
collecting was the largest single cost of a send. Collection depends only on the document,
the runtime type and the variables (through `@skip`/`@include`/`@defer`); for a document with
no directives at all it depends on the first two only, and clients send the same few
documents again and again (the parser cache hands back the same nodes for the same text).

Both are kept with the document (`app.graphql.documents.kept`): they live as long as it does,
and its cache counts their bytes. The same key (type, field nodes) finds the selection's
execution plan. A value the
plan does not cover, and every document with directives (whose selections depend on the
variables), is completed by graphql-core as before.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from cachetools import LRUCache
from graphql import (
    ExecutionResult,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    OperationDefinitionNode,
    is_leaf_type,
)
from graphql.execution.collect_fields import (
    CollectedFields,
    FieldDetails,
    FragmentDetails,
    collect_subfields,
)
from graphql.execution.values import VariableValues
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.graphql.documents import Kept, kept
from app.graphql.plans import Collect, Completer, PlanBuilder, Unsupported

EVENT_CACHE_SIZE = 1024
# Estimated bytes of one collected selection (its dict and lists) and of one compiled object
# plan (its function, code and namespace), measured with tracemalloc on the shipped history
# operation: what a document's entry in its cache (`app.graphql.documents`) is charged.
COLLECTED_BYTES = 2500
PLAN_BYTES = 6000
_MISSING: Any = object()


def _released(*_: Any) -> Any:
    raise RuntimeError("this execution has finished")


_NO_HELPERS = GraphQLResolveInfoHelpers(gather=_released, track=_released)
_NO_VARIABLES = VariableValues({}, {})


def _key(kind: str, output_type: Any, field_details_list: list[FieldDetails]) -> tuple[Any, ...]:
    """A memo key: the nodes belong to the document the memo hangs on, so their ids are not
    reused while it lives."""
    return (kind, output_type, *(id(details.node) for details in field_details_list))


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


class _DocumentCollector:
    """graphql-core's field collection with no variables (a directive-free document's does
    not depend on them), each selection collected once per document."""

    def __init__(
        self,
        held: Kept,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDetails],
        operation: OperationDefinitionNode,
        hide_suggestions: bool,
    ) -> None:
        self.held = held
        self.arguments = (schema, fragments, _NO_VARIABLES, operation)
        self.hide_suggestions = hide_suggestions

    def __call__(
        self, return_type: GraphQLObjectType, field_details_list: list[FieldDetails]
    ) -> CollectedFields:
        memo = self.held.memo
        key = _key("collected", return_type, field_details_list)
        cached: CollectedFields | None = memo.get(key)
        if cached is not None:
            ExecutionStats.collected_hits += 1
            return cached
        collected = collect_subfields(
            *self.arguments, return_type, field_details_list, self.hide_suggestions
        )
        memo[key] = collected
        self.held.add(COLLECTED_BYTES)
        return collected


class CachingExecutionContext(StrawberryGraphQLCoreExecutionContext):
    is_event = False

    def build_per_event_executor(self, payload: Any) -> CachingExecutionContext:
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, CachingExecutionContext)
        executor.is_event = True
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        """A subscription event's result, computed once per event, document and variables;
        any other result with the executor's cycle undone once it is settled."""
        if not self.is_event:
            result = super().execute_operation(serially)
            if isinstance(result, ExecutionResult):
                self._undo_cycle()
                return result
            if self.is_awaitable(result):
                return self._settled(result)
            return result
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

    async def _settled(self, result: Awaitable[Any]) -> Any:
        settled = await result
        if isinstance(settled, ExecutionResult):
            self._undo_cycle()
        return settled

    def _undo_cycle(self) -> None:
        """graphql-core's executor holds its own bound methods (`async_helpers`), so each
        request's executor, with its fragments, variables and context, was garbage only the
        cyclic collector could free: some fifty objects a request, and the collections they
        caused were a tenth of a send's CPU. Once a result is whole (not an incremental one)
        and no work runs in the background, the helpers are let go: the executor is freed by
        its reference count. Resolve infos made before keep the helpers they were given."""
        if not self.background_futures and not self.pending_incremental_futures:
            self.async_helpers = _NO_HELPERS

    def _directive_free(self) -> bool:
        memo = kept(self.operation).memo
        free: bool | None = memo.get("directive free")
        if free is None:
            free = not _has_directives(self.operation) and not any(
                _has_directives(details.definition) or details.variable_signatures
                for details in self.fragments.values()
            )
            memo["directive free"] = free
        return free

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: list[FieldDetails]
    ) -> CollectedFields:
        if not self._directive_free():
            return super().collect_subfields(return_type, field_details_list)
        return self._document_collector()(return_type, field_details_list)

    def _document_collector(self) -> Collect:
        """Field collection for a directive-free document, kept with it. It holds the
        document's parts and nothing of this request: plans built with it live as long as the
        document, and must not keep the executor that first ran it alive, with its context
        and variables (a visitor's token and message)."""
        held = kept(self.operation)
        collector: Collect | None = held.memo.get("collector")
        if collector is None:
            collector = held.memo["collector"] = _DocumentCollector(
                held, self.schema, self.fragments, self.operation, self.hide_suggestions
            )
        return collector

    def _plan(
        self, return_type: GraphQLOutputType, field_details_list: list[FieldDetails]
    ) -> Completer | None:
        held = kept(self.operation)
        key = _key("plan", return_type, field_details_list)
        cached = held.memo.get(key, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[no-any-return]
        builder = PlanBuilder(
            self.schema, self._document_collector(), planned=lambda: held.add(PLAN_BYTES)
        )
        try:
            plan: Completer | None = builder.completer(return_type, field_details_list)
            ExecutionStats.plans_built += 1
        except Unsupported:
            plan = None
        held.memo[key] = plan
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
