"""The HTTP guards over a real socket: a body over the limit is refused with an answer the
client can read, whichever way it sends; every answer carries the request's id; CORS answers
as Starlette's."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from app.main import create_app
from app.middleware import CrossOrigin
from app.settings import Settings
from tests.servers import serving

FIVE_MB = 5_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database: Path = tmp_path_factory.mktemp("middleware") / "livechat.db"
    with serving(create_app(Settings(database=database))) as url:
        yield url


def raw_exchange(url: str, head: bytes, body: bytes) -> bytes:
    """Send the head and the whole body before reading anything, as urllib and curl do."""
    address = urlparse(url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(head + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_a_client_that_sends_its_whole_body_first_reads_the_413(server: str) -> None:
    body = b'{"query": "{ __typename }", "pad": "' + b"x" * FIVE_MB + b'"}'
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    answer = raw_exchange(server, head, body)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    payload = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert payload["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "larger than 1000000 bytes" in payload["errors"][0]["message"]


def test_a_chunked_body_over_the_limit_reads_the_413_too(server: str) -> None:
    chunk = b"x" * 100_000
    framed = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(30)) + b"0\r\n\r\n"
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer = raw_exchange(server, head, framed)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_pythons_urllib_gets_the_413(server: str) -> None:
    request = urllib.request.Request(
        f"{server}/graphql",
        data=b'{"query": "' + b" " * FIVE_MB + b'{ __typename }"}',
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413
    assert json.loads(refused.value.read())["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_a_client_waiting_for_100_continue_is_refused_before_it_sends(server: str) -> None:
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {FIVE_MB}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    answer = raw_exchange(server, head, b"")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in answer


def test_every_answer_carries_the_request_id(server: str) -> None:
    mine = httpx.post(
        f"{server}/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "abc-123"}
    )
    assert mine.headers["x-request-id"] == "abc-123"
    theirs = httpx.post(
        f"{server}/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "a b;c"}
    )
    assert len(theirs.headers["x-request-id"]) == 32  # not a plain token: replaced by ours
    assert httpx.get(f"{server}/healthz").headers["x-request-id"]


# ---- CORS: Starlette's answers, the common ones from a memo ----

WIDGET_SITE = "https://widget.example"


def answering_with(headers: list[tuple[str, str]]) -> Starlette:
    """An app whose every answer carries `headers`, as a route may set its own."""

    async def answer(request: Request) -> Response:
        response = PlainTextResponse("ok")
        for name, value in headers:
            response.headers.append(name, value)
        return response

    return Starlette(routes=[Route("/", answer, methods=["GET", "POST", "OPTIONS"])])


CORS_CONFIGURATIONS = {
    "one site": {"allow_origins": [WIDGET_SITE], "allow_methods": ["GET", "POST"]},
    "sites, credentials, exposed": {
        "allow_origins": [WIDGET_SITE, "https://other.example"],
        "allow_credentials": True,
        "expose_headers": ["X-Request-Id"],
        "allow_headers": ["Content-Type"],
    },
    "any site": {"allow_origins": ["*"]},
    "a pattern": {"allow_origins": [WIDGET_SITE], "allow_origin_regex": r"https://.*\.test"},
}
ANSWER_HEADERS = {
    "plain": [],
    "varies": [("Vary", "Accept-Encoding")],
    "sets its own CORS": [("Access-Control-Allow-Origin", "https://self.example")],
}
REQUESTS = [
    ("POST", {"Origin": WIDGET_SITE}),
    ("POST", {}),
    ("GET", {"Origin": "https://elsewhere.example"}),
    ("GET", {"Origin": "https://a.test"}),
    ("OPTIONS", {"Origin": WIDGET_SITE, "Access-Control-Request-Method": "POST"}),
    ("OPTIONS", {"Origin": WIDGET_SITE}),
    ("POST", {"Origin": WIDGET_SITE.upper()}),
]


@pytest.mark.parametrize("answer_headers", ANSWER_HEADERS.values(), ids=list(ANSWER_HEADERS))
@pytest.mark.parametrize("options", CORS_CONFIGURATIONS.values(), ids=list(CORS_CONFIGURATIONS))
def test_cross_origin_answers_as_starlettes_cors(
    options: dict[str, Any], answer_headers: list[tuple[str, str]]
) -> None:
    """Every request, sent twice (the second from the memo), gets the status and headers,
    in order, that Starlette's `CORSMiddleware` gives it; the memo keeps only the named sites
    (and no origin), whatever origins arrive."""
    inner = answering_with(answer_headers)
    cross_origin = CrossOrigin(inner, **options)
    with (
        serving(cast(Any, CORSMiddleware(inner, **options))) as starlettes,
        serving(cast(Any, cross_origin)) as ours,
    ):
        for method, headers in REQUESTS * 2:
            expected, got = (
                httpx.request(method, f"{url}/", headers=headers) for url in (starlettes, ours)
            )
            assert got.status_code == expected.status_code
            assert [h for h in got.headers.raw if h[0] != b"date"] == [
                h for h in expected.headers.raw if h[0] != b"date"
            ], (method, headers)
            assert got.content == expected.content
    assert set(cross_origin.memo) <= {None, *options["allow_origins"]}
