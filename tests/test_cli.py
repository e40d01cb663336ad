"""`serve --workers N`: each worker on a socket of its own, connections spread over all of them,
and every worker gone when the server is told to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.main import create_app
from app.settings import Settings
from tests.running import established_on, socket_inodes, workers_of
from tests.servers import free_port, serving


def test_two_workers_share_the_connections_and_stop_with_the_server(tmp_path: Path) -> None:
    rocketchat = create_app(Settings(database=tmp_path / "rocketchat.db"))
    with serving(rocketchat) as upstream:
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2",
             "--backend", "upstream", "--upstream-url", upstream],
            env={**os.environ, "LIVECHAT_GRAPHQL_LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        clients: list[httpx.Client] = []
        workers: list[int] = []
        try:
            deadline = time.monotonic() + 60
            while len(workers_of(server.pid)) < 2 or not answers(port):
                assert time.monotonic() < deadline, "the workers did not come up"
                time.sleep(0.1)
            workers = workers_of(server.pid)
            # Sixteen keep-alive connections, each left open after its request.
            for _ in range(16):
                client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
                assert client.get("/healthz").status_code == 200
                clients.append(client)
            accepted = established_on(port)
            per_worker = [len(socket_inodes(pid) & accepted.keys()) for pid in workers]
            assert sum(per_worker) == 16
            assert min(per_worker) >= 2, per_worker  # one socket shared would leave it to chance
        finally:
            for client in clients:
                client.close()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in status_of(pid), f"worker {pid} left"


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def status_of(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line
    except FileNotFoundError:
        return "gone"
    return ""
