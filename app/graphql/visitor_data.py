"""What a visitor's record holds beyond registration: reading it, custom fields, presence, and
removing it all (the right to be forgotten)."""

from __future__ import annotations

from typing import Annotated, Union

import strawberry

from app.backends import base
from app.graphql.context import Info
from app.graphql.errors import LivechatError
from app.graphql.inputs import converted_once
from app.graphql.scalars import DateTime
from app.graphql.visitors import LivechatVisitor


@strawberry.type(description="The visitor.")
class LivechatVisitorSuccess:
    visitor: LivechatVisitor = strawberry.field(description="The visitor as stored.")


@converted_once
@strawberry.input(description="One custom field (the body of POST livechat/custom.field).")
class LivechatCustomFieldInput:
    key: str = strawberry.field(description="The field's key, as the server defines it.")
    value: str = strawberry.field(description="Its value; checked against the field's regexp.")
    overwrite: bool = strawberry.field(
        default=True, description="Replace a value already set (false keeps it)."
    )


@converted_once
@strawberry.input(description="Custom fields to set on the visitor (or their rooms), in order.")
class SetLivechatCustomFieldsInput:
    token: str = strawberry.field(description="The visitor's token.")
    fields: list[LivechatCustomFieldInput] = strawberry.field(description="The fields, in order.")


@strawberry.type(description="A custom field as set.")
class LivechatCustomField:
    key: str = strawberry.field(description="The field's key.")
    value: str = strawberry.field(description="The value sent.")
    overwrite: bool = strawberry.field(description="Whether it replaced a value already set.")


@strawberry.type(description="Every field was set.")
class SetLivechatCustomFieldsSuccess:
    fields: list[LivechatCustomField] = strawberry.field(description="The fields, in order.")


@converted_once
@strawberry.input(description="The body of POST livechat/visitor.status.")
class SetLivechatVisitorStatusInput:
    token: str = strawberry.field(description="The visitor's token.")
    status: str = strawberry.field(description='"online" on activity, "away" when idle.')


@strawberry.type(description="The status was set.")
class SetLivechatVisitorStatusSuccess:
    token: str = strawberry.field(description="The visitor's token.")
    status: str = strawberry.field(description="The status set.")


@converted_once
@strawberry.input(description="DELETE livechat/visitor/:token.")
class RemoveLivechatVisitorInput:
    token: str = strawberry.field(description="The visitor's token.")


@strawberry.type(description="The visitor, their rooms and messages are gone.")
class RemoveLivechatVisitorSuccess:
    id: strawberry.ID = strawberry.field(description="The removed visitor's _id.")
    ts: DateTime = strawberry.field(description="When.")


LivechatVisitorResult = Annotated[
    Union[LivechatVisitorSuccess, LivechatError],  # noqa: UP007
    strawberry.union("LivechatVisitorResult", description="The visitor, or why not."),
]
SetLivechatCustomFieldsResult = Annotated[
    Union[SetLivechatCustomFieldsSuccess, LivechatError],  # noqa: UP007
    strawberry.union(
        "SetLivechatCustomFieldsResult",
        description="The fields set, or the first refusal (fields before it stay set).",
    ),
]
SetLivechatVisitorStatusResult = Annotated[
    Union[SetLivechatVisitorStatusSuccess, LivechatError],  # noqa: UP007
    strawberry.union("SetLivechatVisitorStatusResult", description="The status, or why not."),
]
RemoveLivechatVisitorResult = Annotated[
    Union[RemoveLivechatVisitorSuccess, LivechatError],  # noqa: UP007
    strawberry.union("RemoveLivechatVisitorResult", description="Removed, or why not."),
]


async def livechat_visitor(info: Info, token: str) -> LivechatVisitorResult:
    visitor = await info.context.backend.visitor(token)
    return LivechatVisitorSuccess(visitor=LivechatVisitor.from_domain(visitor))


async def set_livechat_custom_fields(
    info: Info, input: SetLivechatCustomFieldsInput
) -> SetLivechatCustomFieldsResult:
    fields = [
        base.CustomField(key=item.key, value=item.value, overwrite=item.overwrite)
        for item in input.fields
    ]
    done = await info.context.backend.set_custom_fields(input.token, fields)
    return SetLivechatCustomFieldsSuccess(
        fields=[
            LivechatCustomField(key=item.key, value=item.value, overwrite=item.overwrite)
            for item in done
        ]
    )


async def set_livechat_visitor_status(
    info: Info, input: SetLivechatVisitorStatusInput
) -> SetLivechatVisitorStatusResult:
    status = await info.context.backend.set_visitor_status(input.token, input.status)
    return SetLivechatVisitorStatusSuccess(token=input.token, status=status)


async def remove_livechat_visitor(
    info: Info, input: RemoveLivechatVisitorInput
) -> RemoveLivechatVisitorResult:
    removed = await info.context.backend.remove_visitor(input.token)
    return RemoveLivechatVisitorSuccess(id=strawberry.ID(removed.id), ts=DateTime(removed.ts))
