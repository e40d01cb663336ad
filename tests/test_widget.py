"""What surrounds a chat, as a widget meets it: the config, the visitor's data, the offline form,
transcripts by mail (to a real SMTP server on loopback), department transfer on a 7.x and an 8.x
server, the survey. Each rule is checked on the in-process backend (its own /graphql) and on the
upstream backend in front of it (a facade forwarding to its Rocket.Chat REST routes)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from graphql import GraphQLEnumType, GraphQLObjectType, GraphQLUnionType, build_schema
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from app.backends import upstream_backend
from app.backends.base import LivechatBackend
from app.graphql.export import graphql_core_schema
from app.main import create_app
from app.settings import Settings
from tests.helpers import ROOT, WIDGET_SETTINGS, GraphQL
from tests.servers import free_port, serving

# ---- servers ----


@dataclass
class Mailbox:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it is sent."""

    port: int
    mails: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        mail = message_from_bytes(content)
        mail["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.mails.append(mail)
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


class Without8x:
    """A Rocket.Chat 7.x: the in-process server without 8.x's department.transfer route (404,
    as a server answers a route it does not have), recording the paths it is asked for."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
            if scope["path"] == "/api/v1/livechat/visitor/department.transfer":
                await send({"type": "http.response.start", "status": 404, "headers": []})
                await send({"type": "http.response.body", "body": b"Not Found"})
                return
        await self.app(scope, receive, send)


@dataclass
class Apis:
    """One in-process server (its database at `database`), and a facade in front of it."""

    in_process: GraphQL
    upstream: GraphQL
    rest: httpx.AsyncClient
    database: Path
    rocketchat: Without8x | None = None

    def both(self) -> list[GraphQL]:
        return [self.in_process, self.upstream]

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.database) as connection:
            return connection.execute(sql, params).fetchall()


@contextmanager
def _servers(tmp_path: Path, seven: bool, **overrides: Any) -> Iterator[tuple[str, str, Any]]:
    database = tmp_path / "rocketchat.db"
    app = create_app(Settings(database=database, **{**WIDGET_SETTINGS, **overrides}))
    served: Any = Without8x(app) if seven else app
    with serving(served) as rocketchat_url:
        facade_settings = Settings(
            backend="upstream", upstream_url=rocketchat_url, database=tmp_path / "unused.db"
        )

        async def factory(settings: Settings) -> LivechatBackend:
            return upstream_backend(settings)

        with serving(create_app(facade_settings, backend_factory=factory)) as facade_url:
            yield rocketchat_url, facade_url, served


Make = Callable[..., Awaitable[Apis]]


@pytest.fixture
async def make(tmp_path: Path) -> Any:
    """`await make(**settings)`: the two APIs over one in-process server with those settings."""
    stack: list[Any] = []
    clients: list[httpx.AsyncClient] = []

    async def build(seven: bool = False, **overrides: Any) -> Apis:
        folder = tmp_path / f"servers{len(stack)}"
        folder.mkdir()
        context = _servers(folder, seven, **overrides)
        rocketchat_url, facade_url, served = context.__enter__()
        stack.append(context)
        direct, facade = (
            httpx.AsyncClient(base_url=rocketchat_url),
            httpx.AsyncClient(base_url=facade_url),
        )
        clients.extend([direct, facade])
        return Apis(
            in_process=GraphQL(direct),
            upstream=GraphQL(facade),
            rest=direct,
            database=folder / "rocketchat.db",
            rocketchat=served if seven else None,
        )

    yield build
    for client in clients:
        await client.aclose()
    for context in reversed(stack):
        context.__exit__(None, None, None)


async def _room(api: GraphQL, token: str, **fields: Any) -> str:
    await api.visitor(token, **fields)
    return str((await api.room(token))["room"]["id"])


# ---- config ----


async def test_config_with_livechat_disabled_says_only_that(make: Make) -> None:
    apis = await make(livechat_enabled=False)
    for api in apis.both():
        config = (await api.run("livechatConfig", {}))["livechatConfig"]["config"]
        assert config["enabled"] is False and config["online"] is False
        assert config["raw"] == {"enabled": False}
        assert config["departments"] == [] and config["settings"] is None
        # Registration is not refused; opening a room is.
        await api.visitor("off-token", name="Ann")
        refused = await api.room("off-token")
        assert refused["code"] == "LIVECHAT_DISABLED"
        assert refused["upstreamError"] == "error-omnichannel-is-disabled"
    answer = await apis.rest.get("/api/v1/livechat/config")
    assert answer.json() == {"config": {"enabled": False}, "success": True}


async def test_online_follows_the_agents_when_chats_need_an_agent(make: Make) -> None:
    sales = {"id": "dep-sales", "name": "Sales"}
    support = {"id": "dep-support", "name": "Support"}
    nobody = await make(
        accept_chats_with_no_agents=False,
        agents=[{"username": "away.one", "password": "pw", "status": "away"}],
    )
    someone = await make(
        accept_chats_with_no_agents=False,
        departments=[sales, support],
        agents=[{"username": "ann", "password": "pw", "departments": ["dep-sales"]}],
    )
    for api in nobody.both():
        assert (await api.run("livechatConfig", {}))["livechatConfig"]["config"]["online"] is False
    for api in someone.both():
        config = (await api.run("livechatConfig", {}))["livechatConfig"]["config"]
        assert config["online"] is True
        # A department by id or by name: online only where an online agent works.
        for department, online in [("dep-sales", True), ("Sales", True), ("Support", False)]:
            answer = await api.run("livechatConfig", {"department": department})
            assert answer["livechatConfig"]["config"]["online"] is online, department
        # Asked about a department that does not exist: nobody there.
        other = await api.run("livechatConfig", {"department": "dep-nowhere"})
        assert other["livechatConfig"]["config"]["online"] is False


async def test_config_takes_the_settings_a_developer_sets(make: Make) -> None:
    apis = await make(
        theme={"title": "Acme help", "color": "#0000FF"},
        messages={"offlineMessage": "Leave us a note"},
        registration_form=False,
        show_agent_info=False,
        enable_transcript=True,
        language="pt-BR",
    )
    for api in apis.both():
        config = (await api.run("livechatConfig", {}))["livechatConfig"]["config"]
        assert config["theme"]["title"] == "Acme help" and config["theme"]["color"] == "#0000FF"
        assert config["theme"]["offlineTitle"] == "Leave a message"  # Rocket.Chat's default
        assert config["messages"]["offlineMessage"] == "Leave us a note"
        assert config["settings"]["registrationForm"] is False
        assert config["settings"]["agentHiddenInfo"] is True
        assert config["settings"]["transcript"] is True
        assert config["settings"]["language"] == "pt-BR"


async def test_rest_config_refuses_unknown_query_parameters(make: Make) -> None:
    apis = await make()
    answer = await apis.rest.get("/api/v1/livechat/config", params={"colour": "red"})
    assert answer.status_code == 400
    assert answer.json()["errorType"] == "invalid-params"


def test_settings_refuse_broken_definitions() -> None:
    with pytest.raises(ValidationError, match="does not compile"):
        Settings(custom_fields=[{"key": "plan", "regexp": "(unclosed"}])
    with pytest.raises(ValidationError):
        Settings(departments=[{"id": "dep-1"}])  # no name
    with pytest.raises(ValidationError):
        Settings(custom_fields=[{"key": "plan", "scope": "everywhere"}])


# ---- registration ----


async def test_an_email_that_matches_another_visitor_reuses_it_with_the_new_token(
    make: Make,
) -> None:
    apis = await make()
    for index, api in enumerate(apis.both()):
        first = await api.visitor(f"old-{index}", name="Ann", email=f"ann{index}@example.com")
        again = await api.visitor(f"new-{index}", email=f"ANN{index}@example.com ")
        assert again["visitor"]["id"] == first["visitor"]["id"]
        assert again["visitor"]["token"] == f"new-{index}"
        assert again["visitor"]["name"] == "Ann"
        gone = await api.run("livechatVisitor", {"token": f"old-{index}"})
        assert gone["livechatVisitor"]["code"] == "INVALID_TOKEN"


async def test_the_same_token_is_updated_even_when_the_phone_is_anothers(make: Make) -> None:
    apis = await make()
    api = apis.in_process
    await api.visitor("phone-owner", phone="+4930123")
    mine = await api.visitor("mine", name="Bo")
    again = await api.visitor("mine", phone="+4930123")
    assert again["visitor"]["id"] == mine["visitor"]["id"]
    assert again["visitor"]["token"] == "mine"


async def test_a_department_by_name_is_stored_by_id(make: Make) -> None:
    apis = await make()
    for index, api in enumerate(apis.both()):
        await api.visitor(f"dep-{index}", department="Support")
        config = await api.run("livechatConfig", {"token": f"dep-{index}"})
        assert config["livechatConfig"]["config"]["raw"]["guest"]["department"] == "dep-support"


# ---- custom fields, status ----


async def test_custom_fields_land_on_the_visitor_or_their_rooms(make: Make) -> None:
    apis = await make()
    rid = await _room(apis.in_process, "fields")
    fields = [
        {"key": "plan", "value": "gold"},
        {"key": "plan", "value": "silver", "overwrite": False},  # kept: gold stays
        {"key": "order", "value": "A-7"},
    ]
    done = await apis.in_process.run(
        "setLivechatCustomFields", {"input": {"token": "fields", "fields": fields}}
    )
    assert len(done["setLivechatCustomFields"]["fields"]) == 3
    ((visitor_fields,),) = apis.rows("SELECT custom_fields FROM visitor_data")
    assert visitor_fields == b'{"plan":"gold"}'
    assert apis.rows("SELECT rid, custom_fields FROM room_data") == [(rid, b'{"order":"A-7"}')]


async def test_the_plural_rest_route_answers_rocketchats_capital_key(make: Make) -> None:
    apis = await make()
    await apis.in_process.visitor("plural")
    answer = await apis.rest.post(
        "/api/v1/livechat/custom.fields",
        json={
            "token": "plural",
            "customFields": [{"key": "plan", "value": "gold", "overwrite": True}],
        },
    )
    assert answer.json() == {
        "fields": [{"Key": "plan", "value": "gold", "overwrite": True}],
        "success": True,
    }


async def test_custom_field_and_status_refusals(make: Make) -> None:
    apis = await make()
    for api in apis.both():
        unknown = await api.run(
            "setLivechatCustomFields",
            {"input": {"token": "nobody", "fields": [{"key": "plan", "value": "gold"}]}},
        )
        assert unknown["setLivechatCustomFields"]["upstreamError"] == "invalid-token"
        await api.visitor("known")
        bad_key = await api.run(
            "setLivechatCustomFields",
            {"input": {"token": "known", "fields": [{"key": "shoe-size", "value": "44"}]}},
        )
        assert bad_key["setLivechatCustomFields"]["code"] == "INVALID_CUSTOM_FIELD"
        assert bad_key["setLivechatCustomFields"]["upstreamError"] == "invalid-custom-field"
        status = await api.run(
            "setLivechatVisitorStatus", {"input": {"token": "nobody", "status": "away"}}
        )
        assert status["setLivechatVisitorStatus"]["code"] == "INVALID_TOKEN"


# ---- removal ----


async def test_removing_a_visitor_deletes_their_rooms_and_messages_in_one_go(make: Make) -> None:
    apis = await make()
    api = apis.in_process
    rid = await _room(api, "forget")
    await api.send(token="forget", rid=rid, msg="first")
    await api.run(
        "setLivechatCustomFields",
        {"input": {"token": "forget", "fields": [{"key": "order", "value": "A-1"}]}},
    )
    await api.close(token="forget", rid=rid)
    other = await _room(api, "stays")
    await api.send(token="stays", rid=other, msg="still here")

    removed = await api.run("removeLivechatVisitor", {"input": {"token": "forget"}})
    assert removed["removeLivechatVisitor"]["__typename"] == "RemoveLivechatVisitorSuccess"
    assert apis.rows("SELECT COUNT(*) FROM messages WHERE rid = ?", rid) == [(0,)]
    assert apis.rows("SELECT COUNT(*) FROM rooms WHERE id = ?", rid) == [(0,)]
    assert apis.rows("SELECT COUNT(*) FROM room_data WHERE rid = ?", rid) == [(0,)]
    assert apis.rows("SELECT COUNT(*) FROM visitors WHERE token = 'forget'") == [(0,)]
    assert apis.rows("SELECT COUNT(*) FROM messages WHERE rid = ?", other) == [(1,)]


async def test_a_visitor_with_an_open_room_keeps_everything(make: Make) -> None:
    apis = await make()
    for index, api in enumerate(apis.both()):
        token = f"open-{index}"
        rid = await _room(api, token)
        await api.send(token=token, rid=rid, msg="hello")
        before = apis.rows("SELECT COUNT(*) FROM messages")
        refused = await api.run("removeLivechatVisitor", {"input": {"token": token}})
        assert refused["removeLivechatVisitor"]["code"] == "VISITOR_HAS_OPEN_ROOMS"
        assert apis.rows("SELECT COUNT(*) FROM messages") == before
        assert (await api.run("livechatVisitor", {"token": token}))["livechatVisitor"]["visitor"][
            "token"
        ] == token


# ---- mail ----


def _offline(**fields: Any) -> dict[str, Any]:
    return {
        "input": {"name": "Ann", "email": "ann@example.com", "message": "Call me back", **fields}
    }


async def test_offline_messages_go_to_the_departments_email_over_smtp(
    make: Make, mailbox: Mailbox
) -> None:
    apis = await make(smtp_url=f"smtp://127.0.0.1:{mailbox.port}")
    for api in apis.both():
        sent = await api.run("sendLivechatOfflineMessage", _offline(department="dep-sales"))
        assert sent["sendLivechatOfflineMessage"]["message"] == "Livechat offline message sent"
        # No department email: Livechat_offline_email.
        await api.run("sendLivechatOfflineMessage", _offline(department="Support"))
    assert [mail["X-Envelope-To"] for mail in mailbox.mails] == [
        "sales@example.com",
        "desk@example.com",
    ] * 2
    first = mailbox.mails[0]
    assert first["Subject"] == "Livechat offline message from Ann: Call me back"
    assert first["Reply-To"] == "ann@example.com"
    assert "Call me back" in first.get_payload()
    outbox = apis.rows("SELECT recipient, sent_at IS NOT NULL, error FROM outbox ORDER BY ts")
    assert (
        outbox
        == [
            ("sales@example.com", 1, None),
            ("desk@example.com", 1, None),
        ]
        * 2
    )


async def test_without_a_mail_server_or_recipient_the_message_is_kept(make: Make) -> None:
    apis = await make(offline_email="")
    for api in apis.both():
        sent = await api.run("sendLivechatOfflineMessage", _offline(message="Kept anyway"))
        assert (
            sent["sendLivechatOfflineMessage"]["__typename"] == "SendLivechatOfflineMessageSuccess"
        )
    assert (
        apis.rows("SELECT kind, recipient, sent_at FROM outbox")
        == [("offline-message", None, None)] * 2
    )


async def test_a_mail_server_that_is_down_leaves_the_mail_in_the_outbox(make: Make) -> None:
    apis = await make(smtp_url=f"smtp://127.0.0.1:{free_port()}")
    sent = await apis.in_process.run("sendLivechatOfflineMessage", _offline())
    assert sent["sendLivechatOfflineMessage"]["__typename"] == "SendLivechatOfflineMessageSuccess"
    ((recipient, sent_at, error),) = apis.rows("SELECT recipient, sent_at, error FROM outbox")
    assert (recipient, sent_at) == ("desk@example.com", None)
    assert error


async def test_offline_refusals_are_rocketchats_one_generic_error(make: Make) -> None:
    closed = await make(display_offline_form=False)
    apis = await make()
    for api, variables in [
        (closed.in_process, _offline()),
        (closed.upstream, _offline()),
        (apis.in_process, _offline(email="not-an-address")),
        (apis.upstream, _offline(department="dep-nowhere")),
    ]:
        refused = (await api.run("sendLivechatOfflineMessage", variables))[
            "sendLivechatOfflineMessage"
        ]
        assert refused["code"] == "OTHER"
        assert refused["upstreamError"] == "Error sending Omnichannel offline message"
    assert apis.rows("SELECT COUNT(*) FROM outbox") == [(0,)]


async def test_a_transcript_mails_the_conversation_to_the_visitor(
    make: Make, mailbox: Mailbox
) -> None:
    apis = await make(smtp_url=f"smtp://127.0.0.1:{mailbox.port}")
    for index, api in enumerate(apis.both()):
        token = f"transcript-{index}"
        rid = await _room(api, token, name="Ann")
        await api.send(token=token, rid=rid, msg="Where is my order?")
        await api.close(token=token, rid=rid)  # a closed room's transcript works too
        asked = await api.run(
            "requestLivechatTranscript",
            {"input": {"token": token, "rid": rid, "email": "Ann@Example.com"}},
        )
        assert asked["requestLivechatTranscript"]["message"] == "Omnichannel transcript sent"
        bad = await api.run(
            "requestLivechatTranscript",
            {"input": {"token": token, "rid": rid, "email": "ann@"}},
        )
        assert bad["requestLivechatTranscript"]["code"] == "INVALID_EMAIL"
        missing = await api.run(
            "requestLivechatTranscript",
            {"input": {"token": token, "rid": "nosuchroom", "email": "ann@example.com"}},
        )
        assert missing["requestLivechatTranscript"]["upstreamError"] == "error-invalid-room"
    assert [mail["X-Envelope-To"] for mail in mailbox.mails] == ["ann@example.com"] * 2
    body = str(mailbox.mails[0].get_payload())
    assert re.search(r"Ann: Where is my order\?", body)
    assert "Closed by visitor" not in body  # the close is not part of the conversation
    assert mailbox.mails[0]["Subject"] == "Transcript of your omnichannel conversation."


# ---- transfer, survey ----


async def test_transfer_on_a_7x_server_takes_room_transfer_and_remembers(make: Make) -> None:
    apis = await make(seven=True)
    assert apis.rocketchat is not None
    rid = await _room(apis.upstream, "seven")
    for department in ("dep-support", "dep-sales"):
        moved = await apis.upstream.run(
            "transferLivechatRoom",
            {"input": {"token": "seven", "rid": rid, "department": department}},
        )
        assert moved["transferLivechatRoom"] == {
            "__typename": "TransferLivechatRoomSuccess",
            "rid": rid,
        }
    transfers = [path for path in apis.rocketchat.paths if "transfer" in path]
    assert transfers == [
        "/api/v1/livechat/visitor/department.transfer",  # asked once: 404
        "/api/v1/livechat/room.transfer",
        "/api/v1/livechat/room.transfer",
    ]
    config = await apis.upstream.run("livechatConfig", {"token": "seven"})
    assert config["livechatConfig"]["config"]["raw"]["room"]["departmentId"] == "dep-sales"
    # 7.x's own ids for a refusal.
    stranger = await apis.upstream.run(
        "transferLivechatRoom",
        {"input": {"token": "seven", "rid": "nosuchroom", "department": "dep-sales"}},
    )
    assert stranger["transferLivechatRoom"]["upstreamError"] == "invalid-room"
    await apis.upstream.close(token="seven", rid=rid)
    closed = await apis.upstream.run(
        "transferLivechatRoom",
        {"input": {"token": "seven", "rid": rid, "department": "dep-sales"}},
    )
    assert closed["transferLivechatRoom"]["upstreamError"] == "error-transfering-chat"


async def test_8x_transfer_refusals_are_returned_as_plain_ids(make: Make) -> None:
    apis = await make()
    rid = await _room(apis.in_process, "eight")
    await apis.in_process.close(token="eight", rid=rid)
    answer = await apis.rest.post(
        "/api/v1/livechat/visitor/department.transfer",
        json={"token": "eight", "rid": rid, "department": "dep-sales"},
    )
    assert answer.status_code == 400
    assert answer.json() == {"success": False, "error": "This_conversation_is_already_closed"}
    for api in apis.both():
        closed = await api.run(
            "transferLivechatRoom",
            {"input": {"token": "eight", "rid": rid, "department": "dep-sales"}},
        )
        assert closed["transferLivechatRoom"]["code"] == "ROOM_CLOSED"


async def test_survey_refusals(make: Make) -> None:
    apis = await make()
    for index, api in enumerate(apis.both()):
        rid = await _room(api, f"survey-{index}")
        nothing_kept = await api.run(
            "rateLivechatRoom",
            {
                "input": {
                    "token": f"survey-{index}",
                    "rid": rid,
                    "answers": [{"name": "satisfaction", "value": "10"}],
                }
            },
        )
        assert nothing_kept["rateLivechatRoom"]["upstreamError"] == "invalid-data"
        empty = await api.run(
            "rateLivechatRoom", {"input": {"token": f"survey-{index}", "rid": rid, "answers": []}}
        )
        assert empty["rateLivechatRoom"]["code"] == "INVALID_PARAMS"
        other = await api.run(
            "rateLivechatRoom",
            {
                "input": {
                    "token": "nobody",
                    "rid": rid,
                    "answers": [{"name": "satisfaction", "value": "3"}],
                }
            },
        )
        assert other["rateLivechatRoom"]["code"] == "INVALID_TOKEN"


# ---- the contract ----

WIDGET_CONTRACT = (ROOT / "tests/fixtures/contract/schema-widget.graphql").read_text()
# The widget contract's types for the config, the visitor's data, mail, transfer and survey.
CONFIG_TYPES = [
    "LivechatConfigResult", "LivechatConfigSuccess", "LivechatConfig", "LivechatSettings",
    "LivechatTheme", "LivechatConfigMessages", "LivechatSurvey", "LivechatDepartment",
    "LivechatVisitorResult", "LivechatVisitorSuccess", "SetLivechatCustomFieldsInput",
    "LivechatCustomFieldInput", "SetLivechatCustomFieldsResult", "SetLivechatCustomFieldsSuccess",
    "LivechatCustomField", "SetLivechatVisitorStatusInput", "SetLivechatVisitorStatusResult",
    "SetLivechatVisitorStatusSuccess", "RemoveLivechatVisitorInput",
    "RemoveLivechatVisitorResult", "RemoveLivechatVisitorSuccess",
    "SendLivechatOfflineMessageInput", "SendLivechatOfflineMessageResult",
    "SendLivechatOfflineMessageSuccess", "RequestLivechatTranscriptInput",
    "RequestLivechatTranscriptResult", "RequestLivechatTranscriptSuccess",
    "TransferLivechatRoomInput", "TransferLivechatRoomResult", "TransferLivechatRoomSuccess",
    "RateLivechatRoomInput", "LivechatSurveyAnswerInput", "RateLivechatRoomResult",
    "RateLivechatRoomSuccess", "LivechatSurveyAnswer",
]  # fmt: skip
CONFIG_FIELDS = {
    "Query": ["livechatConfig", "livechatVisitor"],
    "Mutation": [
        "setLivechatCustomFields", "setLivechatVisitorStatus", "removeLivechatVisitor",
        "sendLivechatOfflineMessage", "requestLivechatTranscript", "transferLivechatRoom",
        "rateLivechatRoom",
    ],
}  # fmt: skip


def _contract() -> Any:
    core = (ROOT / "tests/fixtures/contract/schema-core.graphql").read_text()
    # The core file kept here predates the room events union the widget file extends.
    widget = re.sub(r"^extend union LivechatRoomEvent.*$", "", WIDGET_CONTRACT, flags=re.M)
    return build_schema(core + "\n" + widget)


@pytest.fixture(scope="module")
def served() -> Any:
    return graphql_core_schema(create_app(Settings()).state.schema)


@pytest.mark.parametrize("name", CONFIG_TYPES)
def test_the_widget_contracts_config_types_are_served_exactly(served: Any, name: str) -> None:
    wanted, got = _contract().type_map[name], served.type_map.get(name)
    assert got is not None, f"{name} is missing"
    assert type(got) is type(wanted)
    if isinstance(wanted, GraphQLUnionType):
        assert [member.name for member in got.types] == [member.name for member in wanted.types]
        return
    assert set(got.fields) == set(wanted.fields), name
    for field_name, wanted_field in wanted.fields.items():
        assert str(got.fields[field_name].type) == str(wanted_field.type), f"{name}.{field_name}"


def test_the_config_operations_and_error_codes_are_the_contracts(served: Any) -> None:
    contract = _contract()
    for root, names in CONFIG_FIELDS.items():
        wanted_root = cast(GraphQLObjectType, contract.type_map[root])
        served_root = cast(GraphQLObjectType, served.type_map[root])
        for name in names:
            wanted, got = wanted_root.fields[name], served_root.fields[name]
            assert str(got.type) == str(wanted.type), name
            assert {arg: str(value.type) for arg, value in got.args.items()} == {
                arg: str(value.type) for arg, value in wanted.args.items()
            }, name
    codes = cast(GraphQLEnumType, served.type_map["LivechatErrorCode"])
    wanted_codes = cast(GraphQLEnumType, contract.type_map["LivechatErrorCode"])
    assert set(codes.values) <= set(wanted_codes.values)
    for code in ("LIVECHAT_DISABLED", "INVALID_DEPARTMENT", "INVALID_EMAIL"):
        assert code in codes.values
    assert {"INVALID_CUSTOM_FIELD", "VISITOR_HAS_OPEN_ROOMS"} <= set(codes.values)


async def test_a_token_that_cannot_be_a_path_segment_is_refused_alike(make: Make) -> None:
    apis = await make()
    cases: list[tuple[str, dict[str, Any]]] = [
        ("livechatVisitor", {"token": "../config"}),
        ("removeLivechatVisitor", {"input": {"token": "a/b"}}),
    ]
    for api in apis.both():
        for name, variables in cases:
            answer = (await api.run(name, variables))[name]
            assert answer["code"] == "INVALID_PARAMS", answer
