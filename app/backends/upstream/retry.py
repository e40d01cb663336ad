"""Which upstream calls are tried again, when, and how often.

Only what is safe is retried: a policy per kind of operation says which faults allow another
attempt (a refused connection always does, since nothing was sent; a timeout or a reset only
for operations that are idempotent). Waits are capped exponential backoff with full jitter,
or the server's own `Retry-After` after a 429, and one deadline bounds the whole operation.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from app.backends.base import RateLimited, UpstreamError, UpstreamTimeout
from app.backends.upstream.transport import TRANSPORT_ERRORS, Reached, transport_fault
from app.observability import metrics
from app.settings import Settings

_DEFAULTS = Settings.model_fields

log = logging.getLogger("app.upstream")

RETRYABLE_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """What may be retried for one kind of operation."""

    connect: bool = True
    timeouts: bool = False
    resets: bool = False
    statuses: bool = False

    def allows(self, reached: Reached) -> bool:
        if reached is Reached.CONNECT:
            return self.connect
        if reached is Reached.TIMEOUT:
            return self.timeouts
        if reached is Reached.RESET:
            return self.resets
        return False


IDEMPOTENT = RetryPolicy(connect=True, timeouts=True, resets=True, statuses=True)
CONNECT_ONLY = RetryPolicy()


@dataclass(frozen=True)
class RetryBudget:
    """How much retrying one operation may spend: attempts, waits and a total deadline (the
    defaults are the settings' own)."""

    max_attempts: int = _DEFAULTS["upstream_max_attempts"].default
    backoff_base: float = _DEFAULTS["upstream_backoff_base"].default
    backoff_cap: float = _DEFAULTS["upstream_backoff_cap"].default
    retry_after_cap: float = _DEFAULTS["upstream_retry_after_cap"].default
    total_timeout: float = _DEFAULTS["upstream_total_timeout"].default


def retry_after(response: httpx.Response, now: Callable[[], float] = time.time) -> float:
    """Seconds to wait from `Retry-After` (seconds or an HTTP-date), else Rocket.Chat's
    `X-RateLimit-Reset` (ms since the epoch), else one second."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - now())
    reset = response.headers.get("x-ratelimit-reset")
    if reset and reset.isdigit():
        return max(0.0, int(reset) / 1000 - now())
    return 1.0


Sleep = Callable[[float], Awaitable[None]]


def full_jitter(attempt: int, base: float, cap: float) -> float:
    """Seconds before retry number `attempt + 1`: exponential, capped, with full jitter (so that
    clients cut off together do not come back together)."""
    return random.uniform(0, min(cap, base * 2**attempt))


class Retrying:
    """Runs one call under a policy and a budget; counts the retries it made."""

    def __init__(self, budget: RetryBudget, sleep: Sleep = asyncio.sleep) -> None:
        self.budget = budget
        self._sleep = sleep
        self.retries = 0

    def backoff(self, attempt: int) -> float:
        return full_jitter(attempt, self.budget.backoff_base, self.budget.backoff_cap)

    async def run(
        self,
        call: Callable[[], Awaitable[httpx.Response]],
        policy: RetryPolicy,
        *,
        method: str,
        path: str,
        retried: list[int] | None = None,
    ) -> httpx.Response:
        """`call` (one attempt at `method path`) until it answers, within the deadline; the
        last answer or failure."""
        try:
            async with asyncio.timeout(self.budget.total_timeout):
                return await self._attempts(call, policy, method, path, retried)
        except TimeoutError:
            raise UpstreamTimeout("the upstream server did not answer in time") from None

    async def _attempts(
        self,
        call: Callable[[], Awaitable[httpx.Response]],
        policy: RetryPolicy,
        method: str,
        path: str,
        retried: list[int] | None,
    ) -> httpx.Response:
        budget = self.budget
        reason = ""
        # Whether an attempt so far may have been carried out by the server: then the caller
        # is told (`retried`), so that a refusal of the retry can be read as "done before".
        # Neither a refused connection nor a 429 (Rocket.Chat limits before the handler) was.
        carried_out = False
        for attempt in range(budget.max_attempts):
            last = attempt == budget.max_attempts - 1
            if attempt:
                self.retries += 1
                metrics.count_upstream_retry(method, path, reason)
                if retried is not None and carried_out:
                    retried.append(attempt)
            try:
                response = await call()
            except TRANSPORT_ERRORS as error:
                fault = transport_fault(error)
                log.info("upstream %s on %s %s", type(error).__name__, method, path)
                if last or not policy.allows(fault.reached):
                    raise fault.failure from None
                reason = fault.kind
                carried_out = carried_out or fault.reached is not Reached.CONNECT
                await self._sleep(self.backoff(attempt))
                continue
            status = response.status_code
            if status == 429:
                wait = retry_after(response)
                if last or not policy.statuses or wait > budget.retry_after_cap:
                    raise RateLimited("the upstream server is rate limiting", wait)
                log.info("upstream 429, waiting %.2fs", wait)
                reason = "429"
                await self._sleep(wait)
                continue
            if status in RETRYABLE_STATUSES and policy.statuses and not last:
                log.info("upstream %s, retrying", status)
                reason = str(status)
                carried_out = True  # a proxy may answer so after the server took it
                await self._sleep(self.backoff(attempt))
                continue
            if status >= 500:
                log.warning("upstream answered %s", status)
                raise UpstreamError(f"the upstream server failed ({status})")
            return response
        raise UpstreamError("no attempt left")  # pragma: no cover - the loop always returns
