"""`serve --workers 2 --metrics`: a scrape of either worker reports the whole server's counts
(prometheus_client's multiprocess mode), and the directory of metric files the workers share is
gone once the server has stopped; a worker that exits stops counting in the live gauges but not
in the totals; and one worker keeps its metrics in memory, whatever the environment says."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from app.graphql.errors import ERROR_CODES
from app.observability.metrics import SHARED_LAG_SECONDS, Metrics
from app.observability.workers import MULTIPROCESS_DIR, shared_by_workers
from tests.helpers import RocketChatServer, operation
from tests.running import ServerProcess, listening_on, worker_serving, workers_of
from tests.test_metrics import Samples, samples, value

CONNECTIONS = 16
SENDS = 2  # per connection, after its visitor and room


def served_by(server: ServerProcess, workers: list[int], response: httpx.Response) -> int:
    _, client_port = response.extensions["network_stream"].get_extra_info("client_addr")
    return worker_serving(workers, server.port, client_port)


def visit(http: httpx.Client, token: str) -> None:
    """A visitor's operations on one connection: register, open a room, send to it."""

    def call(name: str, variables: dict[str, object]) -> dict[str, object]:
        answer: dict[str, object] = http.post(
            "/graphql", json={"query": operation(name), "variables": variables}
        ).json()
        assert "errors" not in answer, answer
        return answer

    call("registerLivechatVisitor", {"input": {"token": token}})
    room = call("openLivechatRoom", {"input": {"token": token}})
    rid = room["data"]["openLivechatRoom"]["room"]["id"]  # type: ignore[index]
    for index in range(SENDS):
        call("sendLivechatMessage", {"input": {"token": token, "rid": rid, "msg": f"m{index}"}})


def two_metered_workers(rocketchat: RocketChatServer, tmp_path: Path) -> tuple[ServerProcess, Path]:
    """A server of two workers with metrics, in front of `rocketchat`, not yet started, and
    the TMPDIR it makes its directory of metric files in."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    server = ServerProcess(
        tmp_path / "unused.db",
        "--backend", "upstream", "--upstream-url", rocketchat.url, "--workers", "2", "--metrics",
        environment={"TMPDIR": str(temporary), "LIVECHAT_GRAPHQL_SHUTDOWN_DRAIN": "0"},
    )  # fmt: skip
    return server, temporary


def test_any_worker_s_scrape_counts_every_worker_s_operations(
    rocketchat: RocketChatServer, tmp_path: Path
) -> None:
    server, temporary = two_metered_workers(rocketchat, tmp_path)
    server.start()
    try:
        assert server.process is not None
        deadline = time.monotonic() + 120
        while listening_on(server.port) < 2:  # both workers serving, not only the first
            assert time.monotonic() < deadline, "the second worker did not come up"
            time.sleep(0.1)
        workers = workers_of(server.process.pid)
        assert len(workers) == 2
        (shared,) = temporary.iterdir()

        visits: Counter[int] = Counter()  # visitors served, by worker
        for index in range(CONNECTIONS):
            with httpx.Client(base_url=server.url, timeout=30) as http:
                visit(http, f"visitor-{index}")
                visits[served_by(server, workers, http.get("/healthz"))] += 1
        assert set(visits) == set(workers), visits  # 16 connections, both workers
        # Each worker writes what it counted to its files at least this often.
        time.sleep(2 * SHARED_LAG_SECONDS)

        scraped: Counter[int] = Counter()  # scrapes answered, by worker
        while min(scraped[pid] for pid in workers) < 2:
            assert sum(scraped.values()) < 100, scraped
            with httpx.Client(base_url=server.url) as http:
                response = http.get("/metrics")
                assert response.status_code == 200
                scraped[served_by(server, workers, response)] += 1
                assert_counts_all(samples(response.text))
        assert server.terminate(timeout=60) == 0
    finally:
        server.stop()
    assert not shared.exists()
    assert list(temporary.iterdir()) == []


def test_a_worker_killed_takes_the_server_down_and_its_metric_files_with_it(
    rocketchat: RocketChatServer, tmp_path: Path
) -> None:
    server, temporary = two_metered_workers(rocketchat, tmp_path)
    server.start()
    try:
        assert server.process is not None
        assert len(list(temporary.iterdir())) == 1
        deadline = time.monotonic() + 120
        while len(workers_of(server.process.pid)) < 2:
            assert time.monotonic() < deadline, "the second worker did not start"
            time.sleep(0.1)
        os.kill(workers_of(server.process.pid)[0], signal.SIGKILL)  # as the OOM killer would
        server.process.wait(timeout=60)
    finally:
        server.stop()
    assert list(temporary.iterdir()) == []


def assert_counts_all(found: Samples) -> None:
    total = "livechat_graphql_operations_total"
    for name, count in [
        ("registerLivechatVisitor", CONNECTIONS),
        ("openLivechatRoom", CONNECTIONS),
        ("sendLivechatMessage", CONNECTIONS * SENDS),
    ]:
        assert value(found, total, operation=name, outcome="success", code="") == count, name
        duration = "livechat_graphql_operation_duration_seconds_count"
        assert value(found, duration, operation=name) == count, name
    requests = "livechat_graphql_upstream_requests_total"
    sends = value(found, requests, route="POST /api/v1/livechat/message", status="200")
    assert sends == CONNECTIONS * SENDS


# A worker's share: one subscription open (a live gauge), one operation (a total).
WORKER = """
from app.graphql.errors import ERROR_CODES
from app.observability import metrics as hooks

metrics = hooks.Metrics(ERROR_CODES)
with metrics.active():
    hooks.subscription_opened()
metrics.operations.labels("sendLivechatMessage", "success", "").inc()
"""


def test_a_worker_that_exits_leaves_the_live_gauges_and_the_totals() -> None:
    with shared_by_workers(True) as exited:
        directory = Path(os.environ[MULTIPROCESS_DIR])
        assert directory.stat().st_mode & 0o777 == 0o700 and list(directory.iterdir()) == []
        pids = []
        for _ in range(2):
            worker = subprocess.Popen([sys.executable, "-c", WORKER])
            assert worker.wait(timeout=60) == 0
            pids.append(worker.pid)
        scraper = Metrics(ERROR_CODES)  # what any worker serves at /metrics
        both = samples(scraper.exposition()[0].decode())
        exited(pids[0])
        one = samples(scraper.exposition()[0].decode())
    assert not directory.exists() and MULTIPROCESS_DIR not in os.environ

    assert value(both, "livechat_graphql_subscriptions_open") == 2
    assert value(one, "livechat_graphql_subscriptions_open") == 1
    for found in (both, one):  # what the exited worker served stays served
        assert value(found, "livechat_graphql_operations_total", operation="sendLivechatMessage",
                     outcome="success", code="") == 2  # fmt: skip


def test_one_worker_counts_in_memory_whatever_the_environment_says(
    rocketchat: RocketChatServer, tmp_path: Path
) -> None:
    stale = tmp_path / "stale"  # another run's files, in a directory someone exported
    stale.mkdir()
    environment = {**os.environ, MULTIPROCESS_DIR: str(stale)}
    subprocess.run([sys.executable, "-c", WORKER], env=environment, check=True)
    left = sorted(stale.iterdir())
    server = ServerProcess(
        tmp_path / "unused.db",
        "--backend", "upstream", "--upstream-url", rocketchat.url, "--workers", "1", "--metrics",
        environment={MULTIPROCESS_DIR: str(stale)},
    )  # fmt: skip
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            visit(http, "visitor")
            found = samples(http.get("/metrics").text)
    finally:
        server.stop()
    total = "livechat_graphql_operations_total"
    assert value(found, total, operation="sendLivechatMessage", outcome="success", code="") == SENDS
    assert value(found, "livechat_graphql_subscriptions_open") == 0
    assert sorted(stale.iterdir()) == left
