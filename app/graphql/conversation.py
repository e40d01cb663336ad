"""Around a conversation: the offline form, the transcript, switching department, the survey."""

from __future__ import annotations

from typing import Annotated, Union

import strawberry

from app.backends import base
from app.graphql.context import Info
from app.graphql.errors import LivechatError
from app.graphql.inputs import converted_once


@converted_once
@strawberry.input(description="The body of POST livechat/offline.message.")
class SendLivechatOfflineMessageInput:
    name: str = strawberry.field(description="The visitor's name.")
    email: str = strawberry.field(description="Where to answer them.")
    message: str = strawberry.field(description="What they want to say.")
    department: str | None = strawberry.field(
        default=None, description="A department's id or name: its email gets the message."
    )
    host: str | None = strawberry.field(
        default=None, description="The page's origin the message was left on."
    )


@strawberry.type(description="The message was taken.")
class SendLivechatOfflineMessageSuccess:
    message: str = strawberry.field(description="Rocket.Chat's words for it.")


@converted_once
@strawberry.input(description="The body of POST livechat/transcript.")
class RequestLivechatTranscriptInput:
    token: str = strawberry.field(description="The visitor's token.")
    rid: strawberry.ID = strawberry.field(description="The room (open or closed).")
    email: str = strawberry.field(description="Where the transcript goes.")


@strawberry.type(description="The transcript was sent.")
class RequestLivechatTranscriptSuccess:
    message: str = strawberry.field(description="Rocket.Chat's words for it.")


@converted_once
@strawberry.input(description="Move the visitor's room to another department.")
class TransferLivechatRoomInput:
    token: str = strawberry.field(description="The visitor's token.")
    rid: strawberry.ID = strawberry.field(description="The visitor's open room.")
    department: str = strawberry.field(description="The department's id.")


@strawberry.type(description="The room was transferred.")
class TransferLivechatRoomSuccess:
    rid: strawberry.ID = strawberry.field(description="The transferred room's id.")


@converted_once
@strawberry.input(description="One survey answer.")
class LivechatSurveyAnswerInput:
    name: str = strawberry.field(
        description='A survey item (config.survey.items) or "additionalFeedback".'
    )
    value: str = strawberry.field(description='"1".."5", or any text for additionalFeedback.')


@converted_once
@strawberry.input(description="The body of POST livechat/room.survey.")
class RateLivechatRoomInput:
    token: str = strawberry.field(description="The visitor's token.")
    rid: strawberry.ID = strawberry.field(description="The room rated (open or closed).")
    answers: list[LivechatSurveyAnswerInput] = strawberry.field(description="At least one answer.")


@strawberry.type(description="A survey answer as kept.")
class LivechatSurveyAnswer:
    name: str = strawberry.field(description="The survey item.")
    value: str = strawberry.field(description="Its answer.")


@strawberry.type(description="The answers Rocket.Chat kept (others are dropped).")
class RateLivechatRoomSuccess:
    rid: strawberry.ID = strawberry.field(description="The room rated.")
    answers: list[LivechatSurveyAnswer] = strawberry.field(description="The answers kept.")


SendLivechatOfflineMessageResult = Annotated[
    Union[SendLivechatOfflineMessageSuccess, LivechatError],  # noqa: UP007
    strawberry.union("SendLivechatOfflineMessageResult", description="Taken, or why not."),
]
RequestLivechatTranscriptResult = Annotated[
    Union[RequestLivechatTranscriptSuccess, LivechatError],  # noqa: UP007
    strawberry.union("RequestLivechatTranscriptResult", description="Sent, or why not."),
]
TransferLivechatRoomResult = Annotated[
    Union[TransferLivechatRoomSuccess, LivechatError],  # noqa: UP007
    strawberry.union("TransferLivechatRoomResult", description="Transferred, or why not."),
]
RateLivechatRoomResult = Annotated[
    Union[RateLivechatRoomSuccess, LivechatError],  # noqa: UP007
    strawberry.union("RateLivechatRoomResult", description="The answers kept, or why not."),
]


async def send_livechat_offline_message(
    info: Info, input: SendLivechatOfflineMessageInput
) -> SendLivechatOfflineMessageResult:
    offline = base.OfflineMessage(
        name=input.name,
        email=input.email,
        message=input.message,
        department=input.department,
        host=input.host,
    )
    message = await info.context.backend.send_offline_message(offline)
    return SendLivechatOfflineMessageSuccess(message=message)


async def request_livechat_transcript(
    info: Info, input: RequestLivechatTranscriptInput
) -> RequestLivechatTranscriptResult:
    message = await info.context.backend.request_transcript(
        input.token, str(input.rid), input.email
    )
    return RequestLivechatTranscriptSuccess(message=message)


async def transfer_livechat_room(
    info: Info, input: TransferLivechatRoomInput
) -> TransferLivechatRoomResult:
    rid = await info.context.backend.transfer_room(input.token, str(input.rid), input.department)
    return TransferLivechatRoomSuccess(rid=strawberry.ID(rid))


async def rate_livechat_room(info: Info, input: RateLivechatRoomInput) -> RateLivechatRoomResult:
    answers = [base.SurveyAnswer(name=item.name, value=item.value) for item in input.answers]
    kept = await info.context.backend.rate_room(input.token, str(input.rid), answers)
    return RateLivechatRoomSuccess(
        rid=input.rid,
        answers=[LivechatSurveyAnswer(name=item.name, value=item.value) for item in kept],
    )
