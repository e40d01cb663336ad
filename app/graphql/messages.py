"""The Message type and its parts, and the operations that send and read messages."""

from __future__ import annotations

from typing import Annotated, Any, Union

import strawberry
from strawberry.scalars import JSON

from app.backends import base
from app.graphql.context import Info
from app.graphql.errors import LivechatError, answer
from app.graphql.markdown_nodes import MarkdownNode, from_json
from app.graphql.scalars import DateTime


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

    @classmethod
    def from_domain(cls, message: base.Message) -> Message:
        return cls(
            id=strawberry.ID(message.id),
            rid=strawberry.ID(message.rid),
            msg=message.msg,
            token=message.token,
            alias=message.alias,
            ts=DateTime(message.ts),
            u=MessageUser(
                id=strawberry.ID(message.u.id), username=message.u.username, name=message.u.name
            ),
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
        )


@strawberry.input(description="The agent a message is addressed to.")
class LivechatAgentInput:
    agent_id: strawberry.ID = strawberry.field(description="The agent's _id.")
    username: str = strawberry.field(description="The agent's username.")


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


@strawberry.type(description="A room's messages.")
class LivechatMessagesSuccess:
    messages: list[Message] = strawberry.field(description="The newest messages, newest first.")


LivechatMessagesResult = Annotated[
    Union[LivechatMessagesSuccess, LivechatError],  # noqa: UP007
    strawberry.union("LivechatMessagesResult", description="The messages, or why not."),
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
    result = await answer(info.context.backend.send_message(outgoing))
    if isinstance(result, LivechatError):
        return result
    return SendLivechatMessageSuccess(message=Message.from_domain(result))


async def livechat_messages(
    info: Info,
    token: str,
    rid: strawberry.ID,
    limit: int = 20,
) -> LivechatMessagesResult:
    result = await answer(info.context.backend.message_history(token, str(rid), limit))
    if isinstance(result, LivechatError):
        return result
    return LivechatMessagesSuccess(messages=[Message.from_domain(m) for m in result])
