"""What the benchmarks send: the shipped send operation (queries/) and its REST twin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "queries"
MESSAGE = "Hello **world** :smile: see https://rocket.chat"


# The operation as a client ships it: the mutation with every fragment it spreads, the markdown
# fragment included, so the whole md tree is selected and converted.
def send_document(root: Path = ROOT) -> str:
    """The send operation with every fragment file, from the checkout at `root`."""
    queries = root / "queries"
    return (queries / "sendLivechatMessage.graphql").read_text() + "\n".join(
        path.read_text() for path in sorted((queries / "fragments").glob("*.graphql"))
    )


SEND_DOCUMENT = send_document()
GRAPHQL_SUCCESS = "SendLivechatMessageSuccess"
REST_SUCCESS = '"rid"'
# bench/fixed_upstream.py answers every send alike: any token and room will do.
FIXED_UPSTREAM_ROOM = "hGFwSKA28nRKut3pD"


def graphql_send(token: str, rid: str, document: str = SEND_DOCUMENT) -> dict[str, Any]:
    return {
        "query": document,
        "variables": {"input": {"token": token, "rid": rid, "msg": MESSAGE}},
    }


def rest_send(token: str, rid: str) -> dict[str, Any]:
    return {"token": token, "rid": rid, "msg": MESSAGE}


def open_room(rocketchat_url: str, token: str) -> str:
    """Register a visitor and open their room through Rocket.Chat's REST routes."""
    with httpx.Client(base_url=rocketchat_url) as client:
        client.post("/api/v1/livechat/visitor", json={"visitor": {"token": token, "name": token}})
        room = client.get("/api/v1/livechat/room", params={"token": token}).json()
    return str(room["room"]["_id"])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
