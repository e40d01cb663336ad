"""Logs a person can read in a terminal, JSON elsewhere, each line with its request's id; the
server says where to go when it starts."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import logs, request_scope
from tests.servers import free_port


@contextmanager
def configured(log_format: logs.LogFormat) -> Iterator[io.StringIO]:
    """Route the root logger through `logs.configure`, writing into a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    logs.configure("INFO", log_format)
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved_handlers, saved_level


def test_text_lines_carry_the_request_id_and_no_secret() -> None:
    with configured("text") as written:
        request_scope.begin({"headers": [(b"x-request-id", b"req-42")]}, frozenset())
        logging.getLogger("app.test").warning("visitor token=%s refused", "s3cret")
    line = written.getvalue().strip()
    assert line.endswith("WARNING app.test: visitor token=[REDACTED] refused [request req-42]")
    assert "s3cret" not in line


def test_json_lines_carry_the_request_id() -> None:
    with configured("json") as written:
        request_scope.begin({"headers": [(b"x-request-id", b"req-43")]}, frozenset())
        logging.getLogger("app.test").error("boom")
    entry = json.loads(written.getvalue())
    assert entry["requestId"] == "req-43"
    assert entry["level"] == "error" and entry["message"] == "boom"


def test_auto_is_json_when_stderr_is_not_a_terminal() -> None:
    with configured("auto") as written:
        logging.getLogger("app.test").info("hello")
    assert json.loads(written.getvalue())["message"] == "hello"


def test_httpx_speaks_only_from_warning_up() -> None:
    with configured("json") as written:
        logging.getLogger("httpx").info('HTTP Request: POST http://upstream "HTTP/1.1 200 OK"')
        logging.getLogger("httpx").warning("something odd")
    lines = written.getvalue().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["something odd"]


def access(status: int) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/graphql", "1.1", status), None,
    )  # fmt: skip


def test_the_access_log_keeps_every_failure_and_one_success_in_n() -> None:
    sample = logs.SampleAccess(every=10)
    assert sum(sample.filter(access(200)) for _ in range(1000)) == 100
    assert all(sample.filter(access(status)) for status in (400, 413, 500, 503) for _ in range(50))


def test_configured_access_lines_are_sampled_and_failures_all_written() -> None:
    with configured("json") as written:
        for status in (200, 200, 200, 500, 200, 503):
            logging.getLogger("uvicorn.access").handle(access(status))
    statuses = [json.loads(line)["message"][-3:] for line in written.getvalue().splitlines()]
    assert statuses == ["200", "500", "503"]  # the first success of a hundred, every failure


def test_uvicorns_access_calls_are_sampled_before_a_record_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[logging.LogRecord] = []
    access_log = logging.getLogger("uvicorn.access")
    level = access_log.level  # a uvicorn started by another test may have set one
    access_log.setLevel(logging.NOTSET)
    try:
        with configured("json") as written:
            assert isinstance(access_log, logs.SampledAccessLogger)
            make_record = access_log.makeRecord

            def counted(*args: Any, **kwargs: Any) -> logging.LogRecord:
                made.append(make_record(*args, **kwargs))
                return made[-1]

            monkeypatch.setattr(access_log, "makeRecord", counted)
            for status in (200, 200, 200, 500, 200, 503, 404):
                access_log.info(
                    '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", "/graphql", "1.1", status
                )
    finally:
        access_log.setLevel(level)
    statuses = [json.loads(line)["message"][-3:] for line in written.getvalue().splitlines()]
    assert statuses == ["200", "500", "503", "404"]
    assert len(made) == 4  # the dropped successes made no record
    assert all(record.pathname == __file__ for record in made)  # the caller, not the logger


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_startup_line_says_where_to_go(tmp_path: Path, log_format: str) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--database", "chat.db"],
        cwd=tmp_path,
        env={**os.environ, "LIVECHAT_GRAPHQL_LOG_FORMAT": log_format},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    wanted = f"GraphiQL: http://127.0.0.1:{port}/graphql (in-process, SQLite at ./chat.db)"
    lines = stderr.splitlines()
    if log_format == "json":
        assert wanted in [json.loads(line)["message"] for line in lines]
    else:
        assert any(line.endswith(f"INFO  app.main: {wanted}") for line in lines), stderr
