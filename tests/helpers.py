"""What tests share: seams (a clock and an id generator that count), the shipped operations,
and clients for the API and for the Rocket.Chat server behind it."""

from __future__ import annotations

import itertools
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from hypothesis import strategies as st
from hypothesis_graphql import nodes

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "queries"
NPM = shutil.which("npm")


def npm_ci(folder: Path) -> Path:
    """`npm ci` in one of the Node clients the tests drive, once, unless its node_modules is
    already there from its lockfile (`make test` installs them all before the tests start)."""
    marker = folder / "node_modules" / ".package-lock.json"
    lockfile = folder / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lockfile.stat().st_mtime:
        assert NPM is not None
        done = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund"],
            cwd=folder, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    return folder


# The widget's in-process settings every test server runs with: two departments (the first with
# its own email) and custom fields of both scopes, one with a regexp.
WIDGET_SETTINGS: dict[str, Any] = {
    "departments": [
        {"id": "dep-sales", "name": "Sales", "email": "sales@example.com"},
        {"id": "dep-support", "name": "Support", "showOnOfflineForm": False},
    ],
    "custom_fields": [
        {"key": "plan", "label": "Plan", "scope": "visitor", "regexp": "^(gold|silver)$"},
        {"key": "order", "label": "Order", "scope": "room"},
    ],
    "offline_email": "desk@example.com",
}


class SteppingClock:
    """Starts at a fixed instant and moves one second per reading."""

    def __init__(self, start: datetime = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)) -> None:
        self._now = start

    def __call__(self) -> datetime:
        now = self._now
        self._now += timedelta(seconds=1)
        return now


class CountingIds:
    """Ids of Rocket.Chat's length that say in which order they were made."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"id{next(self._counter):015d}"


FRAGMENT_DEFINITION = re.compile(r"^fragment (\w+)", re.MULTILINE)
SPREAD = re.compile(r"\.\.\.(\w+)")


def operation(name: str) -> str:
    """`queries/<name>.graphql` with the fragment files it spreads, as a client sends it."""
    files = {
        defined: path
        for path in sorted((QUERIES / "fragments").glob("*.graphql"))
        for defined in FRAGMENT_DEFINITION.findall(path.read_text())
    }
    document = (QUERIES / f"{name}.graphql").read_text()
    included: list[Path] = []
    pending = SPREAD.findall(document)
    while pending:
        path = files.get(pending.pop())
        if path is not None and path not in included:
            included.append(path)
            pending += SPREAD.findall(path.read_text())
    return "\n".join([document, *(path.read_text() for path in included)])


class GraphQL:
    """Posts operations from queries/ the way a client does."""

    def __init__(self, client: httpx.AsyncClient, database: Path | None = None) -> None:
        self.client = client
        self.database = database

    def stored_messages(self) -> int:
        """Messages in the store behind the API (read from its SQLite file directly)."""
        assert self.database is not None
        with sqlite3.connect(self.database) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def run(self, name: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = await self.raw(operation(name), variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def visitor(self, token: str = "visitor-token", **fields: Any) -> dict[str, Any]:
        data = await self.run("registerLivechatVisitor", {"input": {"token": token, **fields}})
        return data["registerLivechatVisitor"]  # type: ignore[no-any-return]

    async def room(self, token: str = "visitor-token", **fields: Any) -> dict[str, Any]:
        data = await self.run("openLivechatRoom", {"input": {"token": token, **fields}})
        return data["openLivechatRoom"]  # type: ignore[no-any-return]

    async def send(self, **fields: Any) -> dict[str, Any]:
        data = await self.run("sendLivechatMessage", {"input": fields})
        return data["sendLivechatMessage"]  # type: ignore[no-any-return]

    async def upload(self, file: tuple[str, bytes, str], **fields: Any) -> dict[str, Any]:
        response = await upload(self.client, {"input": fields}, file)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body["data"]["uploadLivechatFile"]  # type: ignore[no-any-return]

    async def close(self, **fields: Any) -> dict[str, Any]:
        data = await self.run("closeLivechatRoom", {"input": fields})
        return data["closeLivechatRoom"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RocketChatServer:
    """Our in-process backend's Rocket.Chat REST routes, served on a real port."""

    url: str
    ids: CountingIds


PREFLIGHT = {"Apollo-Require-Preflight": "true"}

# Scalars hypothesis-graphql cannot make by itself: an `Upload` in a document can only be a
# literal, never a file (the resolver refuses it with INVALID_PARAMS).
CUSTOM_SCALARS = {"Upload": st.just("not a file").map(nodes.String)}


async def upload(
    client: httpx.AsyncClient,
    variables: dict[str, Any],
    file: tuple[str, bytes, str],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """`uploadLivechatFile` as apollo-upload-client sends it: the GraphQL multipart request
    spec (operations, map, then the file), with the CSRF preflight header."""
    variables = {**variables, "input": {**variables["input"], "file": None}}
    operations = {"query": operation("uploadLivechatFile"), "variables": variables}
    return await client.post(
        "/graphql",
        data={
            "operations": orjson.dumps(operations).decode(),
            "map": orjson.dumps({"0": ["variables.input.file"]}).decode(),
        },
        files={"0": file},
        headers=PREFLIGHT if headers is None else headers,
    )
