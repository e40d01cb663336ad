"""A GraphQL request run the way Strawberry's `Schema.execute` runs it, without its machinery.

What clients send most is a POST of a JSON object naming a document they have sent before.
Strawberry answers it through its view (request adapters, a sub-response, content negotiation)
and `Schema.execute`, which builds every extension of the schema and an extensions runner for
each request: about a third of a request's CPU, for work that is the same every time. This
module does what those extensions do, from `Schema.preparation` (the same parser cache and
token limit, the same rules, the same validation kept with the document), then calls
graphql-core's `execute` on the Strawberry schema's graphql-core schema with its execution
context class, as
`Schema.execute` does, and masks and codes the errors with the functions the extensions use.

It answers only what it can answer exactly as Strawberry would: `prepare` returns None for
anything else (no query, a batch, a variable map that is not an object, an APQ refusal, an
operation it cannot pick, a subscription, a schema with an extension it does not mirror, a
request whose trace is sampled) and the caller hands the request to Strawberry's view instead.
With metrics on, it counts and times the operation from its own answer, as `OperationMetrics`
does on the view's path. `tests/test_lean_graphql.py` sends the same requests
both ways and compares the answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, cast

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationType,
    execute,
    get_operation_ast,
)
from opentelemetry.trace import get_current_span
from strawberry.execution.is_awaitable import optimized_is_awaitable

from app.backends.base import LivechatBackend
from app.graphql import validation_cache
from app.graphql.answer_limit import capped
from app.graphql.context import request_context
from app.graphql.errors import mask_errors
from app.graphql.export import graphql_core_schema
from app.graphql.json_codec import encode
from app.graphql.observers import record_operation, root_fields
from app.graphql.persisted import DocumentCache, Refusal, resolve
from app.graphql.schema import Schema
from app.observability import metrics

RUNS = frozenset({OperationType.QUERY, OperationType.MUTATION})


class LeanStats:
    """Counted for the tests that prove the served app takes this path."""

    answered = 0


@dataclass(frozen=True)
class Prepared:
    """A request that passed every check Strawberry makes before it executes, or failed one
    with errors that Strawberry would answer as data (`errors` then holds them)."""

    schema: Schema
    query: str
    document: DocumentNode | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None
    errors: list[GraphQLError] | None = None

    async def answer(self, backend: LivechatBackend, request_id: str) -> bytes:
        """The JSON body Strawberry's view would answer, with HTTP status 200; the operation
        counted and timed, as `OperationMetrics` does, when metrics are on."""
        LeanStats.answered += 1
        recorder = metrics.current()
        if recorder is None:
            body, _ = await self._answer(backend, request_id)
            return body
        outcome = metrics.begin_operation()
        started = time.perf_counter()
        body, errors = await self._answer(backend, request_id)
        operation = root_fields(self.document, self.operation_name, self.schema)
        record_operation(recorder, operation, outcome, time.perf_counter() - started, errors)
        return body

    async def _answer(
        self, backend: LivechatBackend, request_id: str
    ) -> tuple[bytes, list[GraphQLError] | None]:
        """The body, and the errors it carries as answered (masked)."""
        limit = self.schema.preparation.max_answer_bytes
        if self.errors is not None:
            return _body(None, self.errors, request_id, limit)
        assert self.document is not None
        context = request_context(backend, request_id)
        try:
            result: Any = execute(
                graphql_core_schema(self.schema),
                self.document,
                root_value=None,
                context_value=context,
                variable_values=self.variables,
                operation_name=self.operation_name,
                executor_class=self.schema.execution_context_class,
                is_awaitable=cast(Any, optimized_is_awaitable),  # as Schema.execute passes it
                operation_extensions=self.extensions,
            )
            if isawaitable(result):
                result = await result
        except Exception as error:  # as Schema.execute: an error of the request, masked
            coerced = error if isinstance(error, GraphQLError) else None
            errors = [coerced or GraphQLError(str(error), original_error=error)]
            return _body(None, errors, request_id, limit)
        assert isinstance(result, ExecutionResult)
        if result.errors:
            self.schema._process_errors(result.errors)
        return _body(result.data, result.errors, request_id, limit)


def _body(
    data: Any, errors: list[GraphQLError] | None, request_id: str, limit: int
) -> tuple[bytes, list[GraphQLError] | None]:
    if not errors:
        return capped(encode({"data": data}), limit), None
    masked = mask_errors(errors, request_id)
    formatted = [error.formatted for error in masked]
    return capped(encode({"data": data, "errors": formatted}), limit), masked


def prepare(schema: Schema, documents: DocumentCache, payload: dict[str, Any]) -> Prepared | None:
    """The request in `payload` (a POST's JSON object) ready to answer, or None when it is
    Strawberry's view that must answer it."""
    preparation = schema.preparation
    if preparation.observed or (preparation.traced and get_current_span().is_recording()):
        return None
    query, variables = payload.get("query"), payload.get("variables")
    operation_name, extensions = payload.get("operationName"), payload.get("extensions")
    if (
        not isinstance(variables, dict | None)
        or not isinstance(operation_name, str | None)
        or not isinstance(extensions, dict | None)
    ):
        return None
    if extensions is not None:
        try:
            query = resolve(documents, query, extensions) or query
        except Refusal:
            return None
    if not isinstance(query, str) or not query:
        return None
    try:
        document = preparation.document(query)
    except GraphQLError as error:
        # A syntax error, or too many tokens: Strawberry codes it (`process_errors`).
        errors = [error]
        schema._process_errors(errors)
        return Prepared(schema, query, None, variables, operation_name, extensions, errors)
    except Exception:
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation not in RUNS:
        return None
    errors = validation_cache.errors(graphql_core_schema(schema), document, preparation.rules)
    if errors:
        schema._process_errors(errors)  # in place, in the cache, as Strawberry's path does
        return Prepared(schema, query, None, variables, operation_name, extensions, errors)
    return Prepared(schema, query, document, variables, operation_name, extensions)
