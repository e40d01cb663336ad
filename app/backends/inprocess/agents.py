"""The in-process agents: who they are, who is logged in and online, and who serves which room.

Rocket.Chat's side of a conversation, so that a widget built on the in-process backend has
someone answering. Agents come from the `AGENTS` setting; they act through Rocket.Chat's own agent
API (agent_rest.py, and `login` and typing over DDP in ddp.py), and everything they do reaches
the visitor's subscriptions as it does from Rocket.Chat:

- Routing (Rocket.Chat's auto-selection): a new room is served by the online agent with the
  fewest open rooms, among those of the visitor's department when the visitor has one (ties go
  to the agent listed first). With none online the room waits in the queue (oldest first), or
  is refused with `no-agent-online` when `ACCEPT_CHATS_WITH_NO_AGENTS` is false. A waiting room
  is served as soon as a fitting agent comes online (`users.setStatus`): `AgentChanged`.
- Waiting rooms hear their place in the queue whenever it changes (`QueuePosition`).
- A status change reaches every open room the agent serves (`AgentStatusChanged`), unless agent
  info is hidden (`Livechat_show_agent_info`), as Rocket.Chat sends it.
- Logins and statuses live in memory: a restart logs every agent out and resets each status to
  the configured one. Rooms remember their agent (SQLite).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from app.backends.base import (
    ActionNotAllowed,
    Agent,
    AgentChanged,
    AgentStatusChanged,
    DeletedMessage,
    EmptyMessage,
    InvalidMessage,
    InvalidParams,
    InvalidRoom,
    Message,
    MessageAuthor,
    NoAgent,
    NoAgentOnline,
    NotAllowed,
    OtherLivechatFailure,
    QueuePosition,
    Room,
    RoomEvent,
    Typing,
)
from app.backends.inprocess.broker import BrokerSubscription
from app.backends.inprocess.store import Lookup, SqliteStore
from app.backends.rocketchat_json import message_from_json, message_to_json

if TYPE_CHECKING:
    from app.backends.inprocess.service import InProcessBackend

STATUSES = ("online", "away", "busy", "offline")


class Unauthorized(Exception):
    """No agent has these credentials (Rocket.Chat answers 401)."""


def agent_id_for(username: str) -> str:
    """An agent's `_id`: stable across restarts (rooms store it), 17 characters as
    Rocket.Chat's ids."""
    return hashlib.sha256(f"agent:{username}".encode()).hexdigest()[:17]


@dataclass(frozen=True, slots=True)
class AgentAccount:
    """One agent as configured."""

    username: str
    password: str
    name: str | None = None
    email: str | None = None
    departments: frozenset[str] = frozenset()
    status: str = "online"

    @property
    def id(self) -> str:
        return agent_id_for(self.username)


@dataclass(frozen=True, slots=True)
class AgentPolicy:
    """Rocket.Chat's livechat settings that decide what agents do and what visitors see."""

    accept_chats_with_no_agents: bool = True
    show_agent_info: bool = True
    show_agent_email: bool = True


DEFAULT_POLICY = AgentPolicy()


class AgentDesk:
    """The agents of one in-process backend and what they do to its rooms."""

    def __init__(
        self,
        service: InProcessBackend,
        accounts: Sequence[AgentAccount] = (),
        policy: AgentPolicy = DEFAULT_POLICY,
    ) -> None:
        self._service = service
        self.policy = policy
        self._accounts = {account.id: account for account in accounts}
        if len(self._accounts) != len(accounts):
            raise ValueError("two agents have the same username")
        self._by_username = {account.username: account for account in accounts}
        self._status = {account.id: account.status for account in accounts}
        self._tokens: dict[str, str] = {}  # auth token -> agent id

    # ---- who ----

    def agent(self, agent_id: str) -> Agent | None:
        """The agent's record as a visitor may see it (emails as the policy allows)."""
        account = self._accounts.get(agent_id)
        if account is None:
            return None
        return Agent(
            id=account.id,
            username=account.username,
            name=account.name,
            status=self._status[account.id],
            emails=(account.email,) if account.email and self.policy.show_agent_email else (),
        )

    @property
    def store(self) -> SqliteStore:
        return self._service.store

    def account(self, agent_id: str) -> AgentAccount | None:
        return self._accounts.get(agent_id)

    def online(self, department: str | None = None) -> bool:
        """Whether an agent is online (in `department`, when given): the config's `online`."""
        return any(self._eligible(department))

    def login(self, user: str, password: str) -> tuple[str, AgentAccount]:
        """POST /api/v1/login: a new auth token for the agent, or Unauthorized."""
        account = self._by_username.get(user)
        if account is None or not secrets.compare_digest(
            account.password.encode(), password.encode()
        ):
            raise Unauthorized
        token = secrets.token_urlsafe(32)
        self._tokens[token] = account.id
        return token, account

    def resume(self, auth_token: str, user_id: str | None = None) -> AgentAccount:
        """The agent an auth token belongs to (`X-Auth-Token` with `X-User-Id`, or DDP's
        `login` with `resume`), or Unauthorized."""
        agent_id = self._tokens.get(auth_token)
        if agent_id is None or (user_id is not None and user_id != agent_id):
            raise Unauthorized
        return self._accounts[agent_id]

    def logout(self, auth_token: str) -> None:
        self._tokens.pop(auth_token, None)

    # ---- routing ----

    def _eligible(self, department: str | None) -> Iterable[AgentAccount]:
        for account in self._accounts.values():
            if self._status[account.id] != "online":
                continue
            if department and department not in account.departments:
                continue
            yield account

    def choose(
        self, department: str | None, loads: Mapping[str, int], requested: str | None = None
    ) -> str | None:
        """The agent for a new room: the requested one when online, else the online agent
        (of the department) with the fewest open rooms; None to wait. Refuses with
        no-agent-online when rooms may not wait."""
        eligible = list(self._eligible(department))
        if requested is not None and any(account.id == requested for account in eligible):
            return requested
        if eligible:
            return min(eligible, key=lambda account: loads.get(account.id, 0)).id
        if not self.policy.accept_chats_with_no_agents:
            raise NoAgentOnline
        return None

    async def serve_queue(self) -> None:
        """Give waiting rooms to the agents online now, oldest room first; then tell the rooms
        still waiting where they stand."""
        store = self._service.store
        loads = dict(await store.agent_loads())
        for room, department in await store.waiting_rooms():
            eligible = list(self._eligible(department))
            if not eligible:
                continue
            chosen = min(eligible, key=lambda account: loads.get(account.id, 0))
            if await store.assign_agent(room.id, chosen.id):
                loads[chosen.id] = loads.get(chosen.id, 0) + 1
                self._publish_agent(room.id, chosen.id)
        await self.announce_queue()

    async def announce_queue(self) -> None:
        """Each waiting room's place in the queue (Rocket.Chat's queueData)."""
        for position, (room, _) in enumerate(await self._service.store.waiting_rooms(), 1):
            self._service.broker.publish(room.id, QueuePosition(rid=room.id, position=position))

    def _publish_agent(self, rid: str, agent_id: str | None) -> None:
        hidden = not self.policy.show_agent_info
        agent = None if hidden or agent_id is None else self.agent(agent_id)
        self._service.broker.publish(rid, AgentChanged(rid=rid, agent=agent, hidden=hidden))

    # ---- the visitor's side ----

    async def agent_info(self, token: str, rid: str) -> tuple[Agent | None, bool]:
        """agent.info: invalid-token → invalid-room (a closed room passes) → invalid-agent →
        the agent, or hidden."""
        room = await self._service.checked_room(token, rid)
        if room.agent_id is None:
            raise NoAgent
        if not self.policy.show_agent_info:
            return None, True
        agent = self.agent(room.agent_id)
        if agent is None:  # served by an agent no longer configured
            raise NoAgent
        return agent, False

    async def visitor_typing(
        self, token: str, rid: str, typing: bool, username: str | None = None
    ) -> None:
        """The visitor's typing, checked as Rocket.Chat's canType does for a token (the room
        is theirs; a closed room is refused, as the room's stream is)."""
        room = await self._service.checked_room(token, rid)
        if not room.open:
            raise InvalidRoom("the room is closed")
        self._service.broker.publish(
            rid,
            Typing(
                rid=rid,
                username=username or room.visitor_username,
                typing=typing,
                by_visitor=True,
            ),
        )

    # ---- the agent's side (Rocket.Chat's agent API) ----

    async def _served(self, account: AgentAccount, rid: str) -> Room:
        """The open room `rid`, which `account` serves; else error-not-allowed, as
        Rocket.Chat refuses a user who is not in the room."""
        room = (await self._service.store.lookup("", rid)).room
        if room is None or not room.open or room.agent_id != account.id:
            raise NotAllowed("Not allowed")
        return room

    def _author(self, account: AgentAccount) -> MessageAuthor:
        return MessageAuthor(id=account.id, username=account.username, name=account.name)

    async def send(self, account: AgentAccount, rid: str, msg: str) -> Message:
        """chat.sendMessage: the room must be open and served by the agent."""
        if not msg:
            raise InvalidParams("The 'msg' param is required")
        room = await self._served(account, rid)
        service = self._service
        service.check_length(msg)
        now = service.now()
        md = await service.markdown(msg, now)

        def decide(found: Lookup) -> dict[str, object]:
            if found.room is None or not found.room.open or found.room.agent_id != account.id:
                raise NotAllowed("Not allowed")
            message = Message(
                id=service.new_id(),
                rid=rid,
                msg=msg,
                ts=now,
                u=self._author(account),
                updated_at=now,
                urls=service.urls(msg),
                md=md,
            )
            return message_to_json(message)

        document, _ = await service.store.add_message(room.visitor_token, rid, None, decide)
        return message_from_json(document)

    async def _own(self, account: AgentAccount, rid: str, message_id: str) -> Message:
        found = await self._service.store.lookup("", rid, message_id)
        if found.message is None or found.message.get("rid") != rid:
            raise InvalidMessage(f'No message found with the id of "{message_id}".')
        message = message_from_json(found.message)
        if message.u.id != account.id:
            raise ActionNotAllowed("the message is not the agent's own")
        return message

    async def update(self, account: AgentAccount, rid: str, message_id: str, text: str) -> Message:
        """chat.update: the agent's own message in a room they serve."""
        await self._served(account, rid)
        message = await self._own(account, rid, message_id)
        if not text.strip():
            raise EmptyMessage
        service = self._service
        service.check_length(text)
        now = service.now()
        edited = replace(
            message,
            msg=text,
            urls=service.urls(text),
            md=await service.markdown(text, now),
            updated_at=now,
            edited_at=now,
            edited_by=MessageAuthor(id=account.id, username=account.username),
        )
        if not await service.store.replace_message(message_to_json(edited)):
            raise InvalidMessage
        return edited

    async def delete(self, account: AgentAccount, rid: str, message_id: str) -> DeletedMessage:
        """chat.delete: the agent's own message in a room they serve."""
        await self._served(account, rid)
        await self._own(account, rid, message_id)
        if not await self._service.store.delete_message(message_id):
            raise InvalidMessage
        return DeletedMessage(id=message_id, ts=self._service.now())

    async def close(self, account: AgentAccount, rid: str, comment: str) -> None:
        """livechat/room.closeByUser: the `livechat-close` message with the agent as `u` and
        the comment as its text."""
        room = (await self._service.store.lookup("", rid)).room
        if room is None:
            raise OtherLivechatFailure("error-invalid-room", "error-invalid-room")
        if not room.open:
            raise OtherLivechatFailure("error-room-already-closed", "error-room-already-closed")
        if room.agent_id != account.id:
            raise NotAllowed("Not allowed")
        service = self._service
        now = service.now()
        close_message = Message(
            id=service.new_id(),
            rid=rid,
            msg=comment,
            ts=now,
            u=MessageAuthor(id=account.id, username=account.username),
            updated_at=now,
            t="livechat-close",
        )
        if await service.store.close_room(rid, message_to_json(close_message)) is None:
            raise OtherLivechatFailure("error-room-already-closed", "error-room-already-closed")

    async def set_status(self, account: AgentAccount, status: str) -> None:
        """users.setStatus: the rooms the agent serves hear it; coming online serves the
        queue."""
        if status not in STATUSES:
            raise InvalidParams(f"status must be one of {', '.join(STATUSES)}")
        changed = self._status[account.id] != status
        self._status[account.id] = status
        if changed and self.policy.show_agent_info:
            for room in await self._service.store.agent_rooms(account.id):
                if room.open:
                    self._service.broker.publish(
                        room.id, AgentStatusChanged(rid=room.id, status=status)
                    )
        if status == "online":
            await self.serve_queue()

    async def agent_typing(
        self, account: AgentAccount, rid: str, username: str, typing: bool
    ) -> bool:
        """The agent's typing (DDP stream-notify-room <rid>/user-activity): the username
        must be theirs and the room theirs, as Rocket.Chat's canType checks; False when
        refused (Rocket.Chat drops a refused write silently)."""
        if username != account.username:
            return False
        try:
            await self._served(account, rid)
        except NotAllowed:
            return False
        self._service.broker.publish(rid, Typing(rid=rid, username=username, typing=typing))
        return True

    async def subscribe_as_agent(self, account: AgentAccount, rid: str) -> BrokerSubscription:
        """A room the agent serves, as their client subscribes to it: every event but the
        agent's own typing (Rocket.Chat does not send a connection its own activity)."""

        def own_typing(event: RoomEvent) -> bool:
            return (
                isinstance(event, Typing)
                and not event.by_visitor
                and event.username == account.username
            )

        subscription = self._service.broker.subscribe(rid, skip=own_typing)
        try:
            await self._served(account, rid)
        except BaseException:
            await subscription.aclose()
            raise
        return subscription

    async def rooms(self, account: AgentAccount) -> list[Room]:
        """livechat/rooms for this agent: the rooms they serve and the queue."""
        served = await self._service.store.agent_rooms(account.id)
        waiting = [room for room, _ in await self._service.store.waiting_rooms()]
        return [*served, *waiting]
