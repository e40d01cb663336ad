"""Every input type converts a GraphQL value to the same object with the converter built once
(`app.graphql.inputs`) as with Strawberry's own conversion of its fields."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryObjectDefinition

from app.graphql import messages, visitors
from app.graphql.inputs import InputConverter
from app.graphql.scalars import SCALAR_MAP
from app.graphql.schema import make_schema
from app.main import request_limits
from app.settings import Settings

SCHEMA = make_schema(request_limits(Settings()))
CONFIG: StrawberryConfig = SCHEMA.config
AGENT = {"agentId": "agent-1", "username": "ana"}
CASES: list[tuple[type, dict[str, Any]]] = [
    (messages.SendLivechatMessageInput, {"token": "t", "rid": "r", "msg": "hi"}),
    (messages.SendLivechatMessageInput, {"token": "t", "rid": "r", "msg": "hi", "id": None}),
    (
        messages.SendLivechatMessageInput,
        {"token": "t", "rid": "r", "msg": "", "id": "m-1", "agent": AGENT},
    ),
    (messages.SendLivechatMessageInput, {"token": "t", "rid": "r", "msg": "x", "agent": None}),
    (messages.LivechatAgentInput, AGENT),
    (messages.UpdateLivechatMessageInput, {"token": "t", "rid": "r", "id": "m", "msg": "new"}),
    (messages.DeleteLivechatMessageInput, {"token": "t", "rid": "r", "id": "m"}),
    (visitors.RegisterLivechatVisitorInput, {"token": "t"}),
    (
        visitors.RegisterLivechatVisitorInput,
        {
            "token": "t",
            "name": "N",
            "email": None,
            "phone": "1",
            "username": "u",
            "department": "d",
        },
    ),
    (visitors.OpenLivechatRoomInput, {"token": "t"}),
    (visitors.OpenLivechatRoomInput, {"token": "t", "rid": "r", "agentId": None}),
    (visitors.CloseLivechatRoomInput, {"token": "t", "rid": "r"}),
]


def _convert(cls: type, value: dict[str, Any]) -> Any:
    return convert_argument(value, cls, SCHEMA.schema_converter.scalar_registry, CONFIG)


@pytest.mark.parametrize(("cls", "value"), CASES, ids=lambda case: getattr(case, "__name__", ""))
def test_the_converter_builds_what_strawberry_builds(cls: type, value: dict[str, Any]) -> None:
    definition: StrawberryObjectDefinition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    assert isinstance(definition.from_input, InputConverter)
    ours = _convert(cls, value)
    converter, definition.from_input = definition.from_input, None
    try:
        strawberrys = _convert(cls, value)
    finally:
        definition.from_input = converter
    assert type(ours) is type(strawberrys) is cls
    assert ours == strawberrys
    assert vars(ours) == vars(strawberrys)


def test_every_input_type_of_the_schema_has_the_converter() -> None:
    inputs = [
        definition
        for definition in (
            getattr(type_, "__strawberry_definition__", None)
            for type_ in (*vars(messages).values(), *vars(visitors).values())
            if isinstance(type_, type)
        )
        if isinstance(definition, StrawberryObjectDefinition) and definition.is_input
    ]
    assert len(inputs) == 7
    assert all(isinstance(definition.from_input, InputConverter) for definition in inputs)


def test_scalars_come_from_the_schema() -> None:
    assert set(SCALAR_MAP) <= set(SCHEMA.schema_converter.scalar_registry)


def test_every_argument_keeps_the_name_strawberry_gives_it() -> None:
    strawberry_names = NameConverter(auto_camel_case=True)
    kept = CONFIG.name_converter
    arguments = [
        argument
        for graphql_type in SCHEMA._schema.type_map.values()
        for field in getattr(graphql_type, "fields", {}).values()
        if (definition := field.extensions.get("strawberry-definition")) is not None
        for argument in getattr(definition, "arguments", ())
    ]
    assert len(arguments) > 10
    for _ in range(2):  # found, then kept
        assert [kept.from_argument(a) for a in arguments] == [
            strawberry_names.from_argument(a) for a in arguments
        ]
