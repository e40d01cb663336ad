"""How long a 429 makes us wait, and that the wait the server asked for is the one taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from app.backends.base import RateLimited
from app.backends.upstream.retry import IDEMPOTENT, RetryBudget, Retrying, retry_after

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def too_many(**headers: str) -> httpx.Response:
    return httpx.Response(429, headers=headers)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0.25"}, 0.25),
        ({"Retry-After": format_datetime(NOW + timedelta(seconds=4), usegmt=True)}, 4.0),
        ({"Retry-After": "Wed, 25 Nov 2026 12:00:02 GMT"}, 2.0),
        ({"Retry-After": format_datetime(NOW - timedelta(seconds=30), usegmt=True)}, 0.0),
        ({"X-RateLimit-Reset": str(int((NOW.timestamp() + 1.5) * 1000))}, 1.5),
        ({"Retry-After": "soon"}, 1.0),
        ({}, 1.0),
    ],
    ids=["seconds", "fraction", "http-date", "http-date-literal", "date-past", "rc-reset",
         "garbage", "none"],
)  # fmt: skip
def test_retry_after_reads_seconds_http_dates_and_rocket_chat_s_reset(
    headers: dict[str, str], seconds: float
) -> None:
    assert retry_after(too_many(**headers), now=NOW.timestamp) == pytest.approx(seconds)


async def test_an_http_date_retry_after_is_waited_out_not_taken_as_one_second() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    later = datetime.now(UTC) + timedelta(seconds=3)
    answers = [
        too_many(**{"Retry-After": format_datetime(later, usegmt=True)}),
        httpx.Response(200),
    ]

    async def call() -> httpx.Response:
        return answers.pop(0)

    retrying = Retrying(RetryBudget(retry_after_cap=5), sleep)
    response = await retrying.run(call, IDEMPOTENT, method="POST", path="/x")
    assert response.status_code == 200
    [wait] = waits
    assert 1.5 < wait <= 3.0  # the date's own second, less the time spent getting here
    assert retrying.retries == 1


async def test_a_retry_after_date_beyond_the_cap_answers_rate_limited_at_once() -> None:
    later = datetime.now(UTC) + timedelta(minutes=10)

    async def call() -> httpx.Response:
        return too_many(**{"Retry-After": format_datetime(later, usegmt=True)})

    with pytest.raises(RateLimited) as refused:
        await Retrying(RetryBudget()).run(call, IDEMPOTENT, method="POST", path="/x")
    assert 590 < refused.value.retry_after <= 600
