"""The upload operation: one file, sent by the GraphQL multipart request spec, stored and
announced as the visitor's message (Rocket.Chat's POST /api/v1/livechat/upload/:rid).

The file reaches the resolver as it arrives (see `app.uploads`): the backend reads it while
the client still sends it, so a refusal ends the request there."""

from __future__ import annotations

from typing import Annotated, Union, cast

import strawberry
from strawberry.file_uploads import Upload

from app.backends import base
from app.graphql.context import Info
from app.graphql.errors import LivechatError
from app.graphql.inputs import converted_once
from app.graphql.messages import Message


@converted_once
@strawberry.input(
    description="The multipart form of POST /api/v1/livechat/upload/:rid, with the visitor's "
    "token (Rocket.Chat's x-visitor-token header)."
)
class UploadLivechatFileInput:
    token: str = strawberry.field(description="The visitor's token.")
    rid: strawberry.ID = strawberry.field(description="The visitor's open room.")
    file: Upload = strawberry.field(
        description="The file: a part of the multipart request (operations, map, then files)."
    )
    description: str | None = strawberry.field(
        default=None, description="The attachment's description."
    )
    msg: str | None = strawberry.field(default=None, description="The message's text.")


@strawberry.type(description="The file was stored and sent.")
class UploadLivechatFileSuccess:
    message: Message = strawberry.field(description="The stored file message.")


UploadLivechatFileResult = Annotated[
    Union[UploadLivechatFileSuccess, LivechatError],  # noqa: UP007
    strawberry.union("UploadLivechatFileResult", description="The file message, or why not."),
]


def as_upload(value: object) -> base.FileUpload | None:
    """A file part of this request (not a string a JSON body put where the file goes)."""
    if (
        isinstance(getattr(value, "name", None), str)
        and isinstance(getattr(value, "type", None), str)
        and callable(getattr(value, "chunks", None))
    ):
        return cast(base.FileUpload, value)
    return None


async def upload_livechat_file(
    info: Info, input: UploadLivechatFileInput
) -> UploadLivechatFileResult:
    upload = as_upload(input.file)
    if upload is None:
        raise base.InvalidParams(
            "'file' must be a file part of a multipart request (the GraphQL multipart request spec)"
        )
    message = await info.context.backend.upload_file(
        base.UploadRequest(
            token=input.token,
            rid=str(input.rid),
            file=upload,
            description=input.description,
            msg=input.msg,
        )
    )
    return UploadLivechatFileSuccess(message=Message.from_domain(message))
