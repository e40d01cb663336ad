"""The Strawberry extensions that watch operations: metrics and trace spans.

`OperationMetrics` counts and times GraphQL operations, labelled by what they asked for and how
they ended.

The operation label is the root field(s) the operation selected, read from the validated
document, not the client's operation name: names are free text a client chooses, root fields
are a short list the schema fixes. A document that did not validate is labelled `invalid`.

`GraphQLSpans` is Strawberry's OpenTelemetry extension without the visitor tokens that travel in
documents and arguments (tracing setup is `app.observability.tracing`'s).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any

import strawberry
from graphql import DocumentNode, FieldNode, GraphQLError, OperationDefinitionNode
from opentelemetry.sdk.trace import TracerProvider
from strawberry.extensions import LifecycleStep, SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension

from app.graphql.documents import kept
from app.graphql.errors import coded_request_error
from app.graphql.export import graphql_core_schema
from app.logs import redact
from app.observability import metrics

INVALID = "invalid"


def root_fields(document: DocumentNode | None, operation_name: str | None, schema: object) -> str:
    """`sendLivechatMessage`, or `a+b` for several; names the schema lacks count as `other`.
    Kept with the document (`documents.kept`, an attribute of it: graphql-core's nodes hash
    and compare the whole tree, so they are no dictionary's keys), per operation name."""
    if document is None:
        return INVALID
    known = schema_root_fields(schema)
    memo = kept(document).memo
    key = ("root fields", operation_name, known)
    label: str | None = memo.get(key)
    if label is None:
        label = memo[key] = _root_fields(document, operation_name, known)
    return label


def _root_fields(document: DocumentNode, operation_name: str | None, known: frozenset[str]) -> str:
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        and (
            operation_name is None
            or (definition.name is not None and definition.name.value == operation_name)
        )
    ]
    if not operations:
        return INVALID
    names = {
        selection.name.value if selection.name.value in known else "other"
        for selection in operations[0].selection_set.selections
        if isinstance(selection, FieldNode)
    }
    return "+".join(sorted(names)) or "other"


@functools.lru_cache(maxsize=8)
def schema_root_fields(schema: object) -> frozenset[str]:
    """Names a root field can have: the schema's own, and introspection's (a schema's are
    fixed once it is built, and asked for at every operation; a few schemas per process)."""
    graphql_schema = graphql_core_schema(schema) if isinstance(schema, strawberry.Schema) else None
    names = {"__typename", "__schema", "__type"}
    for root in ("query_type", "mutation_type", "subscription_type"):
        root_type = getattr(graphql_schema, root, None)
        if root_type is not None:
            names.update(root_type.fields)
    return frozenset(names)


def record_operation(
    recorder: metrics.Metrics,
    operation: str,
    outcome: metrics.OperationOutcome,
    elapsed: float,
    errors: Sequence[GraphQLError] | None,
    *,
    refused: bool = False,
) -> None:
    """Count and time one operation, labelled by its root fields (`operation`) and how it
    ended: the first error's code, else the first LivechatError's, else success. The one
    place both request paths record an operation (`OperationMetrics` for Strawberry's view,
    `app.graphql.lean` for the fast path), from the errors their answer carries."""
    if errors:
        first = errors[0]
        if refused or first.path is None:
            # The document was refused (parse, validation, limits: errors with no path): its
            # fields are not the schema's. Such errors may get their code only now.
            operation = INVALID
            first = coded_request_error(first)
        label = ("error", recorder.error_code((first.extensions or {}).get("code")))
    elif outcome.livechat_errors:
        label = ("livechat_error", recorder.error_code(outcome.livechat_errors[0]))
    else:
        label = ("success", "")
    recorder.count_operation(operation, *label, elapsed)


class OperationMetrics(SchemaExtension):
    """Records each operation Strawberry's view runs to the app's current `Metrics`."""

    def on_operation(self) -> Iterator[None]:
        recorder = metrics.current()
        if recorder is None:
            yield
            return
        outcome = metrics.begin_operation()
        started = time.perf_counter()
        try:
            yield
        except Exception as error:
            # Strawberry answers some failures (a document that does not parse) after the
            # operation ends, from the exception that leaves it.
            raised = error if isinstance(error, GraphQLError) else GraphQLError(str(error))
            self._record(recorder, outcome, time.perf_counter() - started, [raised])
            raise
        else:
            self._record(recorder, outcome, time.perf_counter() - started)

    def _record(
        self,
        recorder: metrics.Metrics,
        outcome: metrics.OperationOutcome,
        elapsed: float,
        raised: list[GraphQLError] | None = None,
    ) -> None:
        context = self.execution_context
        result = context.result
        errors = (
            raised
            or (result.errors if result is not None else None)
            or context.pre_execution_errors
        )
        operation = root_fields(context.graphql_document, context.operation_name, context.schema)
        record_operation(recorder, operation, outcome, elapsed, errors, refused=bool(raised))


SECRET_FIELDS = frozenset({"token", "visitor_token", "password", "auth_token"})


def without_secrets(value: Any) -> Any:
    """Arguments as plain data, with secret fields dropped (inputs are dataclasses)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {
            key: without_secrets(item)
            for key, item in value.items()
            if key not in SECRET_FIELDS and item is not None
        }
    if isinstance(value, list | tuple):
        return [without_secrets(item) for item in value]
    return value


def _arg_filter(arguments: dict[str, Any], info: Any) -> dict[str, Any]:
    filtered: dict[str, Any] = without_secrets(arguments)
    return filtered


class GraphQLSpans(OpenTelemetryExtension):
    """Strawberry's OpenTelemetry extension, minus the secrets: the document is recorded
    redacted, and resolver arguments without their tokens."""

    def __init__(self, *, tracer_provider: TracerProvider, execution_context: Any = None) -> None:
        super().__init__(
            execution_context=execution_context,
            arg_filter=_arg_filter,
            tracer_provider=tracer_provider,
        )

    def on_operation(self) -> Generator[None, None, None]:
        query = self.execution_context.query
        operation = super().on_operation()
        next(operation)
        if query:
            self._span_holder[LifecycleStep.OPERATION].set_attribute("query", redact(query))
        yield
        for _ in operation:
            pass
