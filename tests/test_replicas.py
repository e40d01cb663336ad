"""Upstream mode keeps no state of its own: two replicas in front of one upstream serve the
same visitors, a retry that lands on the other replica stores nothing twice, and a persisted
query registered on one replica is learnt by the other the way the APQ protocol allows (one
PERSISTED_QUERY_NOT_FOUND, then it runs)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import httpx

from tests.cluster import cluster
from tests.helpers import operation

VISITORS = 8
SENDS = 25  # per visitor; each sent to one replica, then retried on the other


async def post(http: httpx.AsyncClient, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    answer = await http.post("/graphql", json={"query": operation(name), "variables": variables})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def test_replicas_share_visitors_and_a_retry_elsewhere_stores_once(tmp_path: Path) -> None:
    with cluster(tmp_path, replicas=2) as replicas:
        one, other = (
            httpx.AsyncClient(base_url=replica.url, timeout=30) for replica in replicas.replicas
        )
        pair = (one, other)

        async def visitor(index: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
            token = f"replica-visitor-{index}"
            await post(pair[index % 2], "registerLivechatVisitor", {"input": {"token": token}})
            room = await post(
                pair[(index + 1) % 2], "openLivechatRoom", {"input": {"token": token}}
            )
            rid = room["openLivechatRoom"]["room"]["id"]
            answers = []
            for n in range(SENDS):
                send = {
                    "input": {"token": token, "rid": rid, "msg": f"#{n}", "id": f"r{index}n{n}"}
                }
                first = await post(pair[n % 2], "sendLivechatMessage", send)
                retry = await post(pair[(n + 1) % 2], "sendLivechatMessage", send)
                answers.append((first["sendLivechatMessage"], retry["sendLivechatMessage"]))
            history = await post(pair[index % 2], "livechatMessages", {"token": token, "rid": rid})
            assert len(history["livechatMessages"]["messages"]) == min(SENDS, 20)
            return answers

        try:
            results = await asyncio.gather(*(visitor(index) for index in range(VISITORS)))
        finally:
            await one.aclose()
            await other.aclose()
        stored = replicas.stored_ids()

    pairs = [pair for answers in results for pair in answers]
    print(
        f"\n2 replicas, {VISITORS} visitors: {len(pairs)} sends, each retried on the other"
        f" replica ({2 * len(pairs)} requests); {len(stored)} stored,"
        f" {len(stored) - len(set(stored))} duplicates"
    )
    for first, retry in pairs:
        assert first["__typename"] == retry["__typename"] == "SendLivechatMessageSuccess"
        assert retry["message"] == first["message"]
    assert sorted(stored) == sorted(f"r{i}n{n}" for i in range(VISITORS) for n in range(SENDS))


def persisted(digest: str, query: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
        "variables": {"input": {"token": "apq-visitor"}},
    }
    if query is not None:
        body["query"] = query
    return body


def test_a_persisted_query_is_learnt_by_the_other_replica_once(tmp_path: Path) -> None:
    query = operation("registerLivechatVisitor")
    digest = hashlib.sha256(query.encode()).hexdigest()
    with cluster(tmp_path, replicas=2) as replicas:
        one, other = (replica.url for replica in replicas.replicas)
        registered = httpx.post(f"{one}/graphql", json=persisted(digest, query)).json()
        assert registered["data"]["registerLivechatVisitor"]["visitor"]["token"] == "apq-visitor"
        assert "data" in httpx.post(f"{one}/graphql", json=persisted(digest)).json()

        unknown = httpx.post(f"{other}/graphql", json=persisted(digest)).json()
        assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        learnt = httpx.post(f"{other}/graphql", json=persisted(digest, query)).json()
        assert learnt["data"] == registered["data"]
        for url in (other, one, other):
            assert httpx.post(f"{url}/graphql", json=persisted(digest)).json() == registered
