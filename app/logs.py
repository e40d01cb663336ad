"""Logs a person can read in a terminal and a machine can read elsewhere, secrets redacted.

One readable line per event on a terminal (`make run`); JSON lines when stderr is not a terminal
or with LOG_FORMAT=json, for log collectors. Each line carries the id of the request it belongs
to, the same id that goes to the upstream as X-Request-Id and into a masked error's requestId.

Visitor tokens and auth headers travel in query strings (Rocket.Chat's GET routes), request
bodies and GraphQL documents, and any of those can end up in a log line (an access log, an
echoed upstream body, a GraphQL error that quotes its document). The redaction runs on every
record of every logger, so no code path has to remember it.

A line per request costs the event loop its redaction and formatting at every request: the
access log keeps every failed request (status 400 and up) and one success in `access_every`,
and decides before uvicorn's call makes a record of the line (`SampledAccessLogger`). Nothing
at WARNING or above is sampled.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from uvicorn.logging import TRACE_LOG_LEVEL

from app.backends.forwarding import request_id

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


class RequestId(logging.Filter):
    """Stamps each record with the id of the request being served (None outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["requestId"] = rid
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`22:07:09 INFO  app.main: message [request 3f2a...]`, then the traceback if any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [request {rid}]" if rid else line


class SampleAccess(logging.Filter):
    """Lets through every access line of a failed request and one success in `every`.

    uvicorn's access record carries (client, method, path, HTTP version, status) as its args."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every = max(1, every)
        self._seen = itertools.count()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, SAMPLED, False):
            return True  # sampled already, by `SampledAccessLogger`
        args = record.args
        return self.keeps(args if isinstance(args, tuple) else (), record.levelno)

    def keeps(self, args: tuple[object, ...], level: int) -> bool:
        status = args[-1] if args else None
        if not isinstance(status, int) or status >= 400 or level > logging.INFO:
            return True
        return next(self._seen) % self.every == 0


SAMPLED = "access_sampled"


class SampledAccessLogger(logging.Logger):
    """uvicorn's access logger (the class of `uvicorn.access` once `configure` ran): its
    `info` asks the logger's `SampleAccess` first, so that the 99 successes in 100 it drops
    cost no log record (making one was most of the access log's cost, a visible share of a
    request's CPU). Records that reach the logger otherwise (`handle`) go through the same
    sampling as the logger's filter."""

    sampling: SampleAccess

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(logging.INFO) and self.sampling.keeps(args, logging.INFO):
            kwargs["extra"] = {**kwargs.get("extra", {}), SAMPLED: True}
            kwargs.setdefault("stacklevel", 2)  # the caller is uvicorn's, not this method
            self._log(logging.INFO, msg, args, **kwargs)


LogFormat = Literal["auto", "text", "json"]


def handler(log_format: LogFormat = "auto") -> logging.Handler:
    """A stderr handler that stamps the request id, redacts, and writes text or JSON lines."""
    stream = logging.StreamHandler()
    stream.addFilter(RequestId())
    stream.addFilter(RedactSecrets())
    text = log_format == "text" or (log_format == "auto" and sys.stderr.isatty())
    stream.setFormatter(TextFormatter() if text else JsonFormatter())
    return stream


def configure(
    level: str = "INFO", log_format: LogFormat = "auto", *, access_every: int = 100
) -> None:
    """Route every logger (uvicorn's included) through one handler. httpx logs each request
    at INFO, which would be a line per upstream call: it speaks only from WARNING up. The
    access log is sampled (`SampleAccess`)."""
    root = logging.getLogger()
    root.handlers[:] = [handler(log_format)]
    # TRACE is uvicorn's level below DEBUG: its lines per connection made and lost.
    root.setLevel(TRACE_LOG_LEVEL if level == "TRACE" else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "strawberry"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    sampling = SampleAccess(access_every)
    access.filters[:] = [sampling]
    access.__class__ = SampledAccessLogger  # it exists already once uvicorn is imported
    assert isinstance(access, SampledAccessLogger)
    access.sampling = sampling
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
