"""Rate limits: how many visitors' sends a Rocket.Chat with its default limits lets through.

    python bench/rate_limits.py [--visitors 30] [--sends 8] [--facade-source CHECKOUT]

A Rocket.Chat that limits as Rocket.Chat does by default (our in-process backend with
`RATE_LIMIT=rocketchat`, in this process so that its counters can be read), the facade in
upstream mode in front of it (`livechat-graphql serve`, from --facade-source if given, e.g. an
older checkout), and --visitors visitors, each connecting from a loopback address of its own,
registering, opening a room and sending --sends messages, all within one limiter window. Prints
one line per visitor (sent, refused) and the addresses Rocket.Chat counted the sends under.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import processes
import uvicorn

from app.backends.inprocess.limits import API, RocketChatLimiter
from app.main import create_app
from app.settings import Settings

SEND = """mutation($input: SendLivechatMessageInput!) { sendLivechatMessage(input: $input) {
  __typename } }"""
REGISTER = """mutation($input: RegisterLivechatVisitorInput!) {
  registerLivechatVisitor(input: $input) { __typename } }"""
OPEN = """mutation($input: OpenLivechatRoomInput!) { openLivechatRoom(input: $input) {
  __typename ... on OpenLivechatRoomSuccess { room { id } } } }"""


@contextmanager
def limiting_rocketchat(directory: Path) -> Iterator[tuple[str, Any]]:
    """Our Rocket.Chat that limits like one, served from a thread; yields its URL and app."""
    app = create_app(Settings(database=directory / "rocketchat.db", rate_limit="rocketchat"))
    port = processes.free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def visitor(url: str, number: int, sends: int) -> tuple[int, int]:
    """One visitor from 127.0.0.<number + 2>: (sent, refused)."""
    token = f"bench-visitor-{number}"
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{number + 2}")
    async with httpx.AsyncClient(transport=transport, base_url=url, timeout=30) as client:

        async def post(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            answer = await client.post("/graphql", json={"query": query, "variables": variables})
            body: dict[str, Any] = answer.json()
            return body

        await post(REGISTER, {"input": {"token": token}})
        opened = await post(OPEN, {"input": {"token": token}})
        room = (opened.get("data") or {}).get("openLivechatRoom") or {}
        if "room" not in room:  # refused: none of its sends can be made
            return 0, sends
        variables = {"input": {"token": token, "rid": room["room"]["id"], "msg": "hi"}}
        answers = [await post(SEND, variables) for _ in range(sends)]
    sent = sum(1 for answer in answers if "errors" not in answer)
    return sent, sends - sent


async def visitors(url: str, count: int, sends: int) -> list[tuple[int, int]]:
    return await asyncio.gather(*(visitor(url, number, sends) for number in range(count)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--sends", type=int, default=8)
    parser.add_argument("--facade-source", type=Path, help="run the facade from this checkout")
    arguments = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as directory,
        limiting_rocketchat(Path(directory)) as (upstream, rocketchat),
        processes.livechat_graphql(
            "--backend",
            "upstream",
            "--upstream-url",
            upstream,
            "--workers",
            "1",
            source=arguments.facade_source,
        ) as facade,
    ):
        started = time.monotonic()
        results = asyncio.run(visitors(facade.url, arguments.visitors, arguments.sends))
        elapsed = time.monotonic() - started
        limiter: RocketChatLimiter = rocketchat.state.backend.inner.rate_limiter
        seen = limiter.addresses("POST", f"{API}/message")
    print(f"{arguments.visitors} visitors x {arguments.sends} sends in {elapsed:.1f} s")
    print("| visitor | address | sent | refused |")
    print("|---|---|---|---|")
    for number, (sent, refused) in enumerate(results):
        print(f"| {number} | 127.0.0.{number + 2} | {sent} | {refused} |")
    sent = sum(result[0] for result in results)
    refused = sum(result[1] for result in results)
    print(f"total: {sent} sent, {refused} refused")
    print(f"addresses Rocket.Chat counted sends under: {len(seen)}: {dict(sorted(seen.items()))}")


if __name__ == "__main__":
    main()
