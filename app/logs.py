"""Structured JSON logs, one object per line, with secrets redacted before anything is written.

Visitor tokens and auth headers travel in query strings (Rocket.Chat's GET routes), request
bodies and GraphQL documents, and any of those can end up in a log line (an access log, an
echoed upstream body, a GraphQL error that quotes its document). The redaction runs on every
record of every logger, so no code path has to remember it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

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


def handler() -> logging.Handler:
    """A stderr handler that redacts and writes JSON lines."""
    stream = logging.StreamHandler()
    stream.addFilter(RedactSecrets())
    stream.setFormatter(JsonFormatter())
    return stream


def configure(level: str = "INFO") -> None:
    """Route every logger (uvicorn's included) through one redacting JSON handler."""
    root = logging.getLogger()
    root.handlers[:] = [handler()]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "strawberry"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
