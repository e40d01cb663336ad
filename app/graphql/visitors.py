"""Visitors and rooms: the types, and the operations that register, open and close."""

from __future__ import annotations

from typing import Annotated, Union

import strawberry

from app.backends import base
from app.graphql.context import Info
from app.graphql.errors import LivechatError
from app.graphql.inputs import converted_once
from app.graphql.scalars import DateTime


@strawberry.type(description="A livechat visitor.")
class LivechatVisitor:
    id: strawberry.ID = strawberry.field(description="The visitor's _id.")
    token: str = strawberry.field(description="The token the visitor identifies with.")
    username: str = strawberry.field(description='Rocket.Chat\'s name for them, e.g. "guest-12".')
    name: str | None = strawberry.field(description="The name they gave.")
    email: str | None = strawberry.field(description="The email they gave.")
    phone: str | None = strawberry.field(description="The phone number they gave.")

    @classmethod
    def from_domain(cls, visitor: base.Visitor) -> LivechatVisitor:
        return cls(
            id=strawberry.ID(visitor.id),
            token=visitor.token,
            username=visitor.username,
            name=visitor.name,
            email=visitor.email,
            phone=visitor.phone,
        )


@strawberry.type(description="A livechat room: one conversation of a visitor.")
class LivechatRoom:
    id: strawberry.ID = strawberry.field(description="The room's _id (the rid).")
    open: bool = strawberry.field(description="Whether messages can still be sent to it.")
    visitor_id: strawberry.ID = strawberry.field(description="The visitor's _id.")
    visitor_token: str = strawberry.field(description="The visitor's token.")
    ts: DateTime | None = strawberry.field(description="When the room was opened.")
    agent_id: strawberry.ID | None = strawberry.field(description="The agent serving it, if any.")

    @classmethod
    def from_domain(cls, room: base.Room) -> LivechatRoom:
        return cls(
            id=strawberry.ID(room.id),
            open=room.open,
            visitor_id=strawberry.ID(room.visitor_id),
            visitor_token=room.visitor_token,
            ts=DateTime(room.ts) if room.ts else None,
            agent_id=strawberry.ID(room.agent_id) if room.agent_id else None,
        )


@converted_once
@strawberry.input(description="The body of POST /api/v1/livechat/visitor.")
class RegisterLivechatVisitorInput:
    token: str = strawberry.field(description="The visitor's token; the same token updates them.")
    name: str | None = strawberry.field(default=None, description="Their name.")
    email: str | None = strawberry.field(
        default=None,
        description="Their email: trimmed, lower-cased and validated; another visitor's email "
        "reuses that visitor, who takes this token.",
    )
    phone: str | None = strawberry.field(
        default=None,
        description="Their phone number; another visitor's phone reuses that visitor with their "
        "own token (the answer's token differs from the one sent).",
    )
    username: str | None = strawberry.field(
        default=None, description='A username; "guest-N" is given when absent.'
    )
    department: str | None = strawberry.field(
        default=None, description="A department's id or name (its id is stored)."
    )


@converted_once
@strawberry.input(description="The query of GET /api/v1/livechat/room.")
class OpenLivechatRoomInput:
    token: str = strawberry.field(description="The visitor's token.")
    rid: strawberry.ID | None = strawberry.field(
        default=None, description="A room of the visitor's to return; a new one when absent."
    )
    agent_id: strawberry.ID | None = strawberry.field(
        default=None, description="An agent to serve a new room."
    )


@converted_once
@strawberry.input(description="The body of POST /api/v1/livechat/room.close.")
class CloseLivechatRoomInput:
    token: str = strawberry.field(description="The visitor's token.")
    rid: strawberry.ID = strawberry.field(description="The room to close.")


@strawberry.type(description="The visitor was created or updated.")
class RegisterLivechatVisitorSuccess:
    visitor: LivechatVisitor = strawberry.field(description="The visitor as stored.")


@strawberry.type(description="The visitor's open room.")
class OpenLivechatRoomSuccess:
    room: LivechatRoom = strawberry.field(description="The room.")
    new_room: bool = strawberry.field(description="True when the room was created by this call.")


@strawberry.type(description="The room was closed.")
class CloseLivechatRoomSuccess:
    rid: strawberry.ID = strawberry.field(description="The closed room's id.")


RegisterLivechatVisitorResult = Annotated[
    Union[RegisterLivechatVisitorSuccess, LivechatError],  # noqa: UP007
    strawberry.union("RegisterLivechatVisitorResult", description="The visitor, or why not."),
]
OpenLivechatRoomResult = Annotated[
    Union[OpenLivechatRoomSuccess, LivechatError],  # noqa: UP007
    strawberry.union("OpenLivechatRoomResult", description="The room, or why not."),
]
CloseLivechatRoomResult = Annotated[
    Union[CloseLivechatRoomSuccess, LivechatError],  # noqa: UP007
    strawberry.union("CloseLivechatRoomResult", description="The closed room, or why not."),
]


async def register_livechat_visitor(
    info: Info, input: RegisterLivechatVisitorInput
) -> RegisterLivechatVisitorResult:
    registration = base.VisitorRegistration(
        token=input.token,
        name=input.name,
        email=input.email,
        phone=input.phone,
        username=input.username,
        department=input.department,
    )
    visitor = await info.context.backend.register_visitor(registration)
    return RegisterLivechatVisitorSuccess(visitor=LivechatVisitor.from_domain(visitor))


async def open_livechat_room(info: Info, input: OpenLivechatRoomInput) -> OpenLivechatRoomResult:
    room, new_room = await info.context.backend.open_room(
        input.token,
        str(input.rid) if input.rid is not None else None,
        str(input.agent_id) if input.agent_id is not None else None,
    )
    return OpenLivechatRoomSuccess(room=LivechatRoom.from_domain(room), new_room=new_room)


async def close_livechat_room(info: Info, input: CloseLivechatRoomInput) -> CloseLivechatRoomResult:
    rid = await info.context.backend.close_room(input.token, str(input.rid))
    return CloseLivechatRoomSuccess(rid=strawberry.ID(rid))
