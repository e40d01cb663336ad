"""The Node.js facades measured beside ours, each installed from its lockfile on first use.

- GraphQL Mesh (bench/mesh/): `@omnigraph/openapi` over the seed's OpenAPI, served by Hive
  Gateway; its own generated schema, so it gets its own documents (`mesh_body`).
- GraphQL Yoga (bench/yoga/): a hand-written facade serving our schema (schema/schema.graphql),
  graphql-jit where a document compiles, undici to the upstream; it answers our documents.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import operations
import processes

BENCH = Path(__file__).resolve().parent
MESH = BENCH / "mesh"
YOGA = BENCH / "yoga"
SCHEMA = BENCH.parent / "schema" / "schema.graphql"

MESH_FIELDS = "_id rid msg token alias ts _updatedAt u { _id username name } urls mentions channels"
MESH_DOCUMENT = """
mutation Send($i: post_api_v1_livechat_message_request_Input) {
  post_api_v1_livechat_message(input: $i) {
    ... on post_api_v1_livechat_message_200_response { message { %s } }
  }
}
"""
MESH_SUCCESS = '"_id":"djsajdkscks787"'


def npm_ci(folder: Path, marker: str) -> None:
    """`npm ci` in `folder` unless `marker` (a path under it) is already installed."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(f"{folder.name} needs Node.js and npm")
    if not (folder / marker).exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder, check=True)


def mesh_body(workload: str) -> dict[str, Any]:
    """Mesh's own document for a workload: its generated names, and two md levels for `full`
    (the deepest it follows)."""
    fields = MESH_FIELDS + (" md { type value { type value } }" if workload == "full" else "")
    variables = {"token": "bench", "rid": operations.FIXED_UPSTREAM_ROOM, "msg": operations.MESSAGE}
    return {"query": MESH_DOCUMENT % fields, "variables": {"i": variables}}


@contextmanager
def mesh(upstream: str, forks: int, scratch: Path) -> Iterator[processes.Server]:
    """Hive Gateway serving Mesh's supergraph composed against `upstream`."""
    npm_ci(MESH, "node_modules/.bin/hive-gateway")
    supergraph = scratch / f"supergraph-{forks}.graphql"
    env = {**os.environ, "MESH_UPSTREAM": upstream}
    subprocess.run(
        [str(MESH / "node_modules" / ".bin" / "mesh-compose"), "-o", str(supergraph)],
        cwd=MESH, env=env, check=True, capture_output=True,
    )  # fmt: skip
    gateway = str(MESH / "node_modules" / ".bin" / "hive-gateway")
    command = [gateway, "supergraph", str(supergraph), "--fork", str(forks)]
    with processes.running(command, "/healthcheck", env={"MESH_UPSTREAM": upstream}) as server:
        yield server


@contextmanager
def yoga(upstream: str, forks: int) -> Iterator[processes.Server]:
    """The hand-written Yoga facade (bench/yoga/server.mjs) in front of `upstream`."""
    npm_ci(YOGA, "node_modules/.package-lock.json")
    node = shutil.which("node")
    if node is None:
        raise SystemExit("yoga needs Node.js")
    command = [node, str(YOGA / "server.mjs"), "--schema", str(SCHEMA), "--upstream", upstream,
               "--forks", str(forks)]  # fmt: skip
    with processes.running(command, "/health", cwd=YOGA) as server:
        yield server
