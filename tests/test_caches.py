"""Every speed trick still works: each cache hits on a repeated document, and each override of
graphql-core's executor is still called. A library upgrade that silently bypassed one would
leave every other test green; these fail."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from graphql import parse, validate

from app.graphql.documents import Documents
from app.graphql.errors import coded_request_error
from app.graphql.execution import ExecutionStats
from app.graphql.export import graphql_core_schema
from app.graphql.plans import PlanBuilder
from app.graphql.validation_cache import ValidationStats
from app.main import apq_bytes, create_app, served_schema
from app.settings import Settings
from tests.helpers import GraphQL, operation


def documents(app: FastAPI) -> Documents:
    """The served schema's parsed documents."""
    found: Documents = app.state.schema.preparation.documents
    return found


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
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    parses = documents(app).hits
    validations = ValidationStats.hits
    completed, fell_back = ExecutionStats.plans_completed, ExecutionStats.plans_fell_back
    answers = await send_twice(GraphQL(client))
    assert [answer["msg"] for answer in answers] == ["first **one**", "second _two_"]
    assert answers[1]["md"][0]["children"][1]["__typename"] == "Italic"
    # The send document (and the visitor's and room's) ran again: each cache hit.
    assert documents(app).hits > parses
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


def padded(number: int, padding: int) -> str:
    """A valid document, distinct by `number`, padded with comments and whitespace (which are
    not tokens) to about `padding` characters."""
    head = f'query Padded{number} {{ livechatMessages(token: "t", rid: "r") {{ __typename }} }}'
    return head + "\n# " + "padding " * (padding // 16) + "\n" + " " * (padding // 2)


def test_a_document_is_kept_without_its_text() -> None:
    """Padding adds nothing to what the cache holds, and the cache keeps no reference to the
    text (not as a key, not through the AST's locations)."""
    cache = Documents(max_bytes=8 * 1024 * 1024)
    small = padded(1, 0)
    large = padded(2, 1_000_000)
    references = sys.getrefcount(large)
    cache.parse(small)
    held = cache.bytes
    cache.parse(large)
    assert sys.getrefcount(large) == references
    assert cache.bytes - held == held  # the same document, a different number: no larger
    assert len(cache) == 2


def test_distinct_large_documents_stay_within_the_cache_bytes() -> None:
    cache = Documents(max_bytes=4 * 1024 * 1024)
    document = operation("livechatMessages")
    weights = []
    for number in range(300):
        cache.parse(f"# {number}\n" + document + " " * 100_000)
        assert cache.bytes <= cache.max_bytes
        weights.append(cache.bytes)
    # The shipped history document fits a few times over, so older ones were dropped.
    assert 1 < len(cache) < 300
    assert max(weights) > cache.max_bytes // 2


def test_errors_are_located_as_graphql_core_locates_them() -> None:
    """Spots give an error's `locations` as graphql-core's own locations do: one node, and
    several (a field conflict), across lines and after CRLF line ends."""
    text = (
        "query Q($t: String!) {\r\n"
        '  a: livechatMessages(token: $t, rid: "r") { __typename }\n'
        '  \t a: livechatMessage(token: $t, rid: "r", id: "m") { __typename }\n'
        "  nope\n"
        "}\n"
        "# trailing comment\n"
    )
    served = served_schema(Settings())
    rules = served.preparation.rules
    core = graphql_core_schema(served)
    ours = validate(core, Documents(max_bytes=1024 * 1024).parse(text), rules)
    theirs = validate(core, parse(text), rules)
    assert [error.formatted for error in ours] == [error.formatted for error in theirs]
    coded = [coded_request_error(error).formatted for error in ours]
    assert coded == [coded_request_error(error).formatted for error in theirs]
    assert any(len(error.locations or []) > 1 for error in ours)
    assert any(error.locations == [(4, 3)] for error in ours)
    assert all(str(error).startswith(error.message) for error in ours)


async def test_the_served_caches_stay_within_their_bytes_when_flooded(
    tmp_path: Path,
) -> None:
    """Many large distinct documents through the served app, and the shipped history run in
    between (which adds its plans to its entry): the parsed documents and the persisted
    queries stay within `DOCUMENT_CACHE_BYTES`."""
    settings = Settings(database=tmp_path / "flood.db", document_cache_bytes=4 * 1024 * 1024)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            graphql = GraphQL(client)
            await graphql.visitor()
            rid = (await graphql.room())["room"]["id"]
            await graphql.send(token="visitor-token", rid=rid, msg="**bold** @a #c")
            history = {"token": "visitor-token", "rid": rid, "limit": 100}
            held = documents(app)
            for number in range(60):
                text = padded(number, 200_000)
                digest = hashlib.sha256(text.encode()).hexdigest()
                persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
                answer = await client.post(
                    "/graphql", json={"query": text, "extensions": persisted}
                )
                assert answer.json() == {
                    "data": {"livechatMessages": {"__typename": "LivechatError"}}
                }
                if number % 20 == 0:
                    page = await graphql.run("livechatMessages", history)
                    assert page["livechatMessages"]["messages"][0]["md"][0]["type"] == "PARAGRAPH"
                assert held.bytes <= held.max_bytes
    apq = app.state.persisted_queries
    assert apq.currsize <= apq_bytes(settings) and len(apq) < 60
    assert held.bytes + apq.maxsize <= settings.document_cache_bytes
