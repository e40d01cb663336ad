"""Fields collected once and reused across requests must never leak between documents or
between variable values."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from app.graphql.execution import CachingExecutionContext
from app.main import YOUNG_COLLECTION_THRESHOLD, create_app
from app.settings import Settings
from tests.helpers import GraphQL

SEND_WITH_DIRECTIVES = """
mutation Send($input: SendLivechatMessageInput!, $withMd: Boolean!) {
  sendLivechatMessage(input: $input) {
    ... on SendLivechatMessageSuccess {
      message { id md @include(if: $withMd) { __typename } msg @skip(if: $withMd) }
    }
  }
}
"""

SEND_PLAIN = """
mutation Send($input: SendLivechatMessageInput!) {
  sendLivechatMessage(input: $input) {
    ... on SendLivechatMessageSuccess { message { id md { __typename ... on Paragraph {
      children { __typename ... on Bold { children { __typename } } } } } } }
  }
}
"""


async def message(graphql: GraphQL, query: str, rid: str, **variables: Any) -> dict[str, Any]:
    answer = await graphql.raw(
        query, {"input": {"token": "visitor-token", "rid": rid, "msg": "a **b**"}, **variables}
    )
    assert "errors" not in answer, answer
    return answer["data"]["sendLivechatMessage"]["message"]  # type: ignore[no-any-return]


async def test_skip_and_include_follow_each_request_s_variables(graphql: GraphQL) -> None:
    await graphql.visitor()
    rid = (await graphql.room())["room"]["id"]
    for with_md in (True, False, True, False):
        sent = await message(graphql, SEND_WITH_DIRECTIVES, rid, withMd=with_md)
        assert ("md" in sent, "msg" in sent) == (with_md, not with_md)


async def test_a_repeated_document_selects_the_same_tree_every_time(graphql: GraphQL) -> None:
    await graphql.visitor()
    rid = (await graphql.room())["room"]["id"]
    answers = [(await message(graphql, SEND_PLAIN, rid))["md"] for _ in range(3)]
    expected = [
        {
            "__typename": "Paragraph",
            "children": [
                {"__typename": "PlainText"},
                {"__typename": "Bold", "children": [{"__typename": "PlainText"}]},
            ],
        }
    ]
    assert answers == [expected] * 3


async def test_a_finished_execution_is_freed_by_its_reference_count(graphql: GraphQL) -> None:
    """No request leaves its executor (fragments, variables, context) for the cyclic
    collector, whose passes such garbage drove (a tenth of a send's CPU)."""
    await graphql.visitor()
    rid = (await graphql.room())["room"]["id"]
    await message(graphql, SEND_PLAIN, rid)  # the document's plans are built

    def executors() -> int:
        return sum(isinstance(found, CachingExecutionContext) for found in gc.get_objects())

    gc.collect()
    gc.disable()
    try:
        before = executors()
        for _ in range(3):
            assert (await message(graphql, SEND_PLAIN, rid))["md"]
        after = executors()
    finally:
        gc.enable()
    assert after == before


async def test_plans_built_on_a_request_keep_nothing_of_it(graphql: GraphQL) -> None:
    """A document's plans and collected fields live as long as the document; the executor
    that first ran it (its context, its variables: a visitor's token and message) must not."""
    await graphql.visitor()
    rid = (await graphql.room())["room"]["id"]
    fresh = SEND_PLAIN.replace("message { id", "message { firstSeen: id")  # no plans yet

    def executors() -> list[CachingExecutionContext]:
        gc.collect()
        return [found for found in gc.get_objects() if isinstance(found, CachingExecutionContext)]

    before = len(executors())
    assert (await message(graphql, fresh, rid))["firstSeen"]
    left = executors()
    assert len(left) == before, [executor.variable_values.coerced for executor in left]
    assert (await message(graphql, fresh, rid))["md"]  # and the plans it built still serve


async def test_the_app_collects_less_often_however_it_is_served(tmp_path: Path) -> None:
    """The young-generation threshold is the app's own, set as it starts, so that `uvicorn
    app.main:app` gets it as `livechat-graphql serve` does."""
    threshold = gc.get_threshold()
    gc.set_threshold(700, *threshold[1:])
    try:
        app = create_app(Settings(database=tmp_path / "gc.db"))
        async with app.router.lifespan_context(app):
            assert gc.get_threshold()[0] == YOUNG_COLLECTION_THRESHOLD
    finally:
        gc.set_threshold(*threshold)
