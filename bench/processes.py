"""Servers for the benchmarks, each a real process on a loopback port.

`livechat-graphql serve` in either mode, and the fixed-answer upstream; each is started, waited
for (until it answers), and stopped when its `with` block ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_answering(process: subprocess.Popen[bytes], url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.02)


@contextmanager
def running(
    command: list[str], health_path: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run `command` (which must take `--port`) and yield its base URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ, "LIVECHAT_GRAPHQL_LOG_LEVEL": "WARNING", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(process, base_url + health_path)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def livechat_graphql(*arguments: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`livechat-graphql serve ARGUMENTS...`"""
    command = [sys.executable, "-m", "app.cli", "serve", *arguments]
    return running(command, "/healthz", env)


def fixed_upstream() -> Iterator[str]:
    """The raw ASGI app in bench/fixed_upstream.py, answering Rocket.Chat's example bodies."""
    return running([sys.executable, str(BENCH / "fixed_upstream.py")], "/api/info")
