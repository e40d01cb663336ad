"""Agents as the visitor sees them: who serves the room."""

from __future__ import annotations

import strawberry

from app.backends import base


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
