"""The container, short of building it (no image builds here): the Dockerfile's command is the
one the README documents and compose runs, and that command, with the image's environment and
its HEALTHCHECK, serves, reports healthy and stops on the image's STOPSIGNAL with status 0."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.helpers import ROOT
from tests.servers import free_port

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(index for index, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def one(keyword: str) -> str:
    [value] = [rest for name, rest in final_stage() if name == keyword]
    return value


def environment() -> dict[str, str]:
    values: dict[str, str] = {}
    for keyword, rest in final_stage():
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                values[name] = value
    return values


def command() -> list[str]:
    cmd: list[str] = json.loads(one("CMD"))
    return cmd


def test_the_image_is_multi_stage_slim_and_runs_as_no_root() -> None:
    stages = [rest for keyword, rest in instructions() if keyword == "FROM"]
    assert len(stages) >= 2 and all("-slim" in stage for stage in stages)
    user = one("USER").split(":")[0]
    assert user not in {"root", "0"}
    database = Path(environment()["LIVECHAT_GRAPHQL_DATABASE"])
    assert str(database.parent) in json.loads(one("VOLUME"))
    assert "healthcheck" in one("HEALTHCHECK")


def test_the_container_command_is_the_documented_one() -> None:
    documented = " ".join(command())
    assert documented == "livechat-graphql serve"
    assert f"`{documented}`" in (ROOT / "README.md").read_text()
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    facade = compose["services"]["facade"]
    assert facade["command"] == command()
    assert facade["environment"]["LIVECHAT_GRAPHQL_BACKEND"] == "upstream"
    upstream = httpx.URL(facade["environment"]["LIVECHAT_GRAPHQL_UPSTREAM_URL"])
    assert upstream.host in compose["services"] and "rocketchat" in facade["depends_on"]
    rocketchat = compose["services"]["rocketchat"]
    assert str(upstream.port) == rocketchat["environment"]["PORT"]
    assert "mongodb" in rocketchat["depends_on"]


def test_the_container_command_serves_is_healthy_and_stops_with_0(tmp_path: Path) -> None:
    """The CMD and the HEALTHCHECK as the image runs them, with its environment (bound to
    loopback and a free port here, the database under a temporary directory)."""
    port = free_port()
    env = {
        **os.environ,
        **environment(),
        "LIVECHAT_GRAPHQL_HOST": "127.0.0.1",
        "LIVECHAT_GRAPHQL_PORT": str(port),
        "LIVECHAT_GRAPHQL_DATABASE": str(tmp_path / "livechat.db"),
        "LIVECHAT_GRAPHQL_SHUTDOWN_DRAIN": "0.2",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    healthcheck = json.loads(one("HEALTHCHECK").split("CMD", 1)[1])
    assert subprocess.run(healthcheck, env=env, check=False).returncode == 1  # nothing serves
    server = subprocess.Popen(
        command(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(healthcheck, env=env, check=False).returncode != 0:
            assert server.poll() is None and time.monotonic() < deadline, "it did not start"
            time.sleep(0.2)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"}
        ).json()
        assert answer == {"data": {"__typename": "Query"}}
        assert (tmp_path / "livechat.db").exists()
        server.send_signal(getattr(signal, one("STOPSIGNAL")))
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
