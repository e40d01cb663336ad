"""The served schema keeps the contract, documents itself, and matches what schema/ ships."""

from __future__ import annotations

import json

import pytest
from graphql import (
    EnumTypeExtensionNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    ObjectTypeExtensionNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    UnionTypeDefinitionNode,
    build_schema,
    parse,
    print_ast,
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
REGENERATE = (
    "run `livechat-graphql export-schema > schema/schema.graphql` and "
    "`livechat-graphql export-schema --possible-types > schema/possibleTypes.json`"
)


def contract_types() -> list[str]:
    return sorted(name for name in CONTRACT.type_map if not name.startswith("__"))


@pytest.mark.parametrize("name", contract_types())
def test_served_schema_contains_contract_type_exactly(name: str) -> None:
    wanted = CONTRACT.type_map[name]
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
    if isinstance(wanted, GraphQLUnionType):
        assert isinstance(served, GraphQLUnionType)
        assert [t.name for t in served.types] == [t.name for t in wanted.types]
    if isinstance(wanted, GraphQLEnumType):
        assert isinstance(served, GraphQLEnumType)
        # The widget contract extends enums (LivechatErrorCode): nothing beyond those.
        extended = {
            value.name.value
            for definition in WIDGET.definitions
            if isinstance(definition, EnumTypeExtensionNode) and definition.name.value == name
            for value in definition.values or ()
        }
        assert set(wanted.values) <= set(served.values) <= set(wanted.values) | extended


# The widget contract's types (and its extensions of core types) each area serves so far.
WIDGET = parse((ROOT / "tests/fixtures/contract/schema-widget.graphql").read_text())
WIDGET_TYPES_SERVED = [
    # files
    "Message",
    "MessageFile",
    "MessageAttachment",
    "ImageDimensions",
    "UploadLivechatFileInput",
    "UploadLivechatFileResult",
    "UploadLivechatFileSuccess",
]


@pytest.mark.parametrize("name", WIDGET_TYPES_SERVED)
def test_served_schema_contains_widget_contract_type_exactly(name: str) -> None:
    definitions = [
        definition
        for definition in WIDGET.definitions
        if isinstance(definition, TypeDefinitionNode | TypeExtensionNode)
        and definition.name.value == name
    ]
    assert definitions, f"{name} is not in the widget contract"
    served = SERVED.type_map.get(name)
    assert served is not None, f"{name} is missing"
    for definition in definitions:
        for field in getattr(definition, "fields", None) or ():
            served_field = getattr(served, "fields", {}).get(field.name.value)
            assert served_field is not None, f"{name}.{field.name.value} is missing"
            assert str(served_field.type) == print_ast(field.type), f"{name}.{field.name.value}"
        if isinstance(definition, UnionTypeDefinitionNode):
            assert isinstance(served, GraphQLUnionType)
            wanted_members = [member.name.value for member in definition.types or ()]
            assert [member.name for member in served.types] == wanted_members


def test_served_mutations_keep_the_widget_contract() -> None:
    """The widget contract's mutations this server has (one per area), with its argument
    and result types."""
    [extension] = [
        definition
        for definition in WIDGET.definitions
        if isinstance(definition, ObjectTypeExtensionNode) and definition.name.value == "Mutation"
    ]
    mutation = SERVED.mutation_type
    assert mutation is not None
    served = [field for field in extension.fields or () if field.name.value in mutation.fields]
    assert "uploadLivechatFile" in [field.name.value for field in served]
    for field in served:
        mine = mutation.fields[field.name.value]
        assert str(mine.type) == print_ast(field.type)
        for argument in field.arguments or ():
            assert str(mine.args[argument.name.value].type) == print_ast(argument.type)


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
