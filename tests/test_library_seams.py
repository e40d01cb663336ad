"""The library internals the code leans on still exist, and the shortcuts built on them are
still reached.

httpx tests its exported surface (`test_exported_members`); this is the same turned round: the
surface we borrow, one test per seam, in the order of the house review's table of them. Most
seams fail loudly when they move (an ImportError, an AttributeError in every request); the ones
that would fail silently, costing only CPU or memory, are proven reached by hit counters. A
failure here names the seam a new release of Strawberry, graphql-core, uvicorn, Starlette,
httpx or httpx-aiohttp moved.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Iterator
from typing import Any

import cross_web
import httpx
import strawberry
import uvicorn
from fastapi import FastAPI
from graphql import GraphQLObjectType, GraphQLSchema, GraphQLSyntaxError, parse
from graphql.execution.collect_fields import CollectedFields, FragmentDetails
from graphql.execution.executor import Executor
from httpx_aiohttp import transport as httpx_aiohttp_transport
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.routing import Match, Route
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.http import async_base_view
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, validate_document
from strawberry.types.arguments import InputContext
from strawberry.types.base import StrawberryObjectDefinition
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode

from app.backends.base import OutgoingMessage, VisitorRegistration
from app.backends.inprocess.service import InProcessBackend
from app.backends.upstream.transport import ClientTimeouts, TransportStats, make_client
from app.graphql.context import request_context
from app.graphql.errors import TOO_MANY_TOKENS
from app.graphql.execution import CachingExecutionContext, ExecutionStats
from app.graphql.export import graphql_core_schema
from app.graphql.json_codec import OrjsonGraphQLRouter, TextWebSocketAdapter
from app.graphql.observers import GraphQLSpans
from app.graphql.plans import _default_getter
from app.graphql.schema import Schema, make_schema
from app.main import request_limits
from app.settings import Settings
from tests.helpers import GraphQL, RocketChatServer, operation


def schema(*, production: bool = False) -> Schema:
    return make_schema(request_limits(Settings()), production=production)


def test_1_2_graphql_cores_executor_still_has_the_methods_we_override() -> None:
    """`collect_subfields` and `complete_value` are overridden with the same parameters; a
    rename would leave the overrides dead (test_caches.py proves them called)."""
    for name in ("collect_subfields", "complete_value"):
        theirs = inspect.signature(getattr(Executor, name)).parameters
        ours = inspect.signature(getattr(CachingExecutionContext, name)).parameters
        assert list(theirs) == list(ours), name
    assert "middleware_manager" in inspect.signature(Executor.__init__).parameters
    assert FragmentDetails._fields == ("definition", "variable_signatures")


async def test_3_subscribers_of_one_room_share_each_events_result(
    backend: InProcessBackend,
) -> None:
    """Two subscribers with the same document and variables: the second takes the result the
    first computed (`execution._event_results`), through Strawberry's per-event executor."""
    served = schema()
    await backend.register_visitor(VisitorRegistration(token="seams"))
    room, _ = await backend.open_room("seams")
    variables = {"token": "seams", "rid": room.id}
    context = request_context(backend, "seams")
    streams: list[Any] = [
        await served.subscribe(
            operation("livechatRoomEvents"), variable_values=variables, context_value=context
        )
        for _ in range(2)
    ]
    waiting = [asyncio.ensure_future(anext(stream)) for stream in streams]
    for _ in range(100):  # until both have subscribed to the room
        if backend.broker.subscriber_count == 2:
            break
        await asyncio.sleep(0.01)
    shared = ExecutionStats.events_shared
    await backend.send_message(OutgoingMessage(token="seams", rid=room.id, msg="hello"))
    results = [await event for event in waiting]
    assert results[0].data["livechatRoomEvents"]["message"]["msg"] == "hello"
    assert results[0].data == results[1].data
    assert ExecutionStats.events_shared == shared + 1
    for stream in streams:
        await stream.aclose()


def test_4_collected_fields_are_the_shape_plans_unpack() -> None:
    assert CollectedFields._fields == (
        "grouped_field_set",
        "new_defer_usages",
        "forbidden_directive_instances",
    )


def test_5_6_strawberry_schema_keeps_its_graphql_core_schema_and_error_processing() -> None:
    served = schema()
    assert isinstance(graphql_core_schema(served), GraphQLSchema)
    assert graphql_core_schema(served) is served._schema
    assert inspect.signature(strawberry.Schema._process_errors).parameters.keys() >= {"errors"}


async def test_7_strawberrys_path_and_the_lean_path_share_one_parsed_document() -> None:
    """The schema's document cache, as the extension Strawberry's path runs, fills the cache
    the lean path reads: the same DocumentNode comes back, a hit, with no second parse."""
    served = schema()
    query = "{ __typename } # parsed by Strawberry's path first, in tests/test_library_seams.py"
    assert (await served.execute(query)).data == {"__typename": "Query"}
    documents = served.preparation.documents
    hits = documents.hits
    document = served.preparation.document(query)
    assert documents.hits == hits + 1
    assert document is served.preparation.document(query)


def test_8_strawberrys_execution_context_and_validation_are_still_importable() -> None:
    assert issubclass(CachingExecutionContext, StrawberryGraphQLCoreExecutionContext)
    assert callable(validate_document)


async def test_9_the_lean_path_validates_with_strawberrys_rules_in_strawberrys_order() -> None:
    """The rules Strawberry's execution context holds when it validates are the ones, in the
    order, that `Preparation` hands the validation cache (its key includes them)."""
    gathered: list[tuple[type, ...]] = []

    class Recording(SchemaExtension):
        def on_validate(self) -> Iterator[None]:
            gathered.append(tuple(self.execution_context.validation_rules))
            yield

    for production in (False, True):
        gathered.clear()
        served = make_schema(
            request_limits(Settings()), production=production, observers=[Recording]
        )
        await served.execute("{ __typename }")
        assert gathered == [served.preparation.rules], production


def test_10_plans_read_plain_fields_through_strawberrys_public_default_resolver_check() -> None:
    """A field read by Strawberry's default resolver is planned as an attribute read; the
    StrawberryField attributes the planner reads are there."""
    deleted = graphql_core_schema(schema()).type_map["LivechatMessageDeleted"]
    assert isinstance(deleted, GraphQLObjectType)
    field = deleted.fields["rid"]
    assert is_default_resolver(field.resolve)
    definition = field.extensions["strawberry-definition"]
    for name in ("permission_classes", "default_resolver", "base_resolver", "python_name"):
        assert hasattr(definition, name), name
    getter = _default_getter(field)
    assert getter is not None and getter(OutgoingMessage(token="t", rid="r", msg="m")) == "r"
    assert isinstance(deleted.extensions["strawberry-definition"].origin, type)


def test_11_strawberrys_input_conversion_hook_is_there() -> None:
    assert "from_input" in {field.name for field in dataclasses.fields(StrawberryObjectDefinition)}
    assert InputContext is not None


def test_12_the_websocket_adapter_we_copy_keeps_its_shape() -> None:
    """TextWebSocketAdapter is Strawberry's ASGI adapter with `iter_json` rewritten; the router
    picks it by `websocket_adapter_class`."""
    assert issubclass(TextWebSocketAdapter, ASGIWebSocketAdapter)
    theirs = inspect.signature(ASGIWebSocketAdapter.iter_json).parameters
    assert list(theirs) == list(inspect.signature(TextWebSocketAdapter.iter_json).parameters)
    assert OrjsonGraphQLRouter.websocket_adapter_class is TextWebSocketAdapter
    assert "self.ws = response" in inspect.getsource(ASGIWebSocketAdapter.__init__)


def test_13_strawberrys_views_raise_cross_webs_http_exception() -> None:
    assert vars(async_base_view)["HTTPException"] is cross_web.HTTPException


def test_14_the_opentelemetry_extension_keeps_its_span_holder() -> None:
    spans = GraphQLSpans(tracer_provider=TracerProvider())
    assert spans._span_holder == {}
    assert inspect.isgeneratorfunction(OpenTelemetryExtension.on_operation)


def test_15_graphql_cores_token_limit_message_is_the_one_we_code() -> None:
    try:
        parse("{ a b c d }", max_tokens=3)
    except GraphQLSyntaxError as error:
        assert error.message.startswith(TOO_MANY_TOKENS)
    else:
        raise AssertionError("graphql-core no longer limits tokens")


def test_16_uvicorns_sans_io_protocol_hands_us_mutable_frames() -> None:
    for name in ("handle_text", "handle_bytes", "handle_cont"):
        assert name in vars(WebSocketsSansIOProtocol), name
    frame = Frame(Opcode.TEXT, b"subscribe")
    frame.data = b""
    assert frame.data == b""


def test_17_uvicorns_server_still_has_the_hooks_the_drain_uses() -> None:
    server = uvicorn.Server(uvicorn.Config(FastAPI()))
    assert server.should_exit is False
    assert inspect.iscoroutinefunction(uvicorn.Server.on_tick)
    assert list(inspect.signature(uvicorn.Server.handle_exit).parameters) == [
        "self",
        "sig",
        "frame",
    ]


def test_18_uvicorns_access_line_ends_in_the_status() -> None:
    from uvicorn.protocols.http import httptools_impl

    assert "'%s - \"%s %s HTTP/%s\" %d'" in inspect.getsource(httptools_impl)
    assert callable(logging.Logger._log)


def test_19_starlette_sets_the_app_in_the_scope_as_we_do() -> None:
    assert 'scope["app"] = self' in inspect.getsource(Starlette.__call__)


def test_20_a_starlette_route_matches_as_the_front_door_asks_it() -> None:
    async def endpoint(request: Any) -> Any:
        raise AssertionError("not called")

    route = Route("/api/v1/livechat/room", endpoint, methods=["GET"])
    scope = {"type": "http", "method": "GET", "path": "/api/v1/livechat/room"}
    match, child = route.matches(scope)
    assert match is Match.FULL and child["endpoint"] is endpoint


async def test_21_22_upstream_calls_read_bodies_at_once_and_keep_no_cookies(
    rocketchat: RocketChatServer, upstream_graphql: GraphQL
) -> None:
    """The served backend's calls take aiohttp's pool directly (`send_direct`); what still
    goes through httpx (readiness, files, a traced client) has each answer read by
    `_ReadTransport` through httpx-aiohttp's stream internals, and httpx offers it to
    `_NoCookies` rather than a jar."""
    direct, read = TransportStats.direct_sends, TransportStats.bodies_read
    await upstream_graphql.visitor("seams")
    assert TransportStats.direct_sends > direct
    read, skipped = TransportStats.bodies_read, TransportStats.cookies_skipped
    client = make_client(rocketchat.url, max_connections=1, timeouts=ClientTimeouts(5, 5))
    async with client:
        assert (await client.get("/api/v1/livechat/config")).status_code == 200
    assert TransportStats.bodies_read > read
    assert TransportStats.cookies_skipped > skipped
    assert httpx_aiohttp_transport.AiohttpResponseStream.__init__ is not None
    assert callable(httpx_aiohttp_transport.map_aiohttp_exceptions)


def test_24_an_httpx_response_reads_its_content_from_where_read_leaves_it() -> None:
    """The direct path hands httpx an answer already read, as `Response.read` leaves it."""
    assert "self._content" in inspect.getsource(httpx.Response.read)
    response = httpx.Response(200, stream=httpx.ByteStream(b"{}"))
    response._content = b"{}"
    assert response.content == b"{}" and response.json() == {}


async def test_23_the_upstream_client_builds_requests_as_build_request_would() -> None:
    """client.py makes each request itself, with the client's headers and the timeout
    extension: what httpx's `build_request` merges is still only that."""
    client = make_client("http://127.0.0.1:9", max_connections=1, timeouts=ClientTimeouts(1, 2))
    async with client:
        built = client.build_request("POST", "/api/x", content=b"{}")
        ours = httpx.Request(
            "POST",
            client.base_url.join("api/x"),
            content=b"{}",
            headers=dict(client.headers),
            extensions={"timeout": client.timeout.as_dict()},
        )
    assert dict(built.headers) == dict(ours.headers)
    assert built.extensions == ours.extensions and built.url == ours.url
