"""Prometheus metrics: their definitions, and the hooks the rest of the service calls.

Every label value comes from a closed set (the schema's root fields, the error codes the app
hands its `Metrics`, Rocket.Chat's route templates, HTTP status codes), never from a request:
tokens, room and message ids and free text would give every visitor a series of their own.

One `Metrics` per app, on its own registry, so that two apps in one process (tests put a
facade in front of an in-process "Rocket.Chat") count apart. With several workers
(`serve --workers N`, app/cli.py) the supervisor gives them one private PROMETHEUS_MULTIPROC_DIR:
prometheus_client then keeps every value in a file of its process there, and a scrape of any
worker reads all the files, so it reports the whole server (prometheus_client's multiprocess
mode: gauges say how they combine, `Enum` is not supported). The app's middleware makes it the
current one for each request, and the lifespan for everything the backend starts, so a hook
needs no argument to find it:

    observe_store_commit(seconds, group_size)   after each store commit (a group of sends)
    subscription_opened() / subscription_closed()   or `with tracking_subscription():`
    count_upstream_retry(method, path, reason)   before each retry of an upstream call
    note_livechat_error(code)   when a LivechatFailure becomes GraphQL data

Upstream attempts (route, status, latency) are counted by the transport in `transport.py`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import re
from bisect import bisect_left
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from app.observability.workers import MULTIPROCESS_DIR

NAMESPACE = "livechat_graphql"


# Rocket.Chat's livechat routes as templates; any other path is counted as "other".
UPSTREAM_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), template)
    for pattern, template in [
        (r"/api/v1/livechat/visitor", "/api/v1/livechat/visitor"),
        (r"/api/v1/livechat/room", "/api/v1/livechat/room"),
        (r"/api/v1/livechat/room\.close", "/api/v1/livechat/room.close"),
        (r"/api/v1/livechat/message", "/api/v1/livechat/message"),
        (r"/api/v1/livechat/message/[^/]+", "/api/v1/livechat/message/{_id}"),
        (r"/api/v1/livechat/messages\.history/[^/]+", "/api/v1/livechat/messages.history/{rid}"),
    ]
)
UPSTREAM_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH"})

# Group sizes are counts of sends committed together: powers of two up to a large batch.
GROUP_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# How far behind what this worker served another worker's scrape may be (see `Tally`).
SHARED_LAG_SECONDS = 1.0
# Commits and upstream calls are faster than a whole operation: finer low buckets.
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@functools.lru_cache(maxsize=1024)
def upstream_route(method: str, path: str) -> str:
    """`GET /api/v1/livechat/message/{_id}` for `GET /api/v1/livechat/message/abc?token=x`."""
    path = path.split("?", 1)[0]
    verb = method.upper() if method.upper() in UPSTREAM_METHODS else "OTHER"
    for pattern, template in UPSTREAM_ROUTES:
        if pattern.fullmatch(path):
            return f"{verb} {template}"
    return f"{verb} other"


class Tally:
    """A labelled counter and the histogram that times it, added up in plain numbers until the
    next `flush`. Operations and upstream attempts are counted on every request, and
    prometheus_client takes a lock and four calls for each `inc` or `observe` (in multiprocess
    mode, a write to its file too).

    Flushing writes the sums into the histogram's values (`_sum`, `_buckets`), since its
    public `observe` takes one value at a time; a test checks that the exposition reads exactly
    as with `observe` called for each value. Single-threaded by design: every caller runs on
    the event loop, as the scrape and the flush do."""

    __slots__ = ("bounds", "buckets", "count", "counted", "timed", "total")

    def __init__(self, counted: Counter, timed: Histogram) -> None:
        self.counted = counted
        self.timed = timed
        self.bounds: tuple[float, ...] = tuple(timed._upper_bounds)  # +Inf last
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * len(self.bounds)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        # The first bucket whose bound is at least `seconds`, as `Histogram.observe` picks.
        self.buckets[bisect_left(self.bounds, seconds)] += 1

    def flush(self) -> None:
        if not self.count:
            return
        count, total, buckets = self.count, self.total, self.buckets
        self.count, self.total, self.buckets = 0, 0.0, [0] * len(buckets)
        self.counted.inc(count)
        self.timed._sum.inc(total)
        for value, added in zip(self.timed._buckets, buckets, strict=True):
            if added:
                value.inc(added)


class Metrics:
    """The service's metric families, on one registry. `error_codes` are the codes an answer
    can carry (the app's one vocabulary, `app.graphql.errors.ERROR_CODES`): a code outside them
    is counted as OTHER rather than trusted as a label."""

    def __init__(
        self, error_codes: Collection[str], registry: CollectorRegistry | None = None
    ) -> None:
        self.error_codes = frozenset(error_codes)
        # `_created` series double every family for a timestamp nobody graphs.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.operations = Counter(
            "operations",
            "GraphQL operations by root field(s), outcome (success, livechat_error, error) and"
            " code (the LivechatError code, or the top-level error's extensions.code).",
            ["operation", "outcome", "code"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.operation_duration = Histogram(
            "operation_duration_seconds",
            "Time to answer a GraphQL operation, parse to result, by root field(s).",
            ["operation"],
            namespace=NAMESPACE,
            registry=r,
        )
        # Each operation's counter and histogram series, by (operation, outcome, code), and
        # each upstream attempt's, by (route, status): all from closed sets.
        self._operation_tallies: dict[tuple[str, ...], Tally] = {}
        self._upstream_tallies: dict[tuple[str, ...], Tally] = {}
        self.upstream_requests = Counter(
            "upstream_requests",
            "Attempts sent to the upstream Rocket.Chat by route template and HTTP status"
            " (or the transport failure: connect_error, timeout, reset).",
            ["route", "status"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.upstream_duration = Histogram(
            "upstream_request_duration_seconds",
            "Time of one attempt to the upstream Rocket.Chat, by route template.",
            ["route"],
            namespace=NAMESPACE,
            registry=r,
            buckets=FAST_BUCKETS,
        )
        self.upstream_retries = Counter(
            "upstream_retries",
            "Retries of upstream calls by route template and what caused them.",
            ["route", "reason"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.subscriptions_open = Gauge(
            "subscriptions_open",
            "Subscriptions currently open.",
            namespace=NAMESPACE,
            registry=r,
            multiprocess_mode="livesum",  # the live workers' together
        )
        self.store_commit_duration = Histogram(
            "store_commit_duration_seconds",
            "Time of one commit of the in-process store (fsync included).",
            namespace=NAMESPACE,
            registry=r,
            buckets=FAST_BUCKETS,
        )
        self.store_commit_group_size = Histogram(
            "store_commit_group_size",
            "Writes committed together in one store commit.",
            namespace=NAMESPACE,
            registry=r,
            buckets=GROUP_SIZE_BUCKETS,
        )
        # A registry of its own for the files: families registered beside the collector would
        # be counted twice, once from this process's memory and once from its file.
        self._scraped = r
        directory = os.environ.get(MULTIPROCESS_DIR)
        if directory:
            self._scraped = CollectorRegistry()
            multiprocess.MultiProcessCollector(self._scraped, directory)  # type: ignore[no-untyped-call]

    def count_operation(self, operation: str, outcome: str, code: str, seconds: float) -> None:
        """One operation: counted by root field(s), outcome and code, and timed."""
        self._tally(
            self._operation_tallies,
            self.operations,
            self.operation_duration,
            (operation, outcome, code),
        ).add(seconds)

    def count_upstream_attempt(self, route: str, status: str, seconds: float) -> None:
        """One attempt to Rocket.Chat: counted by route template and status, and timed."""
        self._tally(
            self._upstream_tallies, self.upstream_requests, self.upstream_duration, (route, status)
        ).add(seconds)

    @staticmethod
    def _tally(
        kept: dict[tuple[str, ...], Tally],
        counter: Counter,
        duration: Histogram,
        labels: tuple[str, ...],
    ) -> Tally:
        """The tally counted under `labels` and timed under the first of them, made once."""
        tally = kept.get(labels)
        if tally is None:
            tally = kept[labels] = Tally(counter.labels(*labels), duration.labels(labels[0]))
        return tally

    def flush(self) -> None:
        """Move what the tallies added up into prometheus_client's values."""
        for tallies in (self._operation_tallies, self._upstream_tallies):
            for tally in tallies.values():
                tally.flush()

    @property
    def shared(self) -> bool:
        """Whether other workers' scrapes read these values (from this process's files)."""
        return self._scraped is not self.registry

    async def flush_every(self, seconds: float = SHARED_LAG_SECONDS) -> None:
        """Flush until cancelled: with several workers, a scrape answered by another worker
        reads this one's files, so they may lag what it served by up to `seconds`."""
        while True:
            await asyncio.sleep(seconds)
            self.flush()

    def error_code(self, code: object) -> str:
        """The label for an error's code: the code itself if it is one of ours, else OTHER."""
        return code if isinstance(code, str) and code in self.error_codes else "OTHER"

    def exposition(self) -> tuple[bytes, str]:
        """The text format Prometheus scrapes, and its content type: this app's registry, or
        with several workers every worker's files."""
        self.flush()
        return generate_latest(self._scraped), CONTENT_TYPE_LATEST

    @contextmanager
    def active(self) -> Iterator[Metrics]:
        """Make these the metrics the hooks record to, for the current context."""
        token = CURRENT.set(self)
        try:
            yield self
        finally:
            CURRENT.reset(token)

    def activate(self) -> None:
        """Like `active`, for a context that ends with its task (the app's lifespan)."""
        CURRENT.set(self)


CURRENT: contextvars.ContextVar[Metrics | None] = contextvars.ContextVar(
    "livechat_graphql_metrics", default=None
)


def current() -> Metrics | None:
    return CURRENT.get()


# ---- hooks: each is a no-op when no metrics are active ----


def observe_store_commit(seconds: float, group_size: int) -> None:
    metrics = CURRENT.get()
    if metrics is not None:
        metrics.store_commit_duration.observe(seconds)
        metrics.store_commit_group_size.observe(group_size)


def subscription_opened() -> None:
    metrics = CURRENT.get()
    if metrics is not None:
        metrics.subscriptions_open.inc()


def subscription_closed() -> None:
    metrics = CURRENT.get()
    if metrics is not None:
        metrics.subscriptions_open.dec()


@contextmanager
def tracking_subscription() -> Iterator[None]:
    """Counts a subscription as open for the duration of the block, however it ends."""
    metrics = CURRENT.get()
    if metrics is None:
        yield
        return
    metrics.subscriptions_open.inc()
    try:
        yield
    finally:
        metrics.subscriptions_open.dec()


def count_upstream_retry(method: str, path: str, reason: str) -> None:
    metrics = CURRENT.get()
    if metrics is not None:
        metrics.upstream_retries.labels(upstream_route(method, path), reason).inc()


def observe_upstream_attempt(method: str, path: str, status: str, seconds: float) -> None:
    metrics = CURRENT.get()
    if metrics is not None:
        metrics.count_upstream_attempt(upstream_route(method, path), status, seconds)


@dataclass
class OperationOutcome:
    """What one GraphQL operation's resolvers reported, read when the operation ends."""

    livechat_errors: list[str] = field(default_factory=list)


_outcome: contextvars.ContextVar[OperationOutcome | None] = contextvars.ContextVar(
    "livechat_graphql_operation_outcome", default=None
)


def begin_operation() -> OperationOutcome:
    outcome = OperationOutcome()
    _outcome.set(outcome)
    return outcome


def note_livechat_error(code: str) -> None:
    outcome = _outcome.get()
    if outcome is not None:
        outcome.livechat_errors.append(code)
