"""The Message type and its parts, and the operations that send, edit, delete and read messages."""

from __future__ import annotations

from typing import Annotated, Any, Union

import strawberry
from strawberry.scalars import JSON

from app.backends import base
from app.graphql.attachments import MessageAttachment, MessageFile
from app.graphql.context import Info
from app.graphql.errors import LivechatError
from app.graphql.inputs import converted_once
from app.graphql.markdown_nodes import MarkdownNode, from_json
from app.graphql.scalars import DateTime, NotADate


@strawberry.type(description="Who sent a message (Rocket.Chat's `u`).")
class MessageUser:
    id: strawberry.ID = strawberry.field(description="The sender's _id.")
    username: str = strawberry.field(description='The sender\'s username, e.g. "guest-35".')
    name: str | None = strawberry.field(description="The sender's display name.")


@strawberry.type(description="A URL found in the message text.")
class MessageUrl:
    url: str = strawberry.field(description="The URL as written.")
    meta: JSON | None = strawberry.field(
        description="Link preview metadata, when Rocket.Chat has it."
    )


@strawberry.type(description="A user the message mentions.")
class MessageMention:
    id: strawberry.ID = strawberry.field(description="The user's _id.")
    username: str | None = strawberry.field(description="The user's username.")
    name: str | None = strawberry.field(description="The user's display name.")
    type: str | None = strawberry.field(description='"user" or "team".')


@strawberry.type(description="A channel the message mentions.")
class MessageChannel:
    id: strawberry.ID = strawberry.field(description="The channel's _id.")
    name: str | None = strawberry.field(description="The channel's name.")


def _mention(raw: dict[str, Any]) -> MessageMention:
    return MessageMention(
        id=strawberry.ID(str(raw.get("_id", ""))),
        username=raw.get("username"),
        name=raw.get("name"),
        type=raw.get("type"),
    )


def _user(author: base.MessageAuthor) -> MessageUser:
    return MessageUser(id=strawberry.ID(author.id), username=author.username, name=author.name)


@strawberry.type(description="A livechat message, with every field Rocket.Chat returns.")
class Message:
    id: strawberry.ID = strawberry.field(description="The message's _id.")
    rid: strawberry.ID = strawberry.field(description="The room's id.")
    msg: str = strawberry.field(description="The text as sent.")
    token: str | None = strawberry.field(description="The visitor token of the sender.")
    alias: str | None = strawberry.field(description="The name shown for the sender.")
    ts: DateTime = strawberry.field(description="When the message was sent.")
    u: MessageUser = strawberry.field(description="Who sent it.")
    updated_at: DateTime = strawberry.field(description="When it last changed (_updatedAt).")
    urls: list[MessageUrl] = strawberry.field(description="Every URL in the text, in order.")
    mentions: list[MessageMention] = strawberry.field(description="The users it mentions.")
    channels: list[MessageChannel] = strawberry.field(description="The channels it mentions.")
    md_json: JSON = strawberry.field(
        description="The markdown AST exactly as Rocket.Chat's message-parser emits it."
    )

    md: list[MarkdownNode] = strawberry.field(
        resolver=lambda root: from_json(root.md_json),
        description="The parsed markdown, typed.",
    )
    t: str | None = strawberry.field(
        description="Rocket.Chat's message type: null for a visitor's or agent's text; "
        '"livechat-close", "livechat-started", "uj", "rm" (deleted placeholder)...'
    )
    edited_at: DateTime | None = strawberry.field(description="Set once the message was edited.")
    edited_by: MessageUser | None = strawberry.field(
        description="Who edited it (Rocket.Chat's editedBy {_id, username})."
    )
    file: MessageFile | None = strawberry.field(
        default=None, description="The uploaded file, when the message carries one."
    )
    files: list[MessageFile] = strawberry.field(
        default_factory=list, description="Every file the message carries."
    )
    attachments: list[MessageAttachment] = strawberry.field(
        default_factory=list,
        description="Rocket.Chat's attachments: an upload's title, link, image/audio/video facts.",
    )

    @classmethod
    def from_domain(cls, message: base.Message) -> Message:
        return cls(
            id=strawberry.ID(message.id),
            rid=strawberry.ID(message.rid),
            msg=message.msg,
            token=message.token,
            alias=message.alias,
            ts=DateTime(message.ts),
            u=_user(message.u),
            updated_at=DateTime(message.updated_at),
            urls=[
                MessageUrl(url=str(raw.get("url", "")), meta=raw.get("meta"))
                for raw in message.urls
            ],
            mentions=[_mention(raw) for raw in message.mentions],
            channels=[
                MessageChannel(id=strawberry.ID(str(raw.get("_id", ""))), name=raw.get("name"))
                for raw in message.channels
            ],
            md_json=JSON(message.md),
            t=message.t,
            edited_at=DateTime(message.edited_at) if message.edited_at else None,
            edited_by=_user(message.edited_by) if message.edited_by else None,
            file=MessageFile.from_json(message.file) if message.file is not None else None,
            files=[MessageFile.from_json(raw) for raw in message.files],
            attachments=[MessageAttachment.from_json(raw) for raw in message.attachments],
        )


@converted_once
@strawberry.input(description="The agent a message is addressed to.")
class LivechatAgentInput:
    agent_id: strawberry.ID = strawberry.field(description="The agent's _id.")
    username: str = strawberry.field(description="The agent's username.")


@converted_once
@strawberry.input(description="The body of POST /api/v1/livechat/message.")
class SendLivechatMessageInput:
    token: str = strawberry.field(description="The visitor's token.")
    rid: strawberry.ID = strawberry.field(description="The room's id.")
    msg: str = strawberry.field(description="The text to send.")
    id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The message _id; generated when absent. Resending an id answers the "
        "stored message, so retries are safe.",
    )
    agent: LivechatAgentInput | None = strawberry.field(
        default=None, description="The agent the message is addressed to."
    )


@strawberry.type(description="The message was stored.")
class SendLivechatMessageSuccess:
    message: Message = strawberry.field(description="The stored message.")


SendLivechatMessageResult = Annotated[
    Union[SendLivechatMessageSuccess, LivechatError],  # noqa: UP007
    strawberry.union("SendLivechatMessageResult", description="The message, or why not."),
]


@converted_once
@strawberry.input(description="The body of PUT /api/v1/livechat/message/:_id, with its _id.")
class UpdateLivechatMessageInput:
    token: str = strawberry.field(description="The visitor's token.")
    rid: strawberry.ID = strawberry.field(description="The room's id.")
    id: strawberry.ID = strawberry.field(description="The message's _id.")
    msg: str = strawberry.field(description="The new text.")


@converted_once
@strawberry.input(description="The body of DELETE /api/v1/livechat/message/:_id, with its _id.")
class DeleteLivechatMessageInput:
    token: str = strawberry.field(description="The visitor's token.")
    rid: strawberry.ID = strawberry.field(description="The room's id.")
    id: strawberry.ID = strawberry.field(description="The message's _id.")


@strawberry.type(description="The message was edited.")
class UpdateLivechatMessageSuccess:
    message: Message = strawberry.field(
        description="The message as stored now: same id and ts, new text, md and urls, editedAt."
    )


@strawberry.type(description="The message was deleted.")
class DeleteLivechatMessageSuccess:
    id: strawberry.ID = strawberry.field(description="The deleted message's _id.")
    ts: DateTime = strawberry.field(
        description="When the deletion happened (Rocket.Chat's DELETE answer)."
    )


@strawberry.type(
    description="A page of a room's messages, newest first. `hasMore`: an older message "
    f"exists; ask again with before = the last message's ts. `limit` is 1..{base.HISTORY_LIMIT}. "
    "The in-process backend gives the messages of a room strictly increasing ts (millisecond "
    "resolution), so walking pages with `before` never skips or repeats a message."
)
class LivechatMessagesSuccess:
    messages: list[Message] = strawberry.field(description="The messages, newest first.")
    has_more: bool = strawberry.field(description="Whether an older message exists.")


@strawberry.type(description="One message of the room.")
class LivechatMessageSuccess:
    message: Message = strawberry.field(description="The message.")


UpdateLivechatMessageResult = Annotated[
    Union[UpdateLivechatMessageSuccess, LivechatError],  # noqa: UP007
    strawberry.union("UpdateLivechatMessageResult", description="The edited message, or why not."),
]
DeleteLivechatMessageResult = Annotated[
    Union[DeleteLivechatMessageSuccess, LivechatError],  # noqa: UP007
    strawberry.union("DeleteLivechatMessageResult", description="The deletion, or why not."),
]
LivechatMessagesResult = Annotated[
    Union[LivechatMessagesSuccess, LivechatError],  # noqa: UP007
    strawberry.union("LivechatMessagesResult", description="The messages, or why not."),
]
LivechatMessageResult = Annotated[
    Union[LivechatMessageSuccess, LivechatError],  # noqa: UP007
    strawberry.union("LivechatMessageResult", description="The message, or why not."),
]


async def send_livechat_message(
    info: Info, input: SendLivechatMessageInput
) -> SendLivechatMessageResult:
    outgoing = base.OutgoingMessage(
        token=input.token,
        rid=str(input.rid),
        msg=input.msg,
        id=str(input.id) if input.id is not None else None,
        agent=base.AgentRef(agent_id=str(input.agent.agent_id), username=input.agent.username)
        if input.agent
        else None,
    )
    message = await info.context.backend.send_message(outgoing)
    return SendLivechatMessageSuccess(message=Message.from_domain(message))


async def update_livechat_message(
    info: Info, input: UpdateLivechatMessageInput
) -> UpdateLivechatMessageResult:
    message = await info.context.backend.update_message(
        input.token, str(input.rid), str(input.id), input.msg
    )
    return UpdateLivechatMessageSuccess(message=Message.from_domain(message))


async def delete_livechat_message(
    info: Info, input: DeleteLivechatMessageInput
) -> DeleteLivechatMessageResult:
    deleted = await info.context.backend.delete_message(input.token, str(input.rid), str(input.id))
    return DeleteLivechatMessageSuccess(id=strawberry.ID(deleted.id), ts=DateTime(deleted.ts))


async def livechat_messages(
    info: Info,
    token: str,
    rid: strawberry.ID,
    limit: int = 20,
    before: DateTime | None = strawberry.UNSET,
) -> LivechatMessagesResult:
    """One page; Rocket.Chat is asked for one message more than the page, which tells
    whether an older one exists. (`before` has no default in the schema, as the contract
    writes it.)"""
    if not 1 <= limit <= base.HISTORY_LIMIT:
        raise base.InvalidParams(f"'limit' must be between 1 and {base.HISTORY_LIMIT}")
    if isinstance(before, NotADate):
        raise base.InvalidParams("'before' must be a date like 2025-01-02T03:04:05.678Z")
    found = await info.context.backend.message_history(token, str(rid), limit + 1, before or None)
    return LivechatMessagesSuccess(
        messages=[Message.from_domain(message) for message in found[:limit]],
        has_more=len(found) > limit,
    )


async def livechat_message(
    info: Info, token: str, rid: strawberry.ID, id: strawberry.ID
) -> LivechatMessageResult:
    message = await info.context.backend.message(token, str(rid), str(id))
    return LivechatMessageSuccess(message=Message.from_domain(message))
