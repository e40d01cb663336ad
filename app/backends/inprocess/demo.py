"""The demo agent of `DEMO_AGENT=echo`: someone who answers, for trying a widget in development.

The agent `demo` (password `demo`, so a person may also log in as them) is one more in-process
agent, routed to like any other. To each visitor message in a room they serve they show typing,
wait a moment, stop typing and answer with the visitor's text quoted in markdown, through the
same agent actions Rocket.Chat's agent API runs (agents.py), so the visitor's subscriptions see
exactly what a real agent would produce.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from app.backends.base import BackendFailure, LivechatFailure
from app.backends.inprocess.agents import AgentAccount, AgentDesk

log = logging.getLogger("app.demo")

DEMO_ACCOUNT = AgentAccount(
    username="demo", password="demo", name="Demo agent", email="demo@example.com"
)
TYPING_SECONDS = 0.8


def demo_account(departments: Iterable[str] = ()) -> AgentAccount:
    """The demo agent, serving `departments` (all configured ones, for `make run`) as well as
    visitors without a department."""
    return replace(DEMO_ACCOUNT, departments=frozenset(departments))


def echo(text: str) -> str:
    """The answer: the visitor's text as a markdown quote, under a bold heading."""
    quoted = "\n".join(f"> {line}" for line in text.splitlines() or [""])
    return f"**You said:**\n{quoted}"


class EchoAgent:
    """Answers visitor messages in the rooms `account` serves (see the module doc)."""

    def __init__(
        self, desk: AgentDesk, account: AgentAccount, typing_seconds: float = TYPING_SECONDS
    ) -> None:
        self._desk = desk
        self._account = account
        self._typing_seconds = typing_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    def start(self) -> EchoAgent:
        self._desk.store.on_commit(self._heard)
        return self

    def _heard(self, kind: str, record: Any) -> None:
        """A committed message: a visitor's text (it has the visitor's token) is answered."""
        if self._stopped or kind != "message" or not record.get("token") or record.get("t"):
            return
        task = asyncio.get_running_loop().create_task(
            self._answer(str(record["rid"]), str(record.get("msg", "")))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, rid: str, text: str) -> None:
        desk, account = self._desk, self._account
        room = (await desk.store.lookup("", rid)).room
        if room is None or room.agent_id != account.id or not text.strip():
            return
        try:
            await desk.agent_typing(account, rid, account.username, True)
            await asyncio.sleep(self._typing_seconds)
            await desk.agent_typing(account, rid, account.username, False)
            await desk.send(account, rid, echo(text))
        except (LivechatFailure, BackendFailure) as failure:  # closed meanwhile, store full
            log.info("the demo agent could not answer in %s: %s", rid, failure)

    async def aclose(self) -> None:
        self._stopped = True
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
