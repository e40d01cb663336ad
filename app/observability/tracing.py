"""OpenTelemetry traces: a server span per request, GraphQL spans under it (Strawberry's
extension), a client span per upstream attempt (httpx's instrumentation), linked by W3C
`traceparent`, which also goes to the upstream beside `X-Request-Id`.

Off unless the standard variables turn it on (`OTEL_TRACES_EXPORTER=otlp|console`, or an
`OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`); everything else (`OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, the exporter's endpoint, headers and
timeout) is read by the SDK itself, as in any OpenTelemetry service.

Visitor tokens travel in documents, arguments and Rocket.Chat's query strings: no span
attribute carries one. Documents are redacted like log lines, resolver arguments lose their
secret fields, and URLs lose their query strings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Mapping
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension

from app.logs import REDACTED, redact

SECRET_FIELDS = frozenset({"token", "visitor_token", "password", "auth_token"})
URL_ATTRIBUTES = ("http.url", "url.full", "http.target", "url.query")


def scrub_url(text: str) -> str:
    """The URL without its query string's content: `/room?[REDACTED]`. (Instrumentations
    record it percent-decoded, so no parsing of it can be trusted to find every value.)"""
    base, mark, query = text.partition("?")
    return f"{base}?{REDACTED}" if mark and query else base


def scrub_url_attributes(span: Span) -> None:
    """Rewrite the URL attributes an instrumentation already set on `span`."""
    attributes: Mapping[str, Any] = getattr(span, "attributes", None) or {}
    for name in URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, REDACTED if name == "url.query" else scrub_url(value))


def server_request_hook(span: Span, scope: Mapping[str, Any]) -> None:
    if span.is_recording():
        scrub_url_attributes(span)


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


def exporter(kind: str) -> SpanExporter:
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={kind!r} is not supported here: use otlp or console")


def provider_from_environment(exporter_kind: str, service_name: str) -> TracerProvider:
    """A provider exporting in batches; resource, sampler and endpoint from OTEL_*."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter(exporter_kind)))
    return provider
