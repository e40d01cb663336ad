"""Rocket.Chat's JSON as real servers send it, read by the upstream backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.backends.base import InvalidParams, InvalidToken, OtherLivechatFailure, UpstreamError
from app.backends.rocketchat_json import format_datetime, parse_datetime
from app.backends.upstream import mapping
from app.graphql.markdown_nodes import UnknownMarkdownNode, from_json
from app.markdown import parse
from tests.helpers import ROOT

SEED = ROOT / "tests" / "fixtures" / "rocketchat"


def response(body: Any, status: int = 200) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content)


def seed(name: str) -> Any:
    return json.loads((SEED / name).read_text())


def parsed(document: Any) -> Any:
    return mapping.message(document, lambda raw: parse(raw["msg"]))


def test_the_seed_example_parses_with_success_as_a_string() -> None:
    body = mapping.answer(response(seed("send-message-success.json")))
    message = parsed(body["message"])
    assert (message.id, message.rid, message.msg, message.alias) == (
        "djsajdkscks787",
        "hGFwSKA28nRKut3pD",
        "Hello World!",
        "Baek",
    )
    assert message.u.username == "guest-35"
    assert message.updated_at.isoformat() == "2023-10-31T13:14:29.960000+00:00"
    assert message.md == [
        {"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": "Hello World!"}]}
    ]


def test_a_message_without_md_gets_ours() -> None:
    document = seed("send-message-success.json")["message"]
    document = {key: value for key, value in document.items() if key != "md"} | {"msg": "**hi**"}
    assert parsed(document).md == parse("**hi**")


def test_unknown_fields_and_node_types_do_not_break_anything() -> None:
    document = seed("send-message-success.json")["message"] | {
        "editedAt": "2023-10-31T13:15:00.000Z",
        "reactions": {":+1:": {"usernames": ["kim"]}},
        "md": [{"type": "PARAGRAPH", "value": [{"type": "SPARKLE", "value": 42}]}],
    }
    message = parsed(document)
    [paragraph] = from_json(message.md)
    assert isinstance(paragraph.children[0], UnknownMarkdownNode)  # type: ignore[union-attr]


def test_the_seed_error_is_invalid_params() -> None:
    with pytest.raises(InvalidParams) as refused:
        mapping.answer(response(seed("send-message-invalid-params.json"), 400))
    assert refused.value.upstream_error == "invalid-params"
    assert refused.value.reason == "must have required property 'token'"


@pytest.mark.parametrize(
    ("body", "failure", "upstream_error"),
    [
        ({"success": False, "error": "invalid-token"}, InvalidToken, "invalid-token"),
        ({"success": False, "error": "E11000 duplicate key"}, OtherLivechatFailure,
         "E11000 duplicate key"),
    ],
)  # fmt: skip
def test_error_strings_map_to_codes_and_unknown_ones_are_kept(
    body: Any, failure: type[Exception], upstream_error: str
) -> None:
    with pytest.raises(failure) as refused:
        mapping.answer(response(body, 400))
    assert refused.value.upstream_error == upstream_error  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "content", [b"<html>502 Bad Gateway</html>", b"[1, 2]", b""], ids=["html", "list", "empty"]
)
def test_a_body_that_is_not_rocket_chats_json_is_an_upstream_error(content: bytes) -> None:
    with pytest.raises(UpstreamError) as failed:
        mapping.answer(response(content))
    assert "html" not in str(failed.value).lower()


def test_a_message_in_the_wrong_shape_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError):
        parsed({"_id": "x", "msg": "no author, no room"})


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),  # a day in: every offset below stays in year 1 in UTC
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    )
)
def test_dates_are_written_as_javascript_s_to_iso_string_writes_them(moment: datetime) -> None:
    """Four-digit year, milliseconds (truncated), `Z`; read back to the same millisecond."""
    utc = moment.astimezone(UTC)
    expected = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )
    assert format_datetime(moment) == expected
    assert parse_datetime(expected) == utc.replace(microsecond=utc.microsecond // 1000 * 1000)
