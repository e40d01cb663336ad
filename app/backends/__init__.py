"""Backends: one Protocol (`base.LivechatBackend`), two implementations picked by settings.

This is the one place that reads `Settings` for a backend: the implementations take plain
constructor arguments (and tests pass their seams, a clock or an id generator, the same way).
Imports are lazy so that each implementation's dependencies stay off the other's path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.backends.ids import Clock, IdGenerator, random_id, utc_now

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from app.backends.base import LivechatBackend
    from app.backends.inprocess.service import InProcessBackend
    from app.backends.upstream.client import UpstreamBackend
    from app.settings import Settings


async def make_backend(settings: Settings) -> LivechatBackend:
    """The backend the settings name (in-process: behind Rocket.Chat's rate limiter when
    `settings.rate_limit` asks for it)."""
    if settings.backend == "upstream":
        return upstream_backend(settings)
    backend = await inprocess_backend(settings)
    if settings.rate_limit == "rocketchat":
        from app.backends.inprocess.limits import RateLimitedBackend, RocketChatLimiter

        return RateLimitedBackend(backend, RocketChatLimiter())
    return backend


async def inprocess_backend(
    settings: Settings, *, clock: Clock = utc_now, new_id: IdGenerator = random_id
) -> InProcessBackend:
    """Rocket.Chat's rules on the SQLite file `settings.database` (created if missing)."""
    from app.backends.inprocess.agents import AgentAccount, AgentPolicy
    from app.backends.inprocess.files import FileStore
    from app.backends.inprocess.service import InProcessBackend
    from app.backends.inprocess.store import SqliteStore
    from app.backends.inprocess.widget_config import WidgetOptions

    accounts = [
        AgentAccount(
            username=agent.username,
            password=agent.password,
            name=agent.name,
            email=agent.email,
            departments=frozenset(agent.departments),
            status=agent.status,
        )
        for agent in settings.agents
    ]
    if settings.demo_agent == "echo":
        from app.backends.inprocess.demo import demo_account

        # In every configured department, so that a visitor who picks one is answered too.
        accounts.append(demo_account(department.id for department in settings.departments))
    store = await SqliteStore.open(settings.database)
    files = FileStore(
        settings.upload_directory(),
        enabled=settings.file_upload_enabled,
        limit=settings.upload_limit(),
        allowed=settings.file_upload_media_types,
        blocked=settings.file_upload_blocked_media_types,
    )
    files.sweep(await store.upload_ids())
    backend = InProcessBackend(
        store,
        files=files,
        markdown_options=settings.markdown_options(),
        character_limit=settings.message_character_limit,
        clock=clock,
        new_id=new_id,
        widget=WidgetOptions.from_settings(settings),
        smtp_url=settings.smtp_url,
        mail_from=settings.mail_from,
        agents=accounts,
        agent_policy=AgentPolicy(
            accept_chats_with_no_agents=settings.accept_chats_with_no_agents,
            show_agent_info=settings.show_agent_info,
            show_agent_email=settings.show_agent_email,
        ),
    )
    if settings.demo_agent == "echo":
        from app.backends.inprocess.demo import DEMO_ACCOUNT, EchoAgent

        backend.on_close(EchoAgent(backend.agents, DEMO_ACCOUNT).start().aclose)
    return backend


def upstream_backend(
    settings: Settings,
    *,
    new_id: IdGenerator = random_id,
    tracer_provider: TracerProvider | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> UpstreamBackend:
    """Rocket.Chat at `settings.upstream_url`, over one pooled client observed for metrics and
    (when OTEL_* turn them on) traces. `monotonic` times the answers it keeps (tests step it)."""
    from opentelemetry import trace

    from app.backends.upstream.client import UpstreamBackend
    from app.backends.upstream.ddp import DdpTiming
    from app.backends.upstream.observed import observed
    from app.backends.upstream.retry import RetryBudget
    from app.backends.upstream.transport import ClientTimeouts, make_client

    if not settings.upstream_url:
        raise ValueError("the upstream backend needs --upstream-url")
    if tracer_provider is None and settings.tracing_exporter() is not None:
        tracer_provider = trace.get_tracer_provider()
    client = make_client(
        settings.upstream_url,
        max_connections=settings.upstream_max_connections,
        timeouts=ClientTimeouts(
            connect=settings.upstream_connect_timeout, read=settings.upstream_read_timeout
        ),
        wrap=lambda inner: observed(inner, tracer_provider),
    )
    return UpstreamBackend(
        client,
        budget=RetryBudget(
            max_attempts=settings.upstream_max_attempts,
            backoff_base=settings.upstream_backoff_base,
            backoff_cap=settings.upstream_backoff_cap,
            retry_after_cap=settings.upstream_retry_after_cap,
            total_timeout=settings.upstream_total_timeout,
        ),
        forward_headers=tuple(settings.forward_headers),
        markdown_options=settings.markdown_options(),
        new_id=new_id,
        realtime_url=settings.upstream_realtime_url,
        ddp_timing=DdpTiming(
            ping_after=settings.upstream_ddp_ping_after,
            drop_after=settings.upstream_ddp_drop_after,
            backoff_base=settings.upstream_ddp_backoff_base,
            backoff_cap=settings.upstream_ddp_backoff_cap,
            connect_timeout=settings.upstream_connect_timeout,
        ),
        clock=monotonic,
    )
