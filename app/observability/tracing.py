"""OpenTelemetry traces: a server span per request, GraphQL spans under it (Strawberry's
extension, `app.graphql.observers.GraphQLSpans`), a client span per upstream attempt (httpx's
instrumentation), linked by W3C `traceparent`, which also goes to the upstream beside
`X-Request-Id`.

Off unless the standard variables turn it on (`OTEL_TRACES_EXPORTER=otlp|console`, or an
`OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`); everything else (`OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, the exporter's endpoint, headers and
timeout) is read by the SDK itself, as in any OpenTelemetry service.

Visitor tokens travel in documents, arguments and Rocket.Chat's query strings: no span
attribute carries one. Documents are redacted like log lines, resolver arguments lose their
secret fields, and URLs lose their query strings.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler
from opentelemetry.trace import Span

from app.logs import REDACTED

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


class Sampling(enum.Enum):
    """What the provider's sampler decides without being asked: NEVER (`always_off`), ASKED
    (`parentbased_always_off`: only a caller's sampled `traceparent` makes a trace), or
    DECIDES (anything else: the sampler is asked for each span)."""

    NEVER = "never"
    ASKED = "asked"
    DECIDES = "decides"


def sampling(provider: trace.TracerProvider) -> Sampling:
    """Read from the sampler's description, the one public account of what it is."""
    sampler = getattr(provider, "sampler", None)
    if not isinstance(sampler, Sampler):
        return Sampling.DECIDES
    description = sampler.get_description()
    if description == ALWAYS_OFF.get_description():
        return Sampling.NEVER
    if description == ParentBased(ALWAYS_OFF).get_description():  # type: ignore[no-untyped-call]
        return Sampling.ASKED
    return Sampling.DECIDES


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
