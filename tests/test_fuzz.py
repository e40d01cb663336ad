"""Thousands of generated operations, valid and invalid, with random arguments, and any JSON or
bytes as a body, sent over a real socket: never a 5xx, never an unexpected error. A CI-sized run
by default; the long run is

    .venv/bin/pytest tests/test_fuzz.py --hypothesis-profile=long    # 20,000 examples each
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from app.graphql.export import sdl
from app.main import create_app
from app.settings import Settings
from tests.helpers import CUSTOM_SCALARS
from tests.servers import serving

SDL = sdl(create_app(Settings()).state.schema)
CI_EXAMPLES = settings(
    max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    database: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    with (
        serving(create_app(Settings(database=database))) as url,
        httpx.Client(base_url=url) as client,
    ):
        # A visitor and a room exist, so that generated tokens sometimes hit real data.
        client.post("/api/v1/livechat/visitor", json={"visitor": {"token": "fuzz"}})
        client.get("/api/v1/livechat/room", params={"token": "fuzz"})
        yield client


def check(client: httpx.Client, document: str, variables: Any = None) -> None:
    answer = client.post("/graphql", json={"query": document, "variables": variables})
    assert answer.status_code < 500, answer.text
    body = answer.json()
    for error in body.get("errors") or []:
        assert error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR", (document, body)


@CI_EXAMPLES
@given(document=from_schema(SDL, custom_scalars=CUSTOM_SCALARS))
def test_generated_queries_and_mutations(client: httpx.Client, document: str) -> None:
    check(client, document)


@CI_EXAMPLES
@given(document=from_schema(SDL, mode=Mode.NEGATIVE, custom_scalars=CUSTOM_SCALARS))
def test_generated_invalid_operations(client: httpx.Client, document: str) -> None:
    check(client, document)


SEND = (
    "mutation($input: SendLivechatMessageInput!) "
    "{ sendLivechatMessage(input: $input) { __typename } }"
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@CI_EXAMPLES
@given(
    variables=st.fixed_dictionaries(
        {},
        optional={
            "input": st.fixed_dictionaries(
                {},
                optional={
                    "token": st.sampled_from(["fuzz"]) | json_values,
                    "rid": json_values,
                    "msg": st.text(max_size=6000) | json_values,
                    "id": json_values,
                    "agent": json_values,
                },
            )
            | json_values
        },
    )
)
def test_random_variables_for_a_send(client: httpx.Client, variables: Any) -> None:
    check(client, SEND, variables)


REST_WRITES = [
    ("POST", "/api/v1/livechat/visitor"),
    ("POST", "/api/v1/livechat/message"),
    ("POST", "/api/v1/livechat/room.close"),
    ("PUT", "/api/v1/livechat/message/m1"),
    ("DELETE", "/api/v1/livechat/message/m1"),
]
REST_GETS = [
    "/api/v1/livechat/room",
    "/api/v1/livechat/messages.history/r1",
    "/api/v1/livechat/message/m1",
]
printable = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)


@CI_EXAMPLES
@given(route=st.sampled_from(REST_WRITES), body=json_values | st.binary(max_size=200))
def test_rocket_chat_routes_take_any_body(
    client: httpx.Client, route: tuple[str, str], body: Any
) -> None:
    method, path = route
    if isinstance(body, bytes):
        answer = client.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
    else:
        answer = client.request(method, path, json=body)
    assert answer.status_code in (200, 400), answer.text
    assert answer.json()["success"] in (True, False)


@CI_EXAMPLES
@given(
    path=st.sampled_from(REST_GETS),
    params=st.dictionaries(st.sampled_from(["token", "rid", "agentId", "limit", "end"]), printable),
)
def test_rocket_chat_routes_take_any_query(
    client: httpx.Client, path: str, params: dict[str, str]
) -> None:
    answer = client.get(path, params=params)
    assert answer.status_code in (200, 400), answer.text


def check_refusal(answer: httpx.Response) -> None:
    """A body GraphQL cannot run is a 4xx with a GraphQL error a client can read."""
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        codes = [error["extensions"]["code"] for error in answer.json()["errors"]]
        assert codes and "INTERNAL_SERVER_ERROR" not in codes


@CI_EXAMPLES
@given(body=json_values)
def test_graphql_takes_any_json_body(client: httpx.Client, body: Any) -> None:
    check_refusal(client.post("/graphql", json=body))


@CI_EXAMPLES
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        ["application/json", "application/graphql-response+json", "text/plain", ""]
    ),
)
def test_graphql_takes_any_bytes(client: httpx.Client, body: bytes, content_type: str) -> None:
    check_refusal(client.post("/graphql", content=body, headers={"content-type": content_type}))


@CI_EXAMPLES
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "query": json_values | st.sampled_from(["{ __typename }", "query Q { __typename }"]),
            "variables": json_values,
            "operationName": json_values,
            "extensions": json_values,
        },
    )
)
def test_graphql_takes_any_request_object(client: httpx.Client, body: Any) -> None:
    check_refusal(client.post("/graphql", json=body))
