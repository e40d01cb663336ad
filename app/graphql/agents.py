"""Agents as the visitor sees them: who serves the room (agent.info), and the visitor's typing
that reaches them."""

from __future__ import annotations

from typing import Annotated, Union

import strawberry

from app.backends import base
from app.graphql.context import Info
from app.graphql.errors import LivechatError
from app.graphql.inputs import converted_once


@strawberry.type(description="An agent serving a room (Rocket.Chat's agent.info).")
class LivechatAgent:
    id: strawberry.ID = strawberry.field(description="The agent's _id.")
    username: str = strawberry.field(description="The agent's username.")
    name: str | None = strawberry.field(description="The agent's display name.")
    status: str | None = strawberry.field(description='"online", "away", "busy" or "offline".')
    emails: list[str] = strawberry.field(
        description="The agent's addresses; empty when Rocket.Chat does not show them."
    )
    phone: str | None = strawberry.field(description="The agent's phone, when set.")

    @classmethod
    def from_domain(cls, agent: base.Agent) -> LivechatAgent:
        return cls(
            id=strawberry.ID(agent.id),
            username=agent.username,
            name=agent.name,
            status=agent.status,
            emails=list(agent.emails),
            phone=agent.phone,
        )


@strawberry.type(description="Who serves the room, as Rocket.Chat's agent.info answers.")
class LivechatAgentSuccess:
    agent: LivechatAgent | None = strawberry.field(
        description="The serving agent; null when Rocket.Chat hides agent info."
    )
    hidden: bool = strawberry.field(
        description="True when Rocket.Chat answers {hiddenInfo: true} (Livechat_show_agent_info "
        "off)."
    )


@converted_once
@strawberry.input(
    description="DDP method stream-notify-room [<rid>/user-activity, username, "
    '["user-typing"] or [], {token}].'
)
class SetLivechatTypingInput:
    token: str = strawberry.field(description="The visitor's token.")
    rid: strawberry.ID = strawberry.field(description="The visitor's open room.")
    typing: bool = strawberry.field(description="True while typing, false once stopped.")


@strawberry.type(description="The agent was told.")
class SetLivechatTypingSuccess:
    rid: strawberry.ID = strawberry.field(description="The room.")
    typing: bool = strawberry.field(description="What the agent was told.")


LivechatAgentResult = Annotated[
    Union[LivechatAgentSuccess, LivechatError],  # noqa: UP007
    strawberry.union("LivechatAgentResult", description="The serving agent, or why not."),
]
SetLivechatTypingResult = Annotated[
    Union[SetLivechatTypingSuccess, LivechatError],  # noqa: UP007
    strawberry.union("SetLivechatTypingResult", description="Done, or why not."),
]


async def livechat_agent(info: Info, token: str, rid: strawberry.ID) -> LivechatAgentResult:
    agent, hidden = await info.context.backend.agent_info(token, str(rid))
    return LivechatAgentSuccess(
        agent=LivechatAgent.from_domain(agent) if agent is not None else None, hidden=hidden
    )


async def set_livechat_typing(info: Info, input: SetLivechatTypingInput) -> SetLivechatTypingResult:
    await info.context.backend.set_typing(input.token, str(input.rid), input.typing)
    return SetLivechatTypingSuccess(rid=input.rid, typing=input.typing)
