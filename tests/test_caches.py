"""Every speed trick still works: each cache hits on a repeated document, and each override of
graphql-core's executor is still called. A library upgrade that silently bypassed one would
leave every other test green; these fail."""

from __future__ import annotations

from typing import Any

import httpx
from strawberry.extensions.parser_cache import _get_parse_cache

from app.graphql.execution import ExecutionStats
from app.graphql.plans import PlanBuilder
from app.graphql.schema import DOCUMENT_CACHE_SIZE
from app.graphql.validation_cache import ValidationStats
from tests.helpers import GraphQL, operation


def parse_hits() -> int:
    """Hits of Strawberry's shared parser LRU (a functools.lru_cache) for our cache size."""
    cached: Any = _get_parse_cache(DOCUMENT_CACHE_SIZE)
    return int(cached.cache_info().hits)


async def send_twice(graphql: GraphQL) -> list[dict[str, Any]]:
    await graphql.visitor()
    rid = (await graphql.room())["room"]["id"]
    answers = []
    for text in ("first **one**", "second _two_"):
        answer = await graphql.raw(
            operation("sendLivechatMessage"),
            {"input": {"token": "visitor-token", "rid": rid, "msg": text}},
        )
        assert "errors" not in answer, answer
        answers.append(answer["data"]["sendLivechatMessage"]["message"])
    return answers


async def test_a_repeated_document_is_parsed_validated_and_completed_from_its_caches(
    client: httpx.AsyncClient,
) -> None:
    parses = parse_hits()
    validations = ValidationStats.hits
    completed, fell_back = ExecutionStats.plans_completed, ExecutionStats.plans_fell_back
    answers = await send_twice(GraphQL(client))
    assert [answer["msg"] for answer in answers] == ["first **one**", "second _two_"]
    assert answers[1]["md"][0]["children"][1]["__typename"] == "Italic"
    # The send document (and the visitor's and room's) ran again: each cache hit.
    assert parse_hits() > parses
    assert ValidationStats.hits > validations
    # Both sends were completed by their plan, none by falling back to graphql-core.
    assert ExecutionStats.plans_completed >= completed + 2
    assert ExecutionStats.plans_fell_back == fell_back


async def test_a_plan_covers_the_node_types_a_message_uses_not_every_member(
    client: httpx.AsyncClient,
) -> None:
    """The shipped fragment spreads 33 markdown members at 10 levels: planned up front, that
    was over 6,000 object plans (a second) before a document's first answer."""
    graphql = GraphQL(client)
    await graphql.visitor()
    rid = (await graphql.room())["room"]["id"]
    unseen = operation("sendLivechatMessage") + "\n# a document no other test sent\n"
    planned = PlanBuilder.objects_planned
    answer = await graphql.raw(
        unseen, {"input": {"token": "visitor-token", "rid": rid, "msg": "plain **bold**"}}
    )
    message = answer["data"]["sendLivechatMessage"]["message"]
    assert [node["__typename"] for node in message["md"][0]["children"]] == ["PlainText", "Bold"]
    assert 0 < PlanBuilder.objects_planned - planned < 100
