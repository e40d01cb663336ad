"""`GET /metrics`: off by default, then what an operator reads after real traffic, over a real
socket; and label values that stay few however many visitors come."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import hypothesis
import pytest
from graphql import parse
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import Histogram
from prometheus_client.parser import text_string_to_metric_families

from app.backends.base import LivechatBackend
from app.backends.upstream.client import UpstreamBackend
from app.backends.upstream.observed import MeteredTransport
from app.backends.upstream.retry import RetryBudget
from app.graphql.documents import kept
from app.graphql.errors import ERROR_CODES
from app.graphql.lean import LeanStats
from app.graphql.observers import root_fields
from app.graphql.schema import make_schema
from app.main import LivechatApp, create_app, request_limits
from app.observability import metrics as hooks
from app.observability.metrics import FAST_BUCKETS, Metrics
from app.settings import Settings
from tests.faults import FaultyTransport
from tests.helpers import RocketChatServer, operation
from tests.servers import free_port, serving

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


@pytest.fixture(params=["front door", "fastapi"])
def metered(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A metered app; its operations answered by the front door (what is served), or all by
    FastAPI and Strawberry's view: both count alike."""
    settings = Settings(database=tmp_path / "metered.db", metrics=True)
    app = create_app(settings)
    assert isinstance(app, LivechatApp)
    if request.param == "fastapi":
        app.front = None
    answered = LeanStats.answered
    with serving(app) as url:
        yield url
    assert (LeanStats.answered > answered) == (request.param == "front door")


async def post(
    http: httpx.AsyncClient, name: str, variables: dict[str, object]
) -> dict[str, object]:
    response = await http.post("/graphql", json={"query": operation(name), "variables": variables})
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def test_metrics_are_off_unless_enabled(tmp_path: Path) -> None:
    with serving(create_app(Settings(database=tmp_path / "plain.db"))) as url:
        assert httpx.get(f"{url}/metrics").status_code == 404


async def test_operations_are_counted_by_root_field_and_outcome(metered: str) -> None:
    async with httpx.AsyncClient(base_url=metered) as http:
        await post(http, "registerLivechatVisitor", {"input": {"token": "secret-tok"}})
        room = await post(http, "openLivechatRoom", {"input": {"token": "secret-tok"}})
        rid = room["data"]["openLivechatRoom"]["room"]["id"]  # type: ignore[index]
        for _ in range(3):
            await post(
                http,
                "sendLivechatMessage",
                {"input": {"token": "secret-tok", "rid": rid, "msg": "hi"}},
            )
        await post(
            http, "sendLivechatMessage", {"input": {"token": "nobody", "rid": rid, "msg": "x"}}
        )
        await http.post("/graphql", json={"query": "mutation { sendLivechatMessage("})
        await http.post("/graphql", json={"query": "{ noSuchField }"})
    found = scrape(metered)
    total = "livechat_graphql_operations_total"
    assert value(found, total, operation="sendLivechatMessage", outcome="success", code="") == 3
    assert value(found, total, operation="registerLivechatVisitor", outcome="success", code="") == 1
    assert (
        value(
            found,
            total,
            operation="sendLivechatMessage",
            outcome="livechat_error",
            code="INVALID_TOKEN",
        )
        == 1
    )
    assert (
        value(found, total, operation="invalid", outcome="error", code="GRAPHQL_PARSE_FAILED") == 1
    )
    assert (
        value(found, total, operation="invalid", outcome="error", code="GRAPHQL_VALIDATION_FAILED")
        == 1
    )
    count = "livechat_graphql_operation_duration_seconds_count"
    assert value(found, count, operation="sendLivechatMessage") == 4
    assert value(found, "livechat_graphql_operation_duration_seconds_bucket",
                 operation="sendLivechatMessage", le="+Inf") == 4  # fmt: skip


@pytest.mark.parametrize("metered", ["front door"], indirect=True)
async def test_a_thousand_visitors_and_rooms_add_no_series(metered: str) -> None:
    async def visit(http: httpx.AsyncClient, index: int) -> None:
        token = f"token-{index}-{index * 7919}"
        await post(http, "registerLivechatVisitor", {"input": {"token": token}})
        room = await post(http, "openLivechatRoom", {"input": {"token": token}})
        rid = room["data"]["openLivechatRoom"]["room"]["id"]  # type: ignore[index]
        await post(
            http, "sendLivechatMessage", {"input": {"token": token, "rid": rid, "msg": f"m{index}"}}
        )
        await post(
            http,
            "sendLivechatMessage",
            {"input": {"token": token, "rid": f"no-room-{index}", "msg": "x"}},
        )

    async def visitors(first: int, count: int) -> None:
        async with httpx.AsyncClient(base_url=metered, timeout=30) as http:
            for start in range(first, first + count, 8):
                await asyncio.gather(
                    *(visit(http, i) for i in range(start, min(start + 8, first + count)))
                )

    await visitors(0, 10)
    before = scrape(metered)
    await visitors(10, 1000)
    text = httpx.get(f"{metered}/metrics").text
    after = samples(text)
    assert set(after) == set(before), set(after) ^ set(before)
    total = "livechat_graphql_operations_total"
    assert value(after, total, operation="sendLivechatMessage", outcome="success", code="") == 1010
    assert (
        value(
            after,
            total,
            operation="sendLivechatMessage",
            outcome="livechat_error",
            code="INVALID_ROOM",
        )
        == 1010
    )
    assert "token-" not in text and "no-room-" not in text


def call(http: httpx.Client, name: str, variables: dict[str, object]) -> dict[str, object]:
    body: dict[str, object] = http.post(
        "/graphql", json={"query": operation(name), "variables": variables}
    ).json()
    return body


def test_upstream_calls_are_counted_by_route_and_status(
    rocketchat: RocketChatServer, tmp_path: Path
) -> None:
    settings = Settings(
        backend="upstream", upstream_url=rocketchat.url, database=tmp_path / "x.db", metrics=True
    )
    with serving(create_app(settings)) as url, httpx.Client(base_url=url) as http:
        call(http, "registerLivechatVisitor", {"input": {"token": "tok"}})
        room = call(http, "openLivechatRoom", {"input": {"token": "tok"}})
        rid = room["data"]["openLivechatRoom"]["room"]["id"]  # type: ignore[index]
        for _ in range(2):
            call(http, "sendLivechatMessage", {"input": {"token": "tok", "rid": rid, "msg": "hi"}})
        call(http, "livechatMessages", {"token": "tok", "rid": rid})
        found = scrape(url)
    requests = "livechat_graphql_upstream_requests_total"
    assert value(found, requests, route="POST /api/v1/livechat/message", status="200") == 2
    assert value(found, requests, route="POST /api/v1/livechat/visitor", status="200") == 1
    assert (
        value(found, requests, route="GET /api/v1/livechat/messages.history/{rid}", status="200")
        == 1
    )
    assert value(found, "livechat_graphql_upstream_request_duration_seconds_count",
                 route="POST /api/v1/livechat/message") == 2  # fmt: skip


def test_retries_and_refusals_are_counted_with_their_cause(
    rocketchat: RocketChatServer, tmp_path: Path
) -> None:
    faults = iter(["503", "refuse"])

    def plan(request: httpx.Request) -> str | None:
        return next(faults, None) if request.url.path == "/api/v1/livechat/visitor" else None

    async def factory(_: Settings) -> LivechatBackend:
        transport = MeteredTransport(FaultyTransport(plan))
        client = httpx.AsyncClient(base_url=rocketchat.url, transport=transport, timeout=5)
        return UpstreamBackend(client, budget=RetryBudget(backoff_base=0.001, backoff_cap=0.01))

    settings = Settings(
        backend="upstream", upstream_url=rocketchat.url, database=tmp_path / "x.db", metrics=True
    )
    with serving(create_app(settings, backend_factory=factory)) as url:
        answer = httpx.post(f"{url}/graphql", json={"query": operation("registerLivechatVisitor"),
                            "variables": {"input": {"token": "tok"}}}).json()  # fmt: skip
        assert answer["data"]["registerLivechatVisitor"]["visitor"]["token"] == "tok"
        found = scrape(url)
    route = "POST /api/v1/livechat/visitor"
    requests = "livechat_graphql_upstream_requests_total"
    assert value(found, requests, route=route, status="503") == 1
    assert value(found, requests, route=route, status="connect_error") == 1
    assert value(found, requests, route=route, status="200") == 1
    retries = "livechat_graphql_upstream_retries_total"
    assert value(found, retries, route=route, reason="503") == 1
    assert value(found, retries, route=route, reason="connect_error") == 1


def test_an_unreachable_upstream_is_an_error_outcome(tmp_path: Path) -> None:
    settings = Settings(
        backend="upstream",
        upstream_url=f"http://127.0.0.1:{free_port()}",
        database=tmp_path / "x.db",
        metrics=True,
        upstream_max_attempts=2,
        upstream_backoff_base=0.001,
    )
    with serving(create_app(settings)) as url:
        httpx.post(f"{url}/graphql", json={"query": operation("registerLivechatVisitor"),
                   "variables": {"input": {"token": "tok"}}})  # fmt: skip
        found = scrape(url)
    assert value(found, "livechat_graphql_operations_total", operation="registerLivechatVisitor",
                 outcome="error", code="UPSTREAM_UNAVAILABLE") == 1  # fmt: skip
    assert value(found, "livechat_graphql_upstream_requests_total",
                 route="POST /api/v1/livechat/visitor", status="connect_error") == 2  # fmt: skip


def test_the_hooks_other_parts_call_record_to_the_current_metrics() -> None:
    metrics = Metrics(ERROR_CODES)
    hooks.observe_store_commit(0.002, 3)  # nothing current: a no-op
    with metrics.active():
        hooks.observe_store_commit(0.002, 3)
        hooks.observe_store_commit(0.004, 1)
        with hooks.tracking_subscription():
            hooks.subscription_opened()
            inside = samples(metrics.exposition()[0].decode())
            hooks.subscription_closed()
    found = samples(metrics.exposition()[0].decode())
    assert value(inside, "livechat_graphql_subscriptions_open") == 2
    assert value(found, "livechat_graphql_subscriptions_open") == 0
    assert value(found, "livechat_graphql_store_commit_duration_seconds_count") == 2
    assert value(found, "livechat_graphql_store_commit_group_size_sum") == 4
    assert value(found, "livechat_graphql_store_commit_group_size_bucket", le="2.0") == 1


def test_metrics_take_as_many_workers_as_without(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert Settings(backend="upstream", upstream_url="http://x", metrics=True).worker_count() == 4
    two = Settings(backend="upstream", upstream_url="http://x", metrics=True, workers=2)
    assert two.worker_count() == 2


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_error_code_is_counted_under_its_own_name(code: str) -> None:
    metrics = Metrics(ERROR_CODES)
    metrics.operations.labels("sendLivechatMessage", "error", metrics.error_code(code)).inc()
    found = samples(metrics.exposition()[0].decode())
    labels = {"operation": "sendLivechatMessage", "outcome": "error"}
    assert value(found, "livechat_graphql_operations_total", **labels, code=code) == 1


def test_a_code_from_elsewhere_is_counted_as_other() -> None:
    """A label is never taken from a request: an unknown code does not make a series."""
    assert Metrics(ERROR_CODES).error_code("SOMETHING_A_CLIENT_SENT") == "OTHER"
    assert Metrics(ERROR_CODES).error_code(None) == "OTHER"


def test_an_operation_s_label_is_kept_with_its_document_per_operation_name() -> None:
    schema = make_schema(request_limits(Settings()))
    document = parse(
        "query A { livechatConfig { __typename } } "
        'mutation B { sendLivechatMessage(input: {token: "t", rid: "r", msg: "m"}) '
        "{ __typename } nothing: __typename }"
    )
    assert root_fields(document, "A", schema) == "livechatConfig"
    assert root_fields(document, "B", schema) == "__typename+sendLivechatMessage"
    assert root_fields(document, "C", schema) == "invalid"
    labels = [value for key, value in kept(document).memo.items() if key[0] == "root fields"]
    assert sorted(labels) == ["__typename+sendLivechatMessage", "invalid", "livechatConfig"]
    assert root_fields(document, "A", schema) == "livechatConfig"  # from the memo


DURATIONS = st.lists(
    st.one_of(
        st.floats(min_value=0, max_value=20, allow_nan=False),
        st.sampled_from([*FAST_BUCKETS, *Histogram.DEFAULT_BUCKETS[:-1]]),  # on a bound
    ),
    max_size=40,
)


@hypothesis.settings(max_examples=200, deadline=None)
@given(operations=DURATIONS, attempts=DURATIONS, flush_after=st.integers(min_value=0, max_value=40))
def test_counts_added_up_between_flushes_read_as_counting_each(
    operations: list[float], attempts: list[float], flush_after: int
) -> None:
    """The tallies (flushed midway and at the scrape) give the exposition prometheus_client's
    own `inc` and `observe`, called for each operation and attempt, would."""
    tallied, observed = Metrics(ERROR_CODES), Metrics(ERROR_CODES)
    for index, seconds in enumerate(operations):
        tallied.count_operation("sendLivechatMessage", "success", "", seconds)
        observed.operations.labels("sendLivechatMessage", "success", "").inc()
        observed.operation_duration.labels("sendLivechatMessage").observe(seconds)
        if index == flush_after:
            tallied.flush()
    for seconds in attempts:
        tallied.count_upstream_attempt("POST /api/v1/livechat/message", "200", seconds)
        observed.upstream_requests.labels("POST /api/v1/livechat/message", "200").inc()
        observed.upstream_duration.labels("POST /api/v1/livechat/message").observe(seconds)
    expected = samples(observed.exposition()[0].decode())
    found = samples(tallied.exposition()[0].decode())
    assert found.keys() == expected.keys()
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    assert samples(tallied.exposition()[0].decode()) == found  # a second scrape adds nothing
