"""Traces of one send, through the SDK's in-memory exporter: the request's server span, the
GraphQL spans under it, the upstream call under those, and, on the far side of the wire, the
upstream server's span continuing the same trace from the `traceparent` it was sent."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import SpanKind

from app.backends import upstream_backend
from app.backends.base import LivechatBackend
from app.backends.upstream.transport import TransportStats
from app.graphql.lean import LeanStats
from app.main import create_app
from app.settings import Settings
from tests.helpers import RocketChatServer, operation
from tests.running import ServerProcess
from tests.servers import serving

TOKEN = "tracing-secret-token-4711"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
def traced_facade(tmp_path: Path, provider: TracerProvider) -> Iterator[str]:
    """The facade in upstream mode, in front of an in-process Rocket.Chat, both traced."""
    upstream = create_app(Settings(database=tmp_path / "rc.db"), tracer_provider=provider)
    with serving(upstream) as upstream_url:
        settings = Settings(
            backend="upstream", upstream_url=upstream_url, database=tmp_path / "unused.db"
        )

        async def factory(settings: Settings) -> LivechatBackend:
            return upstream_backend(settings, tracer_provider=provider)

        app = create_app(settings, backend_factory=factory, tracer_provider=provider)
        with serving(app) as url:
            yield url


def call(http: httpx.Client, name: str, variables: dict[str, object]) -> dict[str, object]:
    body: dict[str, object] = http.post(
        "/graphql", json={"query": operation(name), "variables": variables}
    ).json()
    assert "errors" not in body, body
    return body


def visitor_room(http: httpx.Client) -> str:
    """Registers the visitor of TOKEN and opens their room; its id."""
    call(http, "registerLivechatVisitor", {"input": {"token": TOKEN}})
    room = call(http, "openLivechatRoom", {"input": {"token": TOKEN}})
    return str(room["data"]["openLivechatRoom"]["room"]["id"])  # type: ignore[index]


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None, f"{span.name} has no parent"
    [parent] = [other for other in spans if other.context.span_id == span.parent.span_id]
    return parent


def test_one_send_is_one_linked_trace_with_no_token(
    traced_facade: str, exporter: InMemorySpanExporter
) -> None:
    with httpx.Client(base_url=traced_facade) as http:
        rid = visitor_room(http)
        # A token written into the document itself, as the README's curl examples do.
        exporter.clear()
        sent = http.post(
            "/graphql",
            json={
                "query": 'mutation($rid: ID!) { sendLivechatMessage(input: {token: "'
                + TOKEN
                + '", rid: $rid, msg: "hello"}) { __typename } }',
                "variables": {"rid": rid},
            },
        ).json()
    assert sent["data"]["sendLivechatMessage"]["__typename"] == "SendLivechatMessageSuccess"
    spans = list(exporter.get_finished_spans())

    [client] = [span for span in spans if span.kind is SpanKind.CLIENT]
    assert client.name == "POST /api/v1/livechat/message"
    resolver = parent_of(client, spans)
    assert resolver.name == "GraphQL Resolving: sendLivechatMessage"
    graphql = parent_of(resolver, spans)
    assert graphql.name.startswith("GraphQL Query")
    request = parent_of(graphql, spans)
    assert request.kind is SpanKind.SERVER and request.name.startswith("POST /graphql")
    assert request.parent is None
    # The upstream server continued the trace from the traceparent it received.
    [upstream] = [
        span for span in spans if span.parent and span.parent.span_id == client.context.span_id
    ]
    assert upstream.kind is SpanKind.SERVER and upstream.name.startswith(
        "POST /api/v1/livechat/message"
    )
    assert len({span.context.trace_id for span in spans}) == 1

    for span in spans:
        for name, value in (span.attributes or {}).items():
            assert TOKEN not in str(value), f"{span.name} carries the token in {name}"
    assert "[REDACTED]" in str((graphql.attributes or {}).get("query"))
    assert rid in str((resolver.attributes or {}).get("graphql.param.input"))


def test_with_sampling_off_only_a_sampled_caller_is_traced_and_the_rest_take_the_fast_path(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    """Tracing configured with the sampler off (`parentbased_always_off`), the facade in front
    of a Rocket.Chat: a request nobody asked to trace builds no span, server or client, and
    is answered by the front door; a caller whose `traceparent` says sampled gets its whole
    trace, GraphQL spans and the upstream call included."""
    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    upstream = create_app(Settings(database=tmp_path / "rc.db"))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    sampled = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    with serving(upstream) as upstream_url:
        settings = Settings(
            backend="upstream", upstream_url=upstream_url, database=tmp_path / "unused.db"
        )

        async def factory(settings: Settings) -> LivechatBackend:
            return upstream_backend(settings, tracer_provider=provider)

        app = create_app(settings, backend_factory=factory, tracer_provider=provider)
        with serving(app) as url, httpx.Client(base_url=url) as http:
            answered, direct = LeanStats.answered, TransportStats.direct_sends
            rid = visitor_room(http)
            assert LeanStats.answered == answered + 2
            assert TransportStats.direct_sends >= direct + 2  # httpx's path is for spans
            assert exporter.get_finished_spans() == ()
            send = {"input": {"token": TOKEN, "rid": rid, "msg": "traced"}}
            body = {"query": operation("sendLivechatMessage"), "variables": send}
            traced = http.post("/graphql", json=body, headers=sampled).json()
    assert traced["data"]["sendLivechatMessage"]["__typename"] == "SendLivechatMessageSuccess"
    assert LeanStats.answered == answered + 2
    spans = list(exporter.get_finished_spans())
    assert {format(span.context.trace_id, "032x") for span in spans} == {trace_id}
    [client] = [span for span in spans if span.kind is SpanKind.CLIENT]
    assert client.name == "POST /api/v1/livechat/message"
    resolver = parent_of(client, spans)
    assert resolver.name == "GraphQL Resolving: sendLivechatMessage"
    request = parent_of(parent_of(resolver, spans), spans)
    assert request.kind is SpanKind.SERVER and request.name.startswith("POST /graphql")


def test_a_token_in_a_query_string_never_reaches_a_span(
    traced_facade: str, exporter: InMemorySpanExporter
) -> None:
    with httpx.Client(base_url=traced_facade) as http:
        rid = visitor_room(http)
        history = http.get(
            "/graphql",
            params={
                "query": operation("livechatMessages"),
                "variables": f'{{"token": "{TOKEN}", "rid": "{rid}"}}',
            },
        )
    assert history.status_code == 200, history.text
    spans = list(exporter.get_finished_spans())
    assert any(span.name == "GET /api/v1/livechat/messages.history/{rid}" for span in spans)
    for span in spans:
        for name, value in (span.attributes or {}).items():
            assert TOKEN not in str(value), f"{span.name} carries the token in {name}"


def test_tracing_is_off_by_default_and_on_with_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().tracing_exporter() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert Settings().tracing_exporter() == "otlp"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert Settings().tracing_exporter() == "console"
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert Settings().tracing_exporter() is None


def exported_spans(text: str) -> list[dict[str, Any]]:
    """The spans the console exporter wrote: JSON objects one after another."""
    decoder, text, index = json.JSONDecoder(), text.strip(), 0
    spans: list[dict[str, Any]] = []
    while index < len(text):
        span, index = decoder.raw_decode(text, index)
        spans.append(span)
        index = len(text) - len(text[index:].lstrip())
    return spans


def test_a_served_process_has_one_tracer_provider_and_flushes_the_whole_trace_at_shutdown(
    rocketchat: RocketChatServer, tmp_path: Path
) -> None:
    """`livechat-graphql serve` with OTEL_* set, in front of a Rocket.Chat: the upstream call's
    client span sits under the request's server span, in its trace, and both are exported when
    the process stops (the batch delay is far longer than the test, so only the flush at
    shutdown can export them). Importing `app.main` built a second app and a second tracer
    provider, which OpenTelemetry refuses: then the client spans went to the other one."""
    spans_file, log = tmp_path / "spans.json", tmp_path / "facade.log"
    facade = ServerProcess(
        tmp_path / "facade.db",
        "--backend", "upstream", "--upstream-url", rocketchat.url, "--workers", "1",
        environment={"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "600000"},
        log=log,
        output=spans_file,
    ).start()  # fmt: skip
    try:
        with httpx.Client(base_url=facade.url) as http:
            rid = visitor_room(http)
            send: dict[str, object] = {"input": {"token": TOKEN, "rid": rid, "msg": "traced"}}
            call(http, "sendLivechatMessage", send)
        assert facade.terminate() == 0
    finally:
        facade.stop()

    spans = exported_spans(spans_file.read_text())
    by_id = {span["context"]["span_id"]: span for span in spans}
    requests = [span for span in spans if span["parent_id"] is None]
    upstream_calls = [span for span in spans if span["kind"] == "SpanKind.CLIENT"]
    assert [span["name"] for span in requests] == ["POST /graphql"] * 3
    assert len(upstream_calls) >= 3, [span["name"] for span in spans]
    for span in upstream_calls:
        ancestor = span
        while ancestor["parent_id"] is not None:
            ancestor = by_id[ancestor["parent_id"]]
        assert ancestor in requests, f"{span['name']} is not under a request's server span"
        assert span["context"]["trace_id"] == ancestor["context"]["trace_id"]
    assert b"Overriding of current TracerProvider" not in log.read_bytes()


def test_importing_app_main_builds_no_app() -> None:
    """`app.main:app` is made when asked for (uvicorn's way in), not by an import."""
    code = "import app.main; assert 'app' not in vars(app.main); print(type(app.main.app).__name__)"
    built = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert built.stdout.decode().strip() == "LivechatApp"
