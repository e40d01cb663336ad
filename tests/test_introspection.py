"""What every IDE and code generator does first: introspect. The standard queries pass the
document limits (introspection has a bound of its own), and the schema they rebuild is the one
`schema/` ships; in production mode introspection stays off."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    build_client_schema,
    build_schema,
    get_introspection_query,
    lexicographic_sort_schema,
    print_schema,
)

from app.main import create_app
from app.settings import Settings
from tests.helpers import ROOT
from tests.servers import serving

OPTIONS = ("descriptions", "specified_by_url", "directive_is_repeatable", "schema_description",
           "input_value_deprecation")  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("introspection") / "livechat.db"
    with serving(create_app(Settings(database=database))) as url:
        yield url


def post(url: str, query: str) -> dict[str, Any]:
    answer = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize(
    "chosen",
    [dict(zip(OPTIONS, on, strict=True)) for on in itertools.product([False, True], repeat=5)],
    ids=lambda chosen: "+".join(name for name, on in chosen.items() if on) or "none",
)
def test_graphql_core_introspection_query_is_answered(server: str, chosen: dict[str, bool]) -> None:
    body = post(server, get_introspection_query(**chosen))
    assert "errors" not in body, body["errors"]
    assert body["data"]["__schema"]["mutationType"]["name"] == "Mutation"


def test_introspection_rebuilds_the_shipped_schema(server: str) -> None:
    query = get_introspection_query(
        descriptions=True, specified_by_url=True, directive_is_repeatable=True,
        schema_description=True, input_value_deprecation=True,
    )  # fmt: skip
    body = post(server, query)
    rebuilt = lexicographic_sort_schema(build_client_schema(body["data"]))
    shipped = lexicographic_sort_schema(build_schema((ROOT / "schema/schema.graphql").read_text()))
    assert print_schema(rebuilt) == print_schema(shipped)


def test_deeper_type_references_still_pass(server: str) -> None:
    body = post(server, get_introspection_query(type_depth=10))
    assert "errors" not in body


def test_introspection_cannot_be_used_as_a_depth_bomb(server: str) -> None:
    nested = "name"
    for _ in range(12):
        nested = f"name fields {{ type {{ {nested} }} }}"
    body = post(server, f"{{ __schema {{ types {{ {nested} }} }} }}")
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "introspection selection is" in body["errors"][0]["message"]


def test_introspection_does_not_lift_the_general_depth_limit(server: str) -> None:
    deep = "__typename"
    for _ in range(11):
        deep = f"a {{ {deep} }}"
    body = post(server, f"{{ __schema {{ types {{ name }} }} {deep} }}")
    refusals = [error for error in body["errors"] if error["extensions"]["code"] == "BAD_REQUEST"]
    assert [error["message"] for error in refusals] == [
        "The operation is 12 levels deep; at most 10."
    ]


def test_production_mode_refuses_introspection(tmp_path: Path) -> None:
    app = create_app(Settings(database=tmp_path / "production.db", production=True))
    with serving(app) as url:
        body = post(url, get_introspection_query())
    assert body.get("data") is None
    assert "introspection" in body["errors"][0]["message"].lower()
