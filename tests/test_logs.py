"""Logging off the request path: what is sampled, what never is, and that lines still arrive."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from app import logs


def access(status: int) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/graphql", "1.1", status), None,
    )  # fmt: skip


def test_the_access_log_keeps_every_failure_and_one_success_in_n() -> None:
    sample = logs.SampleAccess(every=10)
    kept_successes = sum(sample.filter(access(200)) for _ in range(1000))
    assert kept_successes == 100
    assert all(sample.filter(access(status)) for status in (400, 413, 500, 503) for _ in range(50))


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    written = io.StringIO()
    logs.configure("INFO", access_every=1000, output=written)
    yield written
    logs._stop_listener()
    logging.getLogger().handlers[:] = []


def test_lines_are_written_redacted_from_the_listener_thread(output: io.StringIO) -> None:
    logging.getLogger("app.test").error("upstream said %s", '{"token": "SeCrEt-1"}')
    for status in (200, 200, 500):
        logging.getLogger("uvicorn.access").handle(access(status))
    logging.getLogger("httpx").info("HTTP Request: POST http://upstream/x 200")
    logs._stop_listener()  # flushes the queue, as at exit
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    messages = [line["message"] for line in lines]
    assert messages[0] == 'upstream said {"token": "[REDACTED]"}'
    assert lines[0]["level"] == "error"
    # The first success is the one in a thousand kept; the failure is always kept.
    assert [message[-3:] for message in messages[1:]] == ["200", "500"]
    assert not any("HTTP Request" in message for message in messages)
