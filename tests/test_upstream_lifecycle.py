"""Edit and delete through the upstream backend: retried only where safe, against our
Rocket.Chat routes over real HTTP with faults injected; and Rocket.Chat's error bodies of
every version read as the same failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from app.backends.base import (
    FAILURES,
    ActionNotAllowed,
    EmptyMessage,
    InvalidMessage,
    InvalidParams,
    InvalidToken,
    OtherLivechatFailure,
    OutgoingMessage,
    UpstreamUnavailable,
)
from app.backends.upstream import mapping
from app.backends.upstream.client import UpstreamBackend
from app.graphql.errors import livechat_error
from app.main import create_app
from app.settings import Settings
from tests.helpers import GraphQL, RocketChatServer
from tests.servers import serving
from tests.test_upstream_faults import FAST, room_for, stored, upstream


@pytest.fixture
def database(tmp_path: Any) -> Any:
    """The SQLite file of the `rocketchat` server."""
    return tmp_path / "rocketchat.db"


def on(method: str, *faults: str) -> Callable[[httpx.Request], str | None]:
    """Inject `faults` into the first requests with this method on a message's route."""
    pending = list(faults)

    def plan(request: httpx.Request) -> str | None:
        if request.method == method and request.url.path.startswith("/api/v1/livechat/message/"):
            return pending.pop(0) if pending else None
        return None

    return plan


async def backend_with_message(
    rocketchat: RocketChatServer, plan: Callable[[httpx.Request], str | None]
) -> tuple[UpstreamBackend, str, str]:
    backend = await upstream(rocketchat, plan)
    rid = await room_for(backend)
    message = await backend.send_message(OutgoingMessage(token="tok", rid=rid, msg="Helo"))
    return backend, rid, message.id


@pytest.mark.parametrize("faults", [("refuse",), ("reset",), ("503",), ("reset", "slow")])
async def test_an_edit_is_retried_through_faults_and_applied_once(
    rocketchat: RocketChatServer, faults: tuple[str, ...]
) -> None:
    backend, rid, message_id = await backend_with_message(rocketchat, on("PUT", *faults))
    edited = await backend.update_message("tok", rid, message_id, "Hello *there*")
    assert (edited.id, edited.msg, edited.edited_at is not None) == (
        message_id,
        "Hello *there*",
        True,
    )
    assert backend.retries == len(faults)
    stored_now = await backend.message("tok", rid, message_id)
    assert stored_now.msg == "Hello *there*"
    await backend.aclose()


@pytest.mark.parametrize("faults", [("refuse",), ("503",), ("reset",), ("slow",), ("reset", "503")])
async def test_a_delete_that_may_have_landed_is_retried_and_counts_as_done(
    rocketchat: RocketChatServer, database: Any, faults: tuple[str, ...]
) -> None:
    backend, rid, message_id = await backend_with_message(rocketchat, on("DELETE", *faults))
    deleted = await backend.delete_message("tok", rid, message_id)
    assert deleted.id == message_id
    assert backend.retries == len(faults)
    assert stored(database) == 0
    with pytest.raises(InvalidMessage):
        await backend.message("tok", rid, message_id)
    await backend.aclose()


async def test_deleting_an_unknown_message_without_a_retry_is_still_invalid_message(
    rocketchat: RocketChatServer,
) -> None:
    backend, rid, _ = await backend_with_message(rocketchat, on("DELETE"))
    with pytest.raises(InvalidMessage):
        await backend.delete_message("tok", rid, "noSuchMessage")
    assert backend.retries == 0
    await backend.aclose()


async def test_when_faults_outlast_the_retries_an_edit_says_so(
    rocketchat: RocketChatServer,
) -> None:
    backend, rid, message_id = await backend_with_message(
        rocketchat, on("PUT", *["refuse"] * FAST.max_attempts)
    )
    with pytest.raises(UpstreamUnavailable):
        await backend.update_message("tok", rid, message_id, "never")
    assert (await backend.message("tok", rid, message_id)).msg == "Helo"
    await backend.aclose()


# The same refusals as Rocket.Chat 7.x (plain Error: the id alone), 6.x (Meteor.Error:
# "Reason [id]" with errorType) and <=5.x (the Meteor.Error object itself) write them.
SHAPES = {
    "action-not-allowed": (
        ActionNotAllowed,
        [
            {"success": False, "error": "error-action-not-allowed"},
            {
                "success": False,
                "error": "Message editing not allowed [error-action-not-allowed]",
                "errorType": "error-action-not-allowed",
            },
            {
                "success": False,
                "error": "Message deleting not allowed [error-action-not-allowed]",
                "errorType": "error-action-not-allowed",
            },
        ],
    ),
    "invalid-token": (
        InvalidToken,
        [
            {"success": False, "error": "invalid-token"},
            {
                "success": False,
                "error": "invalid-token",
                "message": "[invalid-token]",
                "errorType": "Meteor.Error",
            },
        ],
    ),
    "empty-edit": (
        EmptyMessage,
        [
            {
                "success": False,
                "error": "Message cannot be empty [error-invalid-message]",
                "errorType": "error-invalid-message",
            },
            {"success": False, "error": "error-invalid-message"},
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_versions_body_gives_the_same_livechat_error(name: str) -> None:
    kind, bodies = SHAPES[name]
    errors = []
    for body in bodies:
        with pytest.raises(kind) as refused:
            mapping.answer(httpx.Response(400, json=body))
        errors.append(livechat_error(refused.value))
    assert all(error == errors[0] for error in errors), errors
    assert errors[0].upstream_error == kind.error


@pytest.mark.parametrize("version", ["7.x", "6.x"])
async def test_a_refused_edit_reads_the_same_from_every_version_over_http(
    tmp_path: Any, version: str
) -> None:
    """A server answering the edit as Rocket.Chat 7.x or 6.x does, on a real socket, behind
    the GraphQL API in upstream mode: the client sees one and the same LivechatError."""
    body = SHAPES["action-not-allowed"][1][0 if version == "7.x" else 1]
    rocketchat = FastAPI()

    @rocketchat.put("/api/v1/livechat/message/{message_id}")
    async def refuse(message_id: str) -> JSONResponse:
        return JSONResponse(body, status_code=400)

    with serving(rocketchat) as url:
        settings = Settings(backend="upstream", upstream_url=url, database=tmp_path / "x.db")
        with serving(create_app(settings)) as api_url:
            async with httpx.AsyncClient(base_url=api_url) as client:
                data = await GraphQL(client).run(
                    "updateLivechatMessage",
                    {"input": {"token": "t", "rid": "r", "id": "m", "msg": "x"}},
                )
    assert data["updateLivechatMessage"] == {
        "__typename": "LivechatError",
        "code": "NOT_ALLOWED",
        "upstreamError": "error-action-not-allowed",
        "reason": ActionNotAllowed.reason,
    }


def test_every_failure_class_round_trips_through_its_own_body() -> None:
    """What the in-process routes write, the upstream backend reads back as the same failure:
    the REST bodies and the mapping are both derived from the classes."""
    for kind in FAILURES:
        if kind is OtherLivechatFailure:
            continue  # no class of its own: below
        failure = kind()
        read = mapping.failure_from(failure.body())
        assert type(read) is kind, kind
        assert livechat_error(read) == livechat_error(failure), kind
    unknown = mapping.failure_from(OtherLivechatFailure("why", "some-error").body())
    assert type(unknown) is OtherLivechatFailure
    assert (unknown.code, unknown.upstream_error) == ("OTHER", "some-error")


def test_invalid_params_keeps_the_field_at_fault() -> None:
    read = mapping.failure_from(InvalidParams("'limit' must be between 1 and 101").body())
    assert read is not None and read.reason == "'limit' must be between 1 and 101"
