"""Structured JSON logs, one object per line, with secrets redacted before anything is written.

Visitor tokens and auth headers travel in query strings (Rocket.Chat's GET routes), request
bodies and GraphQL documents, and any of those can end up in a log line (an access log, an
echoed upstream body, a GraphQL error that quotes its document). The redaction runs on every
record of every logger, so no code path has to remember it.

Logging stays off the request path: records are handed to a queue and redacted, formatted and
written by a thread of their own (`logging.handlers.QueueListener`), so the event loop never
waits on a regex or a full pipe. The access log keeps every failed request (status 400 and up)
and one success in `access_every`; the HTTP client's line per call is not written (the retry
engine logs every fault and retry itself). Nothing at WARNING or above is sampled.
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import logging.handlers
import queue
import re
from datetime import UTC, datetime
from typing import TextIO

REDACTED = "[REDACTED]"
SECRET_NAMES = r"(?:token|visitor[-_]?token|x-auth-token|x-user-id|authorization|password|cookie)"
PATTERNS = [
    # query strings and form bodies: token=abc
    re.compile(rf"(?i)(\b{SECRET_NAMES}=)[^&\s\"']+"),
    # JSON: "token": "abc"
    re.compile(rf"(?i)(\"{SECRET_NAMES}\"\s*:\s*\")(?:[^\"\\]|\\.)*"),
    # GraphQL arguments: token: "abc"
    re.compile(rf"(?i)(\b{SECRET_NAMES}\s*:\s*\")(?:[^\"\\]|\\.)*"),
    # header dumps: X-Auth-Token: abc / ('x-auth-token', 'abc')
    re.compile(rf"(?i)(\b{SECRET_NAMES}\s*:\s*)(?!\")[^\s,;]+"),
    re.compile(rf"(?i)(['\"]{SECRET_NAMES}['\"]\s*,\s*['\"])[^'\"]*"),
]


def redact(text: str) -> str:
    for pattern in PATTERNS:
        text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites each record's message (arguments merged in) with secrets replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def handler(output: TextIO | None = None) -> logging.Handler:
    """A handler (to stderr unless told) that redacts and writes JSON lines."""
    stream = logging.StreamHandler(output)
    stream.addFilter(RedactSecrets())
    stream.setFormatter(JsonFormatter())
    return stream


class SampleAccess(logging.Filter):
    """Lets through every access line of a failed request and one success in `every`.

    uvicorn's access record carries (client, method, path, HTTP version, status) as its args."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every = max(1, every)
        self._seen = itertools.count()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        status = args[-1] if isinstance(args, tuple) and args else None
        if not isinstance(status, int) or status >= 400 or record.levelno > logging.INFO:
            return True
        return next(self._seen) % self.every == 0


class _Enqueue(logging.handlers.QueueHandler):
    """Hands the record over as it is: formatting (and redaction) happen on the listener's
    thread, not here (the stdlib's `prepare` would format on the caller's)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


_listener: logging.handlers.QueueListener | None = None


def _stop_listener() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()  # writes whatever is still queued
        _listener = None


def configure(
    level: str = "INFO", *, access_every: int = 100, output: TextIO | None = None
) -> None:
    """Route every logger (uvicorn's included) through one redacting JSON handler, written
    from a thread of its own."""
    global _listener
    _stop_listener()
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, handler(output))
    _listener.start()
    atexit.register(_stop_listener)
    root = logging.getLogger()
    root.handlers[:] = [_Enqueue(records)]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "strawberry"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.filters[:] = [SampleAccess(access_every)]
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
