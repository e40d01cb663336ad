"""What the schema gives clients to keep beside their code: the SDL and Apollo's possibleTypes.

`schema/` holds both, generated from the schema the app serves (`make schema`), and a test fails
while they are stale.
"""

from __future__ import annotations

import json

import strawberry
from graphql import GraphQLInterfaceType, GraphQLSchema, GraphQLUnionType


def graphql_core_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema under Strawberry's: Strawberry keeps it in a private attribute,
    so it is reached here and nowhere else."""
    return schema._schema


def sdl(schema: strawberry.Schema) -> str:
    return schema.as_str() + "\n"


def possible_types(schema: strawberry.Schema) -> dict[str, list[str]]:
    """Apollo Client's `possibleTypes`: every union's (and interface's) member names."""
    core = graphql_core_schema(schema)
    answer: dict[str, list[str]] = {}
    for name, graphql_type in sorted(core.type_map.items()):
        if name.startswith("__"):
            continue
        if isinstance(graphql_type, GraphQLUnionType):
            answer[name] = [member.name for member in graphql_type.types]
        elif isinstance(graphql_type, GraphQLInterfaceType):
            answer[name] = [t.name for t in core.get_possible_types(graphql_type)]
    return answer


def possible_types_json(schema: strawberry.Schema) -> str:
    return json.dumps(possible_types(schema), indent=2) + "\n"
