"""The tools frontend developers use, for real: Apollo Client over HTTP, and GraphQL Code
Generator over schema/ and queries/ (tests/clients/apollo, installed with `npm ci`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.main import create_app
from app.settings import Settings
from tests.helpers import NPM, ROOT, WIDGET_SETTINGS, npm_ci
from tests.servers import serving

PROJECT = ROOT / "tests" / "clients" / "apollo"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or NPM is None, reason="needs Node 20 and npm on PATH"
)


def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=PROJECT, capture_output=True, text=True, timeout=300, env=env, check=False
    )


@pytest.fixture(scope="module")
def installed() -> Path:
    return npm_ci(PROJECT)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    settings = Settings(database=tmp_path / "apollo.db", **WIDGET_SETTINGS)
    with serving(create_app(settings)) as url:
        yield url


def test_apollo_client_drives_a_conversation_edits_and_pages_back(
    installed: Path, server: str
) -> None:
    done = run("node", "--test", "apollo.test.mjs", env={**os.environ, "SERVER_URL": server})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# pass 3" in done.stdout  # a conversation, edits and paging, the config


def test_codegen_types_every_shipped_document_and_they_compile(installed: Path) -> None:
    generated = run(str(NPM), "run", "--silent", "codegen")
    assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-3000:]
    operations = (installed / "generated" / "operations.ts").read_text()
    for name in (
        "SendLivechatMessageMutation",
        "UpdateLivechatMessageMutation",
        "DeleteLivechatMessageMutation",
        "LivechatMessageQuery",
        "LivechatMessagesQuery",
        "LivechatRoomEventsSubscription",
        "MarkdownNodeFragment",
    ):
        assert f"export type {name}" in operations
    checked = run(str(NPM), "run", "--silent", "typecheck")
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]


def test_codegen_reads_the_schema_from_the_running_server(
    installed: Path, server: str, tmp_path: Path
) -> None:
    """Codegen pointed at the URL introspects, as `schema: http://.../graphql` configs do."""
    config = tmp_path / "codegen.yml"
    config.write_text(
        f"schema: {server}/graphql\n"
        f"documents: {ROOT / 'queries'}/**/*.graphql\n"
        "config: { scalars: { DateTime: string, JSON: unknown }, enumsAsTypes: true }\n"
        "generates:\n"
        f"  {tmp_path / 'schema.ts'}: {{ plugins: [typescript] }}\n"
    )
    generated = run(str(NPM), "exec", "--", "graphql-codegen", "--config", str(config))
    assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-3000:]
    assert "sendLivechatMessage" in (tmp_path / "schema.ts").read_text()


GRAPHQL_JS_INTROSPECTION = """
import { getIntrospectionQuery, buildClientSchema, printSchema } from 'graphql';
const query = getIntrospectionQuery({
  descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true,
  schemaDescription: true, inputValueDeprecation: true,
});
const answer = await fetch(process.env.SERVER_URL + '/graphql', {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }),
});
const body = await answer.json();
if (body.errors) throw new Error(JSON.stringify(body.errors));
console.log(printSchema(buildClientSchema(body.data)));
"""


def test_graphql_js_introspection_query_builds_the_schema(installed: Path, server: str) -> None:
    """What GraphiQL, Apollo's tools, Postman and Insomnia send: graphql-js's own query."""
    done = run(
        "node", "--input-type=module", "-e", GRAPHQL_JS_INTROSPECTION,
        env={**os.environ, "SERVER_URL": server},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sendLivechatMessage(input: SendLivechatMessageInput!): SendLivechatMessageResult!" in (
        done.stdout
    )
