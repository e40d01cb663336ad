"""The Subscription type: a backend's room events as GraphQL events.

A backend hands every subscriber of a room the same event object; here it becomes one GraphQL
object (remembered while the event lives), so the executor can run the selection once per event
and document for all of them (see `execution.py`).
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncGenerator
from typing import Annotated, Union

import strawberry

from app.backends import base
from app.graphql.agents import LivechatAgent
from app.graphql.context import Info
from app.graphql.errors import LivechatError, coded_error, livechat_error
from app.graphql.messages import Message
from app.observability import metrics

ROOM_EVENTS_DESCRIPTION = """A room as it happens: every message stored in it after the \
subscription is acknowledged (the visitor's own sends included, as Rocket.Chat echoes them), \
every edit (the same message id \
again, with editedAt), every deletion, and system messages such as the close (message.t = \
"livechat-close"); and who serves the room and who is typing: the agent's typing \
(LivechatTyping; the visitor's own is not echoed), the agent assigned or the room back in the \
queue (LivechatAgentChanged), the agent's presence (LivechatAgentStatusChanged) and the place in \
the queue (LivechatQueuePosition). Rocket.Chat's stream-room-messages, stream-notify-room \
<rid>/deleteMessage and <rid>/user-activity, and stream-livechat-room. After an upstream \
reconnect the serving agent is read again, and a change made during the gap arrives as \
LivechatAgentChanged. Each message event arrives once per change, in ts order, with no gap even \
when the upstream connection drops (the facade back-fills from messages.history and \
de-duplicates by id and updatedAt). A deletion made while the upstream connection was down is \
reported when the back-fill no longer finds a message delivered since shortly before the drop \
(Rocket.Chat keeps no tombstones). An expected failure is one LivechatError event, then the \
stream ends: INVALID_TOKEN, INVALID_ROOM (unknown, another visitor's, or closed), or NOT_ALLOWED \
when Rocket.Chat's DDP answers nosub "not-allowed" and nothing more precise is known."""


@strawberry.type(
    description="A new or changed message: clients upsert by id (Apollo's cache does it by itself)."
)
class LivechatMessageEvent:
    message: Message = strawberry.field(description="The message as stored now.")


@strawberry.type(description="A message was deleted from the room.")
class LivechatMessageDeleted:
    id: strawberry.ID = strawberry.field(description="The deleted message's _id.")
    rid: strawberry.ID = strawberry.field(description="The room's id.")


@strawberry.type(description="Someone in the room started or stopped typing (the agent).")
class LivechatTyping:
    rid: strawberry.ID = strawberry.field(description="The room's id.")
    username: str = strawberry.field(description="Who is typing: the agent's username.")
    typing: bool = strawberry.field(description="True while typing, false once stopped.")


@strawberry.type(
    description="agent is null when the room is back in the queue; hidden is true when "
    "Rocket.Chat hides agent info"
)
class LivechatAgentChanged:
    rid: strawberry.ID = strawberry.field(description="The room's id.")
    agent: LivechatAgent | None = strawberry.field(description="Who serves the room now.")
    hidden: bool = strawberry.field(description="Rocket.Chat hides agent info.")


@strawberry.type(description="The serving agent's presence changed.")
class LivechatAgentStatusChanged:
    rid: strawberry.ID = strawberry.field(description="The room's id.")
    status: str = strawberry.field(description='"online", "away", "busy" or "offline".')


@strawberry.type(description="The room waits for an agent: its place in the queue.")
class LivechatQueuePosition:
    rid: strawberry.ID = strawberry.field(description="The room's id.")
    position: int = strawberry.field(description="1 for the next room to be served.")
    estimated_wait_time_seconds: int | None = strawberry.field(
        description="Rocket.Chat's estimate, when it makes one."
    )


LivechatRoomEvent = Annotated[
    Union[  # noqa: UP007
        LivechatMessageEvent,
        LivechatMessageDeleted,
        LivechatError,
        LivechatTyping,
        LivechatAgentChanged,
        LivechatAgentStatusChanged,
        LivechatQueuePosition,
    ],
    strawberry.union(
        "LivechatRoomEvent",
        description="A message stored, changed or deleted; typing; who serves the room; or why"
        " not.",
    ),
]

_GraphQLEvent = (
    LivechatMessageEvent
    | LivechatMessageDeleted
    | LivechatTyping
    | LivechatAgentChanged
    | LivechatAgentStatusChanged
    | LivechatQueuePosition
)
_converted: weakref.WeakKeyDictionary[base.RoomEvent, _GraphQLEvent] = weakref.WeakKeyDictionary()


def as_graphql(event: base.RoomEvent) -> _GraphQLEvent:
    """The GraphQL object for a backend event: one per event, whoever subscribes."""
    converted = _converted.get(event)
    if converted is None:
        converted = _convert(event)
        _converted[event] = converted
    return converted


def _convert(event: base.RoomEvent) -> _GraphQLEvent:
    rid = strawberry.ID(event.rid) if not isinstance(event, base.MessageChanged) else None
    if isinstance(event, base.MessageChanged):
        return LivechatMessageEvent(message=Message.from_domain(event.message))
    assert rid is not None
    if isinstance(event, base.MessageDeleted):
        return LivechatMessageDeleted(id=strawberry.ID(event.id), rid=rid)
    if isinstance(event, base.Typing):
        return LivechatTyping(rid=rid, username=event.username, typing=event.typing)
    if isinstance(event, base.AgentChanged):
        agent = LivechatAgent.from_domain(event.agent) if event.agent is not None else None
        return LivechatAgentChanged(rid=rid, agent=agent, hidden=event.hidden)
    if isinstance(event, base.AgentStatusChanged):
        return LivechatAgentStatusChanged(rid=rid, status=event.status)
    return LivechatQueuePosition(
        rid=rid,
        position=event.position,
        estimated_wait_time_seconds=event.estimated_wait_time_seconds,
    )


async def livechat_room_events(
    info: Info, token: str, rid: strawberry.ID
) -> AsyncGenerator[LivechatRoomEvent, None]:
    try:
        events = await info.context.backend.subscribe_room(token, str(rid))
    except base.LivechatFailure as failure:
        yield livechat_error(failure)
        return
    except base.BackendFailure as failure:
        raise coded_error(failure) from None
    try:
        with metrics.tracking_subscription():
            async for event in events:
                yield as_graphql(event)
    except base.LivechatFailure as failure:
        yield livechat_error(failure)
    except base.BackendFailure as failure:
        raise coded_error(failure) from None
    finally:
        await events.aclose()


@strawberry.type(description=ROOM_EVENTS_DESCRIPTION)
class Subscription:
    livechat_room_events: AsyncGenerator[LivechatRoomEvent, None] = strawberry.subscription(
        resolver=livechat_room_events,
        description="stream-room-messages and stream-notify-room <rid>/deleteMessage, "
        "for the visitor's open room",
    )
