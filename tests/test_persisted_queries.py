"""Automatic persisted queries: Apollo's protocol over POST and GET."""

from __future__ import annotations

import hashlib
import json

import httpx

from app.graphql.persisted import ENTRY_BYTES, document_cache, resolve

QUERY = '{ livechatMessages(token: "nobody", rid: "r") { __typename } }'
DIGEST = hashlib.sha256(QUERY.encode()).hexdigest()
HASH_ONLY = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": DIGEST}}}
ANSWER = {"data": {"livechatMessages": {"__typename": "LivechatError"}}}


async def test_an_unknown_hash_asks_for_the_text_then_is_remembered(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post("/graphql", json=HASH_ONLY)
    assert first.status_code == 200
    assert first.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await client.post("/graphql", json={"query": QUERY, **HASH_ONLY})
    assert registered.json() == ANSWER
    again = await client.post("/graphql", json=HASH_ONLY)
    assert again.json() == ANSWER


async def test_get_serves_persisted_queries_but_never_mutations(client: httpx.AsyncClient) -> None:
    await client.post("/graphql", json={"query": QUERY, **HASH_ONLY})
    params = {"extensions": json.dumps(HASH_ONLY["extensions"])}
    answer = await client.get("/graphql", params=params)
    assert answer.json() == ANSWER
    mutation = 'mutation { registerLivechatVisitor(input: {token: "t"}) { __typename } }'
    digest = hashlib.sha256(mutation.encode()).hexdigest()
    extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}})
    refused = await client.get("/graphql", params={"query": mutation, "extensions": extensions})
    assert refused.status_code in (400, 405)


async def test_a_hash_that_does_not_match_its_text_is_refused(client: httpx.AsyncClient) -> None:
    wrong = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}
    answer = await client.post("/graphql", json={"query": QUERY, **wrong})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    nothing = await client.post("/graphql", json=wrong)
    assert nothing.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_malformed_persisted_queries_are_refused_cleanly(client: httpx.AsyncClient) -> None:
    for extensions in ({"persistedQuery": {"version": 2, "sha256Hash": DIGEST}},
                       {"persistedQuery": {"version": 1}}, {"persistedQuery": "x"}):  # fmt: skip
        answer = await client.post("/graphql", json={"extensions": extensions})
        assert answer.status_code == 400
    broken = await client.get("/graphql", params={"extensions": "{not json"})
    assert broken.status_code == 400


def test_the_cache_is_bounded_by_bytes_and_keeps_the_recently_used() -> None:
    """500 texts of 990 KB once took 525 MiB; now what the cache holds is bounded by bytes."""
    cache = document_cache(max_bytes=3 * (ENTRY_BYTES + 1000))
    texts = [f"{{ __typename }} # {index:03} " + "x" * 979 for index in range(10)]
    for text in texts:
        digest = hashlib.sha256(text.encode()).hexdigest()
        hashed = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        assert resolve(cache, text, hashed) == text
        assert cache.currsize <= cache.maxsize
    assert sorted(cache.values()) == texts[-3:]
    huge = "{ __typename }" + " " * 10_000
    digest = hashlib.sha256(huge.encode()).hexdigest()
    hashed = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    assert resolve(cache, huge, hashed) == huge  # it runs, but is not kept
    assert sorted(cache.values()) == texts[-3:]
