"""Logs a person can read in a terminal and a machine can read elsewhere, secrets redacted.

One readable line per event on a terminal (`make run`); JSON lines when stderr is not a terminal
or with LOG_FORMAT=json, for log collectors. Each line carries the id of the request it belongs
to, the same id that goes to the upstream as X-Request-Id and into a masked error's requestId.

Visitor tokens and auth headers travel in query strings (Rocket.Chat's GET routes), request
bodies, GraphQL documents and variables (over GET, in the query string), headers and WebSocket
messages, and any of those can end up in a log line (an access log, an echoed upstream body or
record, a GraphQL error that quotes its document, websockets' frame log at DEBUG). The
redaction runs on every record of every logger, so no code path has to remember it, and on the
record's arguments before they are formatted: a dict's `token` is replaced whatever its repr's
quoting, a query string is decoded before it is searched, a frame's JSON is read whole before
websockets' log cuts it short.

A line per request costs the event loop its redaction and formatting at every request: the
access log keeps every failed request (status 400 and up) and one success in `access_every`,
and decides before uvicorn's call makes a record of the line (`SampledAccessLogger`). Nothing
at WARNING or above is sampled.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import orjson
from uvicorn.logging import TRACE_LOG_LEVEL
from websockets.frames import Frame, Opcode

from app.request_scope import request_id

REDACTED = "[REDACTED]"
# A field whose name says it holds a secret: `token`, `visitorToken`, `authToken`,
# `X-Auth-Token`, `X-User-Id`, `Authorization`, `password`, `Cookie`, `client_secret`, ...
SECRET_NAMES = r"(?:[\w-]*?(?:token|password|secret|cookie|authorization)|x-user-id)"
SECRET_NAME = re.compile(SECRET_NAMES, re.IGNORECASE)
# Query parameters whose whole value is the client's data: GraphQL variables over GET
# (Apollo's `useGETForHashedQueries`) carry tokens under names no pattern can know (`$t`).
OPAQUE_PARAMETERS = frozenset({"variables"})
PATTERNS = [
    # query strings and form bodies: token=abc
    re.compile(rf"(?i)(\b{SECRET_NAMES}=)[^&\s\"']+"),
    # JSON: "token": "abc"
    re.compile(rf"(?i)(\"{SECRET_NAMES}\"\s*:\s*\")(?:[^\"\\]|\\.)*"),
    # Python reprs: 'token': 'abc'
    re.compile(rf"(?i)('{SECRET_NAMES}'\s*:\s*')(?:[^'\\]|\\.)*"),
    # GraphQL arguments: token: "abc"
    re.compile(rf"(?i)(\b{SECRET_NAMES}\s*:\s*\")(?:[^\"\\]|\\.)*"),
    # header dumps: X-Auth-Token: abc / ('x-auth-token', 'abc')
    re.compile(rf"(?i)(\b{SECRET_NAMES}\s*:\s*)(?![\"'])[^\s,;]+"),
    re.compile(rf"(?i)(['\"]{SECRET_NAMES}['\"]\s*,\s*b?['\"])[^'\"]*"),
    # Rocket.Chat's routes with the visitor token in the path: agent.info/:rid/:token,
    # agent.next/:token, visitor/:token
    re.compile(r"(/livechat/(?:agent\.info/[^/\s?\"']+|agent\.next|visitor)/)[^/\s?\"'#]+"),
]
# A query string in a path or URL, up to where the URL ends in a line of text.
QUERY_STRING = re.compile(r"\?([^\s\"'<>#]+)")
# Deeper than this, a structure in a log record is shown as `[...]`: nothing a log line needs
# is nested further, and a client's deep JSON must not cost a deep walk per record.
MAX_DEPTH = 16


def redact(text: str) -> str:
    """`text` with every secret a pattern recognises replaced; query strings are decoded
    first, so a percent-encoded `%22token%22%3A%22...` is a `"token": "..."` like any other."""
    if "?" in text:
        text = QUERY_STRING.sub(_redact_query, text)
    for pattern in PATTERNS:
        text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text


def _redact_query(match: re.Match[str]) -> str:
    query = match.group(1)
    if "=" not in query:
        return match.group(0)
    pairs = parse_qsl(query, keep_blank_values=True)
    redacted = [(name, REDACTED if _opaque(name) else _redact_text(value)) for name, value in pairs]
    if redacted == pairs:
        return match.group(0)  # nothing secret: the query as the client sent it
    return "?" + urlencode(redacted, safe="[]")


def _opaque(name: str) -> bool:
    return name in OPAQUE_PARAMETERS or SECRET_NAME.fullmatch(name) is not None


def _redact_text(text: str) -> str:
    for pattern in PATTERNS:
        text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text


def redact_value(value: object, depth: int = 0) -> object:
    """A log argument with its secret fields replaced, before `%s`/`%r` formats it: a dict's
    `token` (at any depth, whatever the quoting of its repr), a header pair's value, a
    WebSocket frame's JSON payload (which websockets' DEBUG log would otherwise show cut in
    the middle, where no pattern could find the field's name)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value  # text is redacted in the formatted line, with the rest of it
    if depth >= MAX_DEPTH:
        return "[...]"
    if isinstance(value, Mapping):
        return {
            key: REDACTED
            if isinstance(key, str) and SECRET_NAME.fullmatch(key)
            else redact_value(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and _secret_name(value[0]):
            return (value[0], REDACTED)  # a header: (name, value)
        items = [redact_value(item, depth + 1) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, (bytes, bytearray)):
        return _Redacted(redact(repr(bytes(value))))
    if isinstance(value, Frame):
        return _redact_frame(value, depth)
    return _Redacted(redact(str(value)), redact(repr(value)))


def _secret_name(name: object) -> bool:
    if isinstance(name, (bytes, bytearray)):
        name = bytes(name).decode("latin-1")
    return isinstance(name, str) and SECRET_NAME.fullmatch(name) is not None


def _redact_frame(frame: Frame, depth: int) -> object:
    """A data frame's payload redacted as the JSON it carries (graphql-transport-ws, DDP)."""
    if frame.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
        return frame
    try:
        payload = orjson.loads(frame.data)
    except orjson.JSONDecodeError:
        return dataclasses.replace(
            frame, data=redact(bytes(frame.data).decode("utf-8", "replace")).encode()
        )
    redacted = redact_value(payload, depth + 1)
    return dataclasses.replace(frame, data=orjson.dumps(redacted, default=str))


class _Redacted:
    """What a redacted argument formats as, for `%s` and `%r` alike."""

    __slots__ = ("_repr", "_str")

    def __init__(self, text: str, representation: str | None = None) -> None:
        self._str = text
        self._repr = text if representation is None else representation

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return self._repr


class RedactSecrets(logging.Filter):
    """Redacts each record's arguments field by field (`redact_value`), then the message they
    make (`redact`), then its traceback, before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, Mapping):
            record.args = {key: redact_value(item) for key, item in args.items()}
        elif args:
            record.args = tuple(redact_value(item) for item in args)
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
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
