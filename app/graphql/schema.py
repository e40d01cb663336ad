"""Assembles Query, Mutation and Subscription into the one strawberry.Schema the app serves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    specified_rules,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.graphql import (
    agents,
    config,
    conversation,
    files,
    messages,
    validation_cache,
    visitor_data,
    visitors,
)
from app.graphql.documents import Documents
from app.graphql.errors import LivechatFailureHandler, MaskUnexpectedErrors, coded_request_error
from app.graphql.execution import CachingExecutionContext
from app.graphql.inputs import KeptNames
from app.graphql.limits import RequestLimits, validation_rule
from app.graphql.observers import GraphQLSpans, OperationMetrics
from app.graphql.scalars import SCALAR_MAP
from app.graphql.subscriptions import Subscription

# The estimated bytes of parsed documents (with their validation and plans) a schema keeps.
DOCUMENT_CACHE_BYTES = 24 * 1024 * 1024
# The extensions `Preparation` does the work of (DisableIntrospection is its validation rule),
# beside the schema's own document and validation caches: the lean path records operation
# metrics itself, and leaves to Strawberry's view only the requests whose trace is sampled,
# which need GraphQL spans (an unsampled span records nothing). Any other extension in a
# schema sends every request through Strawberry's view.
MIRRORED: frozenset[type[SchemaExtension]] = frozenset(
    {
        MaskUnexpectedErrors,
        MaxTokensLimiter,
        AddValidationRules,
        DisableIntrospection,
        OperationMetrics,
        GraphQLSpans,
    }
)


@strawberry.type(description="Reads.")
class Query:
    livechat_messages: messages.LivechatMessagesResult = strawberry.field(
        resolver=messages.livechat_messages,
        description="GET /api/v1/livechat/messages.history/:rid: newest first; `before` is "
        "Rocket.Chat's `end` (ts < before)",
    )
    livechat_message: messages.LivechatMessageResult = strawberry.field(
        resolver=messages.livechat_message,
        description="GET /api/v1/livechat/message/:_id (scoped to the room)",
    )
    # ---- before and around the chat ----
    livechat_config: config.LivechatConfigResult = strawberry.field(
        resolver=config.livechat_config,
        description="GET /api/v1/livechat/config: the widget's settings, whether it is online, "
        "and with `token` the visitor's own open room and agent",
    )
    livechat_visitor: visitor_data.LivechatVisitorResult = strawberry.field(
        resolver=visitor_data.livechat_visitor, description="GET /api/v1/livechat/visitor/:token"
    )
    livechat_agent: agents.LivechatAgentResult = strawberry.field(
        resolver=agents.livechat_agent,
        description="GET /api/v1/livechat/agent.info/:rid/:token (also for a closed room)",
    )


@strawberry.type(description="Everything a livechat widget does.")
class Mutation:
    register_livechat_visitor: visitors.RegisterLivechatVisitorResult = strawberry.field(
        resolver=visitors.register_livechat_visitor, description="POST /api/v1/livechat/visitor"
    )
    open_livechat_room: visitors.OpenLivechatRoomResult = strawberry.field(
        resolver=visitors.open_livechat_room,
        description="GET /api/v1/livechat/room (finds the visitor's open room or opens one)",
    )
    send_livechat_message: messages.SendLivechatMessageResult = strawberry.field(
        resolver=messages.send_livechat_message, description="POST /api/v1/livechat/message"
    )
    close_livechat_room: visitors.CloseLivechatRoomResult = strawberry.field(
        resolver=visitors.close_livechat_room, description="POST /api/v1/livechat/room.close"
    )
    update_livechat_message: messages.UpdateLivechatMessageResult = strawberry.field(
        resolver=messages.update_livechat_message,
        description="PUT /api/v1/livechat/message/:_id (only the visitor's own message; allowed "
        "in a closed room, as Rocket.Chat does)",
    )
    delete_livechat_message: messages.DeleteLivechatMessageResult = strawberry.field(
        resolver=messages.delete_livechat_message,
        description="DELETE /api/v1/livechat/message/:_id (only the visitor's own message)",
    )
    # ---- before and around the chat ----
    set_livechat_custom_fields: visitor_data.SetLivechatCustomFieldsResult = strawberry.field(
        resolver=visitor_data.set_livechat_custom_fields,
        description="POST /api/v1/livechat/custom.field, one call per field, in order; stops at "
        "the first refusal",
    )
    set_livechat_visitor_status: visitor_data.SetLivechatVisitorStatusResult = strawberry.field(
        resolver=visitor_data.set_livechat_visitor_status,
        description='POST /api/v1/livechat/visitor.status (the widget sends "online" on '
        'activity, "away" after 5 idle minutes)',
    )
    remove_livechat_visitor: visitor_data.RemoveLivechatVisitorResult = strawberry.field(
        resolver=visitor_data.remove_livechat_visitor,
        description="DELETE /api/v1/livechat/visitor/:token (the visitor's right to be forgotten)",
    )
    send_livechat_offline_message: conversation.SendLivechatOfflineMessageResult = strawberry.field(
        resolver=conversation.send_livechat_offline_message,
        description="POST /api/v1/livechat/offline.message (no agent online: leave a "
        "message by email)",
    )
    request_livechat_transcript: conversation.RequestLivechatTranscriptResult = strawberry.field(
        resolver=conversation.request_livechat_transcript,
        description="POST /api/v1/livechat/transcript (email the conversation to the visitor)",
    )
    transfer_livechat_room: conversation.TransferLivechatRoomResult = strawberry.field(
        resolver=conversation.transfer_livechat_room,
        description="POST /api/v1/livechat/room.transfer (Rocket.Chat 7.x) or "
        "/api/v1/livechat/visitor/department.transfer (8.x): another department",
    )
    rate_livechat_room: conversation.RateLivechatRoomResult = strawberry.field(
        resolver=conversation.rate_livechat_room,
        description='POST /api/v1/livechat/room.survey (satisfaction answers, "1".."5", and '
        "additionalFeedback)",
    )
    set_livechat_typing: agents.SetLivechatTypingResult = strawberry.field(
        resolver=agents.set_livechat_typing,
        description='DDP method stream-notify-room [<rid>/user-activity, username, ["user-typing"]'
        " or [], {token}]",
    )
    upload_livechat_file: files.UploadLivechatFileResult = strawberry.field(
        resolver=files.upload_livechat_file,
        description="POST /api/v1/livechat/upload/:rid with header x-visitor-token: one file, "
        "stored and announced as a message",
    )


@dataclass(frozen=True)
class Preparation:
    """What the schema's extensions do to a request before it executes, as data, so that the
    lean POST path (`app.graphql.lean`) does the same without running them: the same parser
    cache with the same token limit (so both paths share parsed documents, and the validation,
    plans and collected fields kept with them), the same validation rules in Strawberry's
    order. `observed` says the schema runs an extension this does not mirror (any extension
    `make_schema` does not know): then every request takes Strawberry's path, which runs it.
    `traced` says it runs GraphQL spans: then a request whose trace is sampled takes it too."""

    documents: Documents
    max_tokens: int
    rules: tuple[type[ASTValidationRule], ...]
    # The schema's own document and validation caches, as extensions (mirrored here).
    caches: tuple[type[SchemaExtension], ...]
    observed: bool
    traced: bool
    max_answer_bytes: int

    def document(self, query: str) -> DocumentNode:
        """The parsed document (the parser's cache), or GraphQLSyntaxError."""
        return self.documents.parse(query, max_tokens=self.max_tokens)


class Schema(strawberry.Schema):
    """Strawberry's schema, minus its own error logging (a client's mistake is not a server
    error; unexpected ones are logged, with the request id, by MaskUnexpectedErrors). Errors
    found before execution (parse, validation, limits) get their code here, in place, as
    they never reach the extensions' view of the result."""

    preparation: Preparation

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for index, error in enumerate(errors):
            if error.original_error is None:
                errors[index] = coded_request_error(error)


def make_schema(
    limits: RequestLimits,
    *,
    production: bool = False,
    observers: Sequence[Any] = (),
    execution_context_class: type[StrawberryGraphQLCoreExecutionContext] = (
        CachingExecutionContext
    ),
    document_cache_bytes: int = DOCUMENT_CACHE_BYTES,
) -> Schema:
    """The schema with its guards. `production` hides introspection and field suggestions;
    `observers` are extensions that watch operations (metrics, traces), first of all. The app
    always executes with `CachingExecutionContext` (collected fields and plans kept across
    requests); tests pass graphql-core's own to compare the two."""
    # One rule class per schema: the validation cache is keyed by the rules as well.
    document_limits = validation_rule(limits)
    documents = Documents(document_cache_bytes)
    parsing, validating = documents.extension(), validation_cache.extension()
    extensions: list[Any] = [
        *observers,
        MaskUnexpectedErrors,
        # Clients send the same few documents again and again, and the shipped markdown
        # fragment is large: parse and validate each distinct document once (within the
        # bytes `document_cache_bytes` allows).
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        parsing,
        lambda: AddValidationRules([document_limits]),
        validating,
    ]
    # The rules in the order Strawberry's context gathers them: graphql-core's, then each
    # AddValidationRules extension's in the extensions' order.
    rules: tuple[type[ASTValidationRule], ...] = (*specified_rules, document_limits)
    if production:
        extensions.append(DisableIntrospection)
        rules = (*rules, NoSchemaIntrospectionCustomRule)
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=execution_context_class,
        exception_handlers=[LivechatFailureHandler()],
        config=StrawberryConfig(
            scalar_map=SCALAR_MAP,
            disable_field_suggestions=production,
            name_converter=KeptNames(),
        ),
    )
    extensions_of_a_request = schema.get_extensions()
    schema.preparation = Preparation(
        documents=documents,
        max_tokens=limits.max_tokens,
        rules=rules,
        caches=(parsing, validating),
        observed=bool(unmirrored(extensions_of_a_request, (parsing, validating))),
        traced=any(isinstance(extension, GraphQLSpans) for extension in extensions_of_a_request),
        max_answer_bytes=limits.max_answer_bytes,
    )
    return schema


def unmirrored(
    extensions: Iterable[SchemaExtension], own: Iterable[type[SchemaExtension]]
) -> list[type[SchemaExtension]]:
    """The types among a schema's extensions (as Strawberry builds them for a request) that
    `Preparation` does not do the work of (`own`: the schema's document and validation caches).
    Types are compared exactly: a subclass may add a hook (`resolve`, `on_execute`) that the
    lean path would skip."""
    known = {*MIRRORED, *own}
    return [type(extension) for extension in extensions if type(extension) not in known]
