"""`livechat-graphql agent` as a person runs it: a real process against the in-process server on a
real port, with what the visitor sees checked through the visitor's own routes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from app.settings import AgentSetting, Settings
from tests.servers import serving

ANN = AgentSetting(username="ann", password="ann-secret", name="Ann Agent")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with serving(create_app(Settings(database=tmp_path / "cli.db", agents=[ANN]))) as url:
        yield url


def agent(
    server: str, *action: str, password: str = "ann-secret"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "agent", "--server", server, "--user", "ann",
         "--password", password, *action],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def visitor_room(server: str, token: str) -> str:
    with httpx.Client(base_url=server) as http:
        http.post("/api/v1/livechat/visitor", json={"visitor": {"token": token}})
        rid = http.get("/api/v1/livechat/room", params={"token": token}).json()["room"]["_id"]
        http.post("/api/v1/livechat/message", json={"token": token, "rid": rid, "msg": "help!"})
        return str(rid)


def test_a_person_plays_the_agent_from_a_terminal(server: str) -> None:
    rid = visitor_room(server, "cli-visitor")
    rooms = agent(server, "rooms")
    assert rooms.returncode == 0, rooms.stderr
    assert rooms.stdout.split() == [rid, "open", "served", "guest-1"]
    history = agent(server, "history", rid)
    assert history.stdout.strip().endswith("guest-1: help!")
    assert agent(server, "typing", rid, "on").returncode == 0
    reply = agent(server, "reply", rid, "On it, **one** moment")
    assert reply.stdout.strip().endswith("ann: On it, **one** moment")
    assert agent(server, "status", "away").stdout.strip() == "ann is away"
    assert agent(server, "close", rid, "--comment", "bye").stdout.strip() == f"closed {rid}"
    with httpx.Client(base_url=server) as http:
        seen = http.get(
            f"/api/v1/livechat/messages.history/{rid}", params={"token": "cli-visitor"}
        ).json()["messages"]
        agent_info = http.get(f"/api/v1/livechat/agent.info/{rid}/cli-visitor").json()
    assert [(m["u"]["username"], m.get("t"), m["msg"]) for m in reversed(seen)] == [
        ("guest-1", None, "help!"),
        ("ann", None, "On it, **one** moment"),
        ("ann", "livechat-close", "bye"),
    ]
    assert agent_info["agent"]["status"] == "away"


def test_watch_prints_the_visitors_messages_and_typing(server: str) -> None:
    rid = visitor_room(server, "watched")
    watching = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "agent", "--server", server, "--user", "ann",
         "--password", "ann-secret", "watch", rid],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert watching.stdout is not None
        assert watching.stdout.readline().strip() == f"watching {rid} (Ctrl-C to stop)"
        with httpx.Client(base_url=server) as http:
            graphql = {
                "query": "mutation($i: SetLivechatTypingInput!) { setLivechatTyping(input: $i) "
                "{ __typename } }",
                "variables": {"i": {"token": "watched", "rid": rid, "typing": True}},
            }
            http.post("/graphql", json=graphql)
            time.sleep(0.2)
            http.post(
                "/api/v1/livechat/message", json={"token": "watched", "rid": rid, "msg": "hi"}
            )
        assert watching.stdout.readline().strip() == "guest-1 is typing"
        assert watching.stdout.readline().strip().endswith("guest-1: hi")
    finally:
        watching.terminate()
        watching.communicate(timeout=10)  # waits, and closes both pipes


def test_a_wrong_password_is_said_plainly(server: str) -> None:
    refused = agent(server, "rooms", password="nope")
    assert refused.returncode == 1
    assert refused.stderr.strip() == "livechat-graphql agent: login refused: Unauthorized"
