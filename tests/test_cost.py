"""The cost limit and the answer cap: the shipped operations always pass, the worst document the
other limits allowed is refused before it runs, and both ways a POST is answered agree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    FieldNode,
    NameNode,
    SelectionSetNode,
    Visitor,
    parse,
    print_ast,
    validate,
    visit,
)

from app.graphql import validation_cache
from app.graphql.export import graphql_core_schema
from app.main import LivechatApp, create_app, served_schema
from app.settings import Settings
from tests.helpers import QUERIES, operation
from tests.servers import serving

HISTORY = operation("livechatMessages")
FRAGMENTS = HISTORY[HISTORY.index("fragment ") :]
PAGE = (
    "... on LivechatMessagesSuccess { messages { ...MessageFields } hasMore } "
    "...LivechatErrorFields"
)
TEN_PAGES = (
    "query Pages($token: String!, $rid: ID!) { "
    + " ".join(
        f"p{index}: livechatMessages(token: $token, rid: $rid, limit: 100) {{ {PAGE} }}"
        for index in range(10)
    )
    + " }\n"
    + FRAGMENTS
)
SHIPPED = sorted(path.stem for path in QUERIES.glob("*.graphql"))


def cost_errors(document: str, settings: Settings | None = None) -> list[dict[str, Any]]:
    """The served rules' refusals of `document` that carry a cost."""
    schema = served_schema(settings or Settings())
    errors = validate(graphql_core_schema(schema), parse(document), schema.preparation.rules)
    return [dict(error.formatted) for error in errors if "cost" in (error.extensions or {})]


class AddTypename(Visitor):
    """What Apollo Client does to a document before it sends it: `__typename` in every
    selection set (its `addTypename`)."""

    def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> SelectionSetNode:
        typename = FieldNode(name=NameNode(value="__typename"))
        return SelectionSetNode(selections=(*node.selections, typename))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_operation_passes_at_its_most(name: str) -> None:
    """Variables count at their most (`limit` at 100), so passing here is passing always; and
    as Apollo Client sends it, with `__typename` added everywhere."""
    assert cost_errors(operation(name)) == []
    assert cost_errors(print_ast(visit(parse(operation(name)), AddTypename()))) == []


def test_ten_pages_of_a_hundred_messages_are_refused_with_their_cost() -> None:
    [refusal] = cost_errors(TEN_PAGES)
    extensions = refusal["extensions"]
    assert extensions["code"] == "BAD_REQUEST"
    assert extensions["maxCost"] == Settings().max_cost < extensions["cost"]
    assert f"{extensions['cost']}" in refusal["message"]


def estimate(document: str) -> int:
    """The cost the rule finds for `document` (under a limit of 1, so every one is refused)."""
    [refusal] = cost_errors(document, Settings(max_cost=1))
    cost: int = refusal["extensions"]["cost"]
    return cost


def test_a_page_costs_what_its_limit_asks_and_a_variable_its_most() -> None:
    def page(limit: str) -> str:
        return (
            f'query($l: Int!) {{ livechatMessages(token: "t", rid: "r"{limit}) '
            "{ ... on LivechatMessagesSuccess { messages { id msg } } } }"
        )

    ten, hundred = estimate(page(", limit: 10")), estimate(page(", limit: 100"))
    assert hundred - 2 == 10 * (ten - 2)  # two values a message; the page and list one each
    assert estimate(page(", limit: $l")) == hundred
    assert estimate(page("")) == estimate(page(", limit: 20"))  # the argument's default


def test_markdown_costs_by_its_nodes_not_by_how_deep_the_fragment_reaches() -> None:
    """A message's tree is as large as its text allows, however deep the fragment goes."""
    shallow = '{ livechatMessage(token: "t", rid: "r", id: "m") { ... on LivechatMessageSuccess { message { md { __typename } } } } }'  # noqa: E501
    deep = operation("livechatMessage")
    assert 5000 < estimate(shallow) < estimate(deep) < 10 * estimate(shallow)


@asynccontextmanager
async def served(settings: Settings, *, front: bool) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    assert isinstance(app, LivechatApp)
    if not front:
        app.front = None
    with serving(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            yield client


async def history_room(client: httpx.AsyncClient, messages: int) -> str:
    register = {"visitor": {"token": "visitor"}}
    assert (await client.post("/api/v1/livechat/visitor", json=register)).status_code == 200
    room = await client.get("/api/v1/livechat/room", params={"token": "visitor"})
    rid: str = room.json()["room"]["_id"]
    for index in range(messages):
        sent = {"token": "visitor", "rid": rid, "msg": f"message {index} " + "@a " * 20}
        assert (await client.post("/api/v1/livechat/message", json=sent)).status_code == 200
    return rid


@pytest.mark.parametrize("front", [True, False], ids=["lean", "view"])
async def test_both_paths_run_the_history_at_its_most_and_refuse_ten_pages(
    tmp_path: Path, front: bool
) -> None:
    settings = Settings(database=tmp_path / "cost.db")
    async with served(settings, front=front) as client:
        rid = await history_room(client, 3)
        variables = {"token": "visitor", "rid": rid, "limit": 100}
        history = await client.post("/graphql", json={"query": HISTORY, "variables": variables})
        refused = await client.post("/graphql", json={"query": TEN_PAGES, "variables": variables})
    page = history.json()["data"]["livechatMessages"]
    assert [message["msg"][:9] for message in page["messages"]] == [
        "message 2",
        "message 1",
        "message 0",
    ]
    assert refused.status_code == 200
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["extensions"]["cost"] > error["extensions"]["maxCost"] == settings.max_cost


async def test_an_answer_over_the_cap_is_one_error_on_both_paths(tmp_path: Path) -> None:
    answers = []
    for front in (True, False):
        settings = Settings(database=tmp_path / f"cap-{front}.db", max_answer_bytes=20_000)
        async with served(settings, front=front) as client:
            rid = await history_room(client, 5)
            small = {"token": "visitor", "rid": rid, "limit": 1}
            fits = await client.post("/graphql", json={"query": HISTORY, "variables": small})
            assert len(fits.content) <= 20_000 and "errors" not in fits.json()
            large = {**small, "limit": 100}
            answers.append(
                await client.post("/graphql", json={"query": HISTORY, "variables": large})
            )
    lean, view = answers
    assert (lean.status_code, lean.json()) == (view.status_code, view.json())
    assert lean.json()["data"] is None
    [error] = lean.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["extensions"]["answerBytes"] > error["extensions"]["maxAnswerBytes"] == 20_000


def repeated(times: int, extra: str = "") -> str:
    selection = "u { id } " * times + extra
    return (
        '{ livechatMessages(token: "t", rid: "r") { ... on LivechatMessagesSuccess '
        f"{{ messages {{ {selection} }} }} }} }}"
    )


def test_a_field_selected_over_and_over_is_refused_before_the_other_rules_run() -> None:
    """graphql-core's field-merging rule compares every pair of them (400: most of a second):
    the limits refuse the document alone, so that rule never sees it."""
    schema = served_schema(Settings())
    core = graphql_core_schema(schema)
    errors = validation_cache.errors(core, parse(repeated(400, "nope")), schema.preparation.rules)
    assert [error.formatted for error in errors] == [
        {
            "message": "The operation selects Message.u 400 times; at most 10.",
            "extensions": {"code": "BAD_REQUEST"},
        }
    ]
    allowed = validation_cache.errors(core, parse(repeated(10)), schema.preparation.rules)
    assert allowed == []
