"""The widget's first call and its writes around a chat, one client after the other: the config
(GraphQL in-process, GraphQL through the upstream facade, and Rocket.Chat's own REST route),
a custom field, and an offline message (an outbox write). Median and p99 in ms, and answers
that were not a success (a LivechatError or a GraphQL error).

    .venv/bin/python bench/widget.py [--requests 300]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import processes
from operations import QUERIES

WIDGET_ENV = {
    "LIVECHAT_GRAPHQL_DEPARTMENTS": '[{"id": "sales", "name": "Sales", "email": "s@example.com"}]',
    "LIVECHAT_GRAPHQL_CUSTOM_FIELDS": '[{"key": "plan", "scope": "visitor"}]',
}


def document(name: str) -> str:
    fragments = (QUERIES / "fragments" / "LivechatError.graphql").read_text()
    return (QUERIES / f"{name}.graphql").read_text() + "\n" + fragments


def timed(send: Callable[[], httpx.Response], requests: int) -> tuple[float, float, int]:
    """Median and p99 in ms, and how many answers were not a success."""
    samples, failed = [], 0
    for _ in range(requests):
        began = time.perf_counter()
        answer = send()
        samples.append((time.perf_counter() - began) * 1000)
        if (
            answer.status_code != 200
            or b'"errors"' in answer.content
            or b'"LivechatError"' in answer.content
        ):
            failed += 1
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.99) - 1)], failed


def graphql(client: httpx.Client, name: str, variables: dict[str, Any]) -> httpx.Response:
    return client.post("/graphql", json={"query": document(name), "variables": variables})


ROOM = 'mutation { openLivechatRoom(input: {token: "bench-token"}) { __typename } }'
CONFIG = {"token": "bench-token"}
FIELD = {"input": {"token": "bench-token", "fields": [{"key": "plan", "value": "gold"}]}}
OFFLINE = {
    "input": {"name": "Ann", "email": "ann@example.com", "message": "Hi", "department": "sales"}
}


Row = tuple[str, float, float, int]


def measure(direct: httpx.Client, front: httpx.Client, requests: int) -> list[Row]:
    graphql(direct, "registerLivechatVisitor", {"input": {"token": "bench-token", "name": "Ann"}})
    direct.post("/graphql", json={"query": ROOM})
    runs: list[tuple[str, Callable[[], httpx.Response]]] = [
        ("livechatConfig, in-process", lambda: graphql(direct, "livechatConfig", CONFIG)),
        ("livechatConfig, upstream facade", lambda: graphql(front, "livechatConfig", CONFIG)),
        (
            "GET /api/v1/livechat/config (REST, in-process)",
            lambda: direct.get("/api/v1/livechat/config", params=CONFIG),
        ),
        (
            "setLivechatCustomFields (1 field), in-process",
            lambda: graphql(direct, "setLivechatCustomFields", FIELD),
        ),
        (
            "sendLivechatOfflineMessage (outbox, no SMTP), in-process",
            lambda: graphql(direct, "sendLivechatOfflineMessage", OFFLINE),
        ),
    ]
    rows = []
    for label, send in runs:
        send()  # warm: parse, validate and plan the document once
        rows.append((label, *timed(send, requests)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    requests = parser.parse_args().requests
    with (
        tempfile.TemporaryDirectory() as folder,
        processes.livechat_graphql(
            "--database", str(Path(folder) / "bench.db"), env=WIDGET_ENV
        ) as server,
        processes.livechat_graphql("--backend", "upstream", "--upstream-url", server.url) as facade,
        httpx.Client(base_url=server.url) as direct,
        httpx.Client(base_url=facade.url) as front,
    ):
        rows = measure(direct, front, requests)
    print(f"| operation ({requests} sequential requests) | median ms | p99 ms | failed |")
    print("| --- | --- | --- | --- |")
    for label, median, p99, failed in rows:
        print(f"| {label} | {median:.2f} | {p99:.2f} | {failed} |")


if __name__ == "__main__":
    main()
