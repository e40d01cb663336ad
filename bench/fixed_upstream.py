"""A stand-in Rocket.Chat that answers every livechat call with a fixed body, at once.

    python bench/fixed_upstream.py --port 3000

A raw ASGI app (no framework), so that in the facade benchmark the upstream is never the
bottleneck: what is measured is our cost. The send answer is the seed's success example with
the walk-through message in it (`msg` and its `md`), so the facade converts a realistic tree.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import uvicorn

from app.markdown import parse

ROOT = Path(__file__).resolve().parent.parent
MESSAGE = "Hello **world** :smile: see https://rocket.chat"


def _send_answer() -> bytes:
    example = json.loads((ROOT / "tests/fixtures/rocketchat/send-message-success.json").read_text())
    example["message"].update(msg=MESSAGE, md=parse(MESSAGE), urls=[{"url": "https://rocket.chat"}])
    return json.dumps(example).encode()


_SEND = _send_answer()
_VISITOR = json.dumps({
    "visitor": {"_id": "6523dc0ba2f73c7460e18d4d", "token": "bench", "username": "guest-35",
                "name": "Baek", "status": "online"},
    "success": True,
}).encode()  # fmt: skip
_ROOM = json.dumps({
    "room": {"_id": "hGFwSKA28nRKut3pD", "open": True, "v": {"token": "bench"}},
    "newRoom": False,
    "success": True,
}).encode()  # fmt: skip
_INFO = b'{"version": "6.0.0", "success": true}'
_NOT_FOUND = b'{"success": false, "error": "Not found"}'
ANSWERS = {
    ("POST", "/api/v1/livechat/message"): _SEND,
    ("POST", "/api/v1/livechat/visitor"): _VISITOR,
    ("GET", "/api/v1/livechat/room"): _ROOM,
    ("GET", "/api/info"): _INFO,
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more_body = True
    while more_body:
        message = await receive()
        more_body = message.get("more_body", False)
    body = ANSWERS.get((scope["method"], scope["path"]))
    await send({
        "type": "http.response.start",
        "status": 200 if body else 404,
        "headers": [(b"content-type", b"application/json")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body or _NOT_FOUND})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3000)
    arguments = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=arguments.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
