"""The served schema keeps the contract, documents itself, and matches what schema/ ships."""

from __future__ import annotations

import json
import re

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    parse,
    validate,
)

from app.graphql.export import graphql_core_schema, possible_types_json, sdl
from app.graphql.fragments import DEFAULT_DEPTH, markdown_fragment
from app.main import create_app
from app.settings import Settings
from tests.helpers import QUERIES, ROOT

SCHEMA = create_app(Settings()).state.schema
SERVED: GraphQLSchema = graphql_core_schema(SCHEMA)
CONTRACT = build_schema((ROOT / "tests/fixtures/contract/schema-core.graphql").read_text())
# The widget's contract extends the core one; the served schema holds both.
# It also extends LivechatRoomEvent, which the core contract leaves to the project: that union's
# added members are checked on their own.
WIDGET_TEXT = (ROOT / "tests/fixtures/contract/schema-widget.graphql").read_text()
ROOM_EVENT_EXTENSION = re.search(r"^extend union LivechatRoomEvent = (.*)$", WIDGET_TEXT, re.M)
assert ROOM_EVENT_EXTENSION is not None
WIDGET_CONTRACT = build_schema(
    (ROOT / "tests/fixtures/contract/schema-core.graphql").read_text()
    + WIDGET_TEXT.replace(ROOM_EVENT_EXTENSION.group(0), "")
)
REGENERATE = (
    "run `livechat-graphql export-schema > schema/schema.graphql` and "
    "`livechat-graphql export-schema --possible-types > schema/possibleTypes.json`"
)


def contract_types() -> list[str]:
    return sorted(name for name in WIDGET_CONTRACT.type_map if not name.startswith("__"))


@pytest.mark.parametrize("name", contract_types())
def test_served_schema_contains_contract_type_exactly(name: str) -> None:
    """Every type of both contracts (the widget's extensions of Query, Mutation, Message and
    LivechatErrorCode included), with its fields, arguments, members and values."""
    wanted = WIDGET_CONTRACT.type_map[name]
    served = SERVED.type_map.get(name)
    assert served is not None, f"{name} is missing"
    assert isinstance(served, type(wanted))
    if isinstance(wanted, GraphQLObjectType | GraphQLInputObjectType):
        assert isinstance(served, GraphQLObjectType | GraphQLInputObjectType)
        for field_name, field in wanted.fields.items():
            assert field_name in served.fields, f"{name}.{field_name} is missing"
            served_field = served.fields[field_name]
            assert str(served_field.type) == str(field.type), f"{name}.{field_name}"
            for arg_name, arg in getattr(field, "args", {}).items():
                assert str(served_field.args[arg_name].type) == str(arg.type)
    if isinstance(wanted, GraphQLUnionType) and name != "LivechatRoomEvent":
        assert isinstance(served, GraphQLUnionType)
        assert [t.name for t in served.types] == [t.name for t in wanted.types]
    if isinstance(wanted, GraphQLEnumType):
        assert isinstance(served, GraphQLEnumType)
        assert set(served.values) == set(wanted.values)


def test_room_events_carry_the_widget_contracts_events() -> None:
    served = SERVED.type_map["LivechatRoomEvent"]
    assert isinstance(served, GraphQLUnionType)
    assert ROOM_EVENT_EXTENSION is not None
    added = [name.strip() for name in ROOM_EVENT_EXTENSION.group(1).split("|")]
    assert [t.name for t in served.types][-len(added) :] == added


def test_every_type_and_field_is_described() -> None:
    undocumented = []
    for name, graphql_type in SERVED.type_map.items():
        if name.startswith("__") or name in {"String", "Boolean", "Int", "Float", "ID"}:
            continue
        if not graphql_type.description:
            undocumented.append(name)
        for field_name, field in getattr(graphql_type, "fields", {}).items():
            if not field.description:
                undocumented.append(f"{name}.{field_name}")
        if isinstance(graphql_type, GraphQLEnumType):
            undocumented += [
                f"{name}.{value_name}"
                for value_name, value in graphql_type.values.items()
                if not value.description
            ]
    assert undocumented == []


def test_scalars_are_the_contracts() -> None:
    for name in ("DateTime", "JSON"):
        assert isinstance(SERVED.type_map[name], GraphQLScalarType)


def test_exported_sdl_is_current() -> None:
    assert (ROOT / "schema/schema.graphql").read_text() == sdl(SCHEMA), REGENERATE


def test_exported_possible_types_are_current() -> None:
    shipped = json.loads((ROOT / "schema/possibleTypes.json").read_text())
    assert shipped == json.loads(possible_types_json(SCHEMA)), REGENERATE
    assert len(shipped["MarkdownNode"]) == 33


def test_shipped_markdown_fragment_is_current() -> None:
    shipped = (QUERIES / "fragments/MarkdownNode.graphql").read_text()
    assert shipped == markdown_fragment(SERVED, DEFAULT_DEPTH), (
        "run `livechat-graphql export-fragment > queries/fragments/MarkdownNode.graphql`"
    )


def test_one_selection_of_every_member_field_validates() -> None:
    """GraphQL's "fields can merge" rule: possible only because a field name has one type."""
    selections = []
    union = SERVED.type_map["MarkdownNode"]
    assert isinstance(union, GraphQLUnionType)
    for member in union.types:
        fields = " ".join(
            f"{name} {{ __typename }}" if "MarkdownNode" in str(field.type) else name
            for name, field in member.fields.items()
        )
        selections.append(f"... on {member.name} {{ {fields} }}")
    document = parse(
        "query($token: String!, $rid: ID!) { livechatMessages(token: $token, rid: $rid) {"
        " ... on LivechatMessagesSuccess { messages { md { " + " ".join(selections) + " } } } } }"
    )
    assert validate(SERVED, document) == []


@pytest.mark.parametrize("path", sorted(QUERIES.glob("*.graphql")), ids=lambda path: path.stem)
def test_every_shipped_operation_validates(path: object) -> None:
    from tests.helpers import operation

    assert validate(SERVED, parse(operation(path.stem))) == []  # type: ignore[attr-defined]
