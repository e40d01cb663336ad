"""Execution plans answer exactly what graphql-core answers: the same documents, run over the
same resolver results through both, must give identical JSON (data and errors, paths and
locations included). A plan that differs is a bug, never a tolerance.

Documents: every operation in queries/, every document the tests send, and generated ones
(hypothesis-graphql). Resolver results: a scripted backend answering rich markdown, nulls
where allowed, nulls where forbidden (errors inside objects, lists and unions), unknown
markdown, domain failures and infrastructure failures.
"""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    OperationDefinitionNode,
    parse,
    type_from_ast,
    validate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import from_schema
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.backends import base
from app.backends.inprocess.broker import Broker
from app.graphql.context import Context
from app.graphql.execution import ExecutionStats
from app.graphql.export import sdl
from app.graphql.schema import make_schema
from app.main import request_limits
from app.markdown import parse as parse_markdown
from app.settings import Settings
from tests.helpers import CUSTOM_SCALARS, QUERIES, ROOT, operation

LIMITS = request_limits(Settings())
PLANNED = make_schema(LIMITS)
REFERENCE = make_schema(LIMITS, execution_context_class=StrawberryGraphQLCoreExecutionContext)
SDL = sdl(PLANNED)

RICH_TEXT = (
    "# Heading **bold** _it_ ~strike~ `code` ||spoiler|| [link](https://rocket.chat) "
    "![alt](https://rocket.chat/i.png) @someone #general :smile: :) color:#ff000080 "
    "<t:1700000000:f> \\(x^2\\) mail@example.com +1 555 0100\n"
    "- [x] done\n- [ ] todo\n\n1. one\n2. two\n\n- a\n- b\n\n> quoted *text*\n\n"
    "```py\nprint(1)\n```\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n---\n\n"
    "\\[\\sum_i i\\]\n\n😀😀"
)
T = TypeVar("T")
TS = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def message(**changes: Any) -> base.Message:
    normal = base.Message(
        id="m1", rid="r1", msg=RICH_TEXT, ts=TS, updated_at=TS,
        u=base.MessageAuthor(id="u1", username="guest-1", name="Ann"),
        token="tok", alias=None,
        urls=[{"url": "https://rocket.chat", "meta": {"title": "RC"}}, {"url": "https://x.org"}],
        mentions=[{"_id": "u2", "username": "someone", "type": "user"}],
        channels=[{"_id": "c1", "name": "general"}],
        md=parse_markdown(RICH_TEXT),
    )  # fmt: skip
    return replace(normal, **changes)


WEIRD_MD: list[Any] = [
    {"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": None}]},
    {"type": "NEW_NODE", "value": {"what": [1, 2]}},
    {"type": "COLOR", "value": {"r": 1, "g": "2", "b": 3, "a": 4}},
    {
        "type": "LINK",
        "value": {
            "src": {"type": "PLAIN_TEXT", "value": "x"},
            "label": {"type": "PLAIN_TEXT", "value": "one node, not a list"},
        },
    },
    "not a node",
    {"type": "HEADING", "level": 2, "value": []},
]

# name -> (message answered by sends and reads, history, failure raised instead)
WORLDS: dict[str, dict[str, Any]] = {
    "rich": {"message": message()},
    "nullable-nulls": {
        "message": message(
            token=None,
            u=base.MessageAuthor(id="u1", username="g", name=None),
            urls=[{"url": "https://x.org", "meta": None}],
            mentions=[{"_id": "u"}],
        )
    },
    "weird-markdown": {"message": message(md=WEIRD_MD, msg="")},
    "file-message": {
        "message": message(
            msg="",
            file={"_id": "f1", "name": "a.png", "type": "image/png", "size": 5},
            files=[{"_id": "f1", "name": "a.png", "type": "image/png"}, {"_id": "f2"}],
            attachments=[
                {
                    "title": "a.png",
                    "type": "file",
                    "title_link": "/file-upload/f1/a.png",
                    "image_dimensions": {"width": 8, "height": 6},
                    "image_size": 5,
                },
                {"image_dimensions": {"width": "wide"}, "audio_size": 2**40},
            ],
        )
    },
    "null-in-non-null-field": {"message": message(msg=None)},
    "null-inside-nested-object": {
        "message": message(u=base.MessageAuthor(id="u1", username=None))  # type: ignore[arg-type]
    },
    "null-inside-list": {"history": [message(), message(id=None), message()]},
    "bad-scalar": {"message": message(ts="not a date")},
    "livechat-error": {"failure": base.RoomClosed("the room is closed")},
    "infrastructure-error": {"failure": base.UpstreamUnavailable("unreachable")},
}


class ScriptedBackend:
    """Answers every operation from one world, whatever it is asked."""

    def __init__(self, world: dict[str, Any]) -> None:
        self.world = world

    def _answer(self, value: T) -> T:
        if "failure" in self.world:
            raise self.world["failure"]
        return value

    async def register_visitor(self, registration: base.VisitorRegistration) -> base.Visitor:
        return self._answer(base.Visitor(id="v1", token=registration.token, username="guest-1"))

    async def open_room(self, token: str, rid: str | None = None, agent_id: str | None = None
                        ) -> tuple[base.Room, bool]:  # fmt: skip
        room = base.Room(id="r1", open=True, visitor_id="v1", visitor_token=token,
                         visitor_username="guest-1", ts=TS)  # fmt: skip
        return self._answer((room, True))

    async def send_message(self, outgoing: base.OutgoingMessage) -> base.Message:
        return self._answer(self.world.get("message") or message())

    async def message(self, token: str, rid: str, message_id: str) -> base.Message:
        return self._answer(self.world.get("message") or message())

    async def close_room(self, token: str, rid: str) -> str:
        return self._answer(rid)

    async def update_message(self, token: str, rid: str, message_id: str, msg: str
                             ) -> base.Message:  # fmt: skip
        return self._answer(self.world.get("message") or message())

    async def delete_message(self, token: str, rid: str, message_id: str) -> base.DeletedMessage:
        return self._answer(base.DeletedMessage(id=message_id, ts=TS))

    async def readiness(self) -> str | None:
        return None

    async def agent_info(self, token: str, rid: str) -> tuple[base.Agent | None, bool]:
        agent = base.Agent(id="a1", username="ann", name="Ann", status="online", emails=("a@x",))
        return self._answer((agent, False))

    async def set_typing(self, token: str, rid: str, typing: bool) -> None:
        return self._answer(None)

    async def subscribe_room(self, token: str, rid: str) -> base.RoomEvents:
        return self._answer(Broker().subscribe(rid))  # a room where nothing happens

    async def message_history(
        self, token: str, rid: str, limit: int = 20, before: datetime | None = None
    ) -> list[base.Message]:
        default = [self.world.get("message") or message(), message(id="m2", md=[])]
        return self._answer(self.world.get("history", default))

    async def upload_file(self, upload: base.UploadRequest) -> base.Message:
        return self._answer(self.world.get("message") or message())

    async def open_file(
        self, token: str, rid: str, file_id: str, name: str, byte_range: str | None = None
    ) -> base.FileDownload:
        raise base.Unauthorized

    async def aclose(self) -> None:
        return None

    # ---- before and around the chat ----

    async def config(self, token: str | None = None, department: str | None = None
                     ) -> base.WidgetConfig:  # fmt: skip
        visitor = base.Visitor(id="v1", token=token or "t", username="guest-1")
        return self._answer(base.WidgetConfig(
            enabled=True, online=True, raw={"enabled": True}, settings=base.WidgetSettings(),
            theme=base.WidgetTheme(title="Rocket.Chat"), messages=base.WidgetMessages(),
            survey=base.Survey(items=("satisfaction",), values=("1", "2")),
            departments=(base.Department(id="d1", name="Sales"),), visitor=visitor,
            agent=base.Agent(id="a1", username="agent", emails=("a@example.com",)),
        ))  # fmt: skip

    async def visitor(self, token: str) -> base.Visitor:
        return self._answer(base.Visitor(id="v1", token=token, username="guest-1"))

    async def set_custom_fields(self, token: str, fields: list[base.CustomField]
                                ) -> list[base.CustomField]:  # fmt: skip
        return self._answer(fields)

    async def set_visitor_status(self, token: str, status: str) -> str:
        return self._answer(status)

    async def remove_visitor(self, token: str) -> base.RemovedVisitor:
        return self._answer(base.RemovedVisitor(id="v1", ts=TS))

    async def send_offline_message(self, offline: base.OfflineMessage) -> str:
        return self._answer("Livechat offline message sent")

    async def request_transcript(self, token: str, rid: str, email: str) -> str:
        return self._answer("Omnichannel transcript sent")

    async def transfer_room(self, token: str, rid: str, department: str) -> str:
        return self._answer(rid)

    async def rate_room(self, token: str, rid: str, answers: list[base.SurveyAnswer]
                        ) -> list[base.SurveyAnswer]:  # fmt: skip
        return self._answer(answers)


def sample(input_type: GraphQLInputType) -> Any:
    """A value for a variable of this type (the scripted backend ignores it)."""
    if isinstance(input_type, GraphQLNonNull):
        return sample(input_type.of_type)
    if isinstance(input_type, GraphQLList):
        return [sample(input_type.of_type)]
    if isinstance(input_type, GraphQLInputObjectType):
        return {name: sample(field.type) for name, field in input_type.fields.items()}
    if isinstance(input_type, GraphQLEnumType):
        return next(iter(input_type.values))
    assert isinstance(input_type, GraphQLScalarType)
    return {"Int": 1, "Float": 1.5, "Boolean": True}.get(input_type.name, "s1")


def variables_for(document: str) -> dict[str, Any]:
    schema = PLANNED._schema
    values: dict[str, Any] = {}
    for definition in parse(document).definitions:
        if isinstance(definition, OperationDefinitionNode):
            for variable in definition.variable_definitions or ():
                variable_type = type_from_ast(schema, variable.type)
                assert variable_type is not None
                values[variable.variable.name.value] = sample(variable_type)  # type: ignore[arg-type]
    return values


def shipped_documents() -> dict[str, str]:
    return {path.stem: operation(path.stem) for path in sorted(QUERIES.glob("*.graphql"))}


def documents_in_tests() -> dict[str, str]:
    """Every string literal in the tests that is a valid document of the served schema."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            text = node.value
            if "{" not in text or "}" not in text:
                continue
            try:
                document = parse(text)
            except GraphQLError:
                continue
            if not validate(PLANNED._schema, document):
                found[f"{path.stem}:{node.lineno}"] = text
    return found


async def run(schema: Any, document: str, world: dict[str, Any]) -> str:
    context = Context(backend=ScriptedBackend(world), request_id="req-1")
    result = await schema.execute(
        document, variable_values=variables_for(document), context_value=context
    )
    errors = [error.formatted for error in result.errors or []]
    return json.dumps({"data": result.data, "errors": errors}, sort_keys=True, default=str)


async def assert_same(document: str, world: dict[str, Any]) -> tuple[str, str]:
    reference = await run(REFERENCE, document, world)
    planned = await run(PLANNED, document, world)
    assert planned == reference
    return planned, reference


DOCUMENTS = {**shipped_documents(), **documents_in_tests()}


def test_the_documents_under_test_include_the_shipped_ones_and_the_tests_own() -> None:
    assert set(shipped_documents()) <= set(DOCUMENTS)
    assert len(DOCUMENTS) >= len(shipped_documents()) + 3


@pytest.mark.parametrize("world", sorted(WORLDS))
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
async def test_a_plan_answers_as_graphql_core_does(name: str, world: str) -> None:
    await assert_same(DOCUMENTS[name], WORLDS[world])


async def test_the_shipped_send_is_completed_by_its_plan_every_time() -> None:
    before = ExecutionStats.plans_completed, ExecutionStats.plans_fell_back
    for _ in range(3):
        answer, _ = await assert_same(operation("sendLivechatMessage"), WORLDS["rich"])
        assert '"Heading"' in answer and '"TableCell"' in answer
    assert ExecutionStats.plans_completed >= before[0] + 3
    assert ExecutionStats.plans_fell_back == before[1]


async def test_a_value_the_plan_does_not_cover_falls_back_with_graphql_core_s_errors() -> None:
    await assert_same(operation("sendLivechatMessage"), WORLDS["null-inside-nested-object"])
    before = ExecutionStats.plans_fell_back, ExecutionStats.collected_hits
    answer, _ = await assert_same(
        operation("sendLivechatMessage"), WORLDS["null-inside-nested-object"]
    )
    assert ExecutionStats.plans_fell_back > before[0]
    # graphql-core's completion, again, reuses the fields it collected the first time.
    assert ExecutionStats.collected_hits > before[1]
    # graphql-core's error, masked as every unexpected error is, at the field's own path.
    assert '"code": "INTERNAL_SERVER_ERROR"' in answer and '"data": null' in answer
    assert '"path": ["sendLivechatMessage", "message", "u", "username"]' in answer


async def test_aliases_and_repeated_fields_merge_as_graphql_core_merges_them() -> None:
    document = """
    mutation($input: SendLivechatMessageInput!) {
      a: sendLivechatMessage(input: $input) {
        ... on SendLivechatMessageSuccess { m: message { id i: id md { t: __typename } } }
        ... on SendLivechatMessageSuccess { m: message { md { ... on Paragraph { c: children {
          __typename ... on PlainText { text } } } } } }
      }
      b: sendLivechatMessage(input: $input) { __typename }
    }"""
    for world in WORLDS.values():
        await assert_same(document, world)


GENERATED = settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


@GENERATED
@given(document=from_schema(SDL, custom_scalars=CUSTOM_SCALARS))
async def test_generated_documents_answer_alike(document: str) -> None:
    for world in ("rich", "null-inside-list", "livechat-error"):
        await assert_same(document, WORLDS[world])
