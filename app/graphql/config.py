"""The widget's config (GET livechat/config): what a widget asks first."""

from __future__ import annotations

from typing import Annotated, Union

import strawberry
from strawberry.scalars import JSON

from app.backends import base
from app.graphql.agents import LivechatAgent
from app.graphql.context import Info
from app.graphql.errors import LivechatError
from app.graphql.visitors import LivechatRoom, LivechatVisitor


@strawberry.type(description="The config answer's `settings`: how the widget behaves.")
class LivechatSettings:
    registration_form: bool = strawberry.field(description="Show the registration form.")
    name_field_registration_form: bool = strawberry.field(description="Ask for a name.")
    email_field_registration_form: bool = strawberry.field(description="Ask for an email.")
    display_offline_form: bool = strawberry.field(
        description="Offer the offline form when nobody is online."
    )
    file_upload: bool = strawberry.field(description="Visitors may upload files.")
    transcript: bool = strawberry.field(description="Offer a transcript by email.")
    visitors_can_close_chat: bool = strawberry.field(description="Visitors may close a chat.")
    allow_switching_departments: bool = strawberry.field(
        description="Visitors may switch department."
    )
    force_accept_data_processing_consent: bool = strawberry.field(
        description="Ask for consent to data processing before chatting."
    )
    show_connecting: bool = strawberry.field(description="Show 'connecting' until an agent.")
    agent_hidden_info: bool = strawberry.field(description="The agent's details are hidden.")
    limit_text_length: int | None = strawberry.field(
        description="The character limit of a message, when one is set."
    )
    language: str | None = strawberry.field(description="The widget's language, when set.")

    @classmethod
    def from_domain(cls, settings: base.WidgetSettings) -> LivechatSettings:
        return cls(
            registration_form=settings.registration_form,
            name_field_registration_form=settings.name_field_registration_form,
            email_field_registration_form=settings.email_field_registration_form,
            display_offline_form=settings.display_offline_form,
            file_upload=settings.file_upload,
            transcript=settings.transcript,
            visitors_can_close_chat=settings.visitors_can_close_chat,
            allow_switching_departments=settings.allow_switching_departments,
            force_accept_data_processing_consent=settings.force_accept_data_processing_consent,
            show_connecting=settings.show_connecting,
            agent_hidden_info=settings.agent_hidden_info,
            limit_text_length=settings.limit_text_length,
            language=settings.language,
        )


@strawberry.type(description="The widget's colours and titles.")
class LivechatTheme:
    title: str | None = strawberry.field(description="The title while someone is online.")
    color: str | None = strawberry.field(description="The title bar's colour while online.")
    offline_title: str | None = strawberry.field(description="The title while nobody is.")
    offline_color: str | None = strawberry.field(description="The title bar's colour then.")
    position: str | None = strawberry.field(description='"left" or "right" of the page.')

    @classmethod
    def from_domain(cls, theme: base.WidgetTheme) -> LivechatTheme:
        return cls(
            title=theme.title,
            color=theme.color,
            offline_title=theme.offline_title,
            offline_color=theme.offline_color,
            position=theme.position,
        )


@strawberry.type(description="The widget's texts, as the operator set them.")
class LivechatConfigMessages:
    offline_message: str | None = strawberry.field(description="Above the offline form.")
    offline_success_message: str | None = strawberry.field(
        description="After an offline message was sent."
    )
    offline_unavailable_message: str | None = strawberry.field(
        description="When nobody is online and the offline form is off."
    )
    conversation_finished_message: str | None = strawberry.field(
        description="When a conversation was closed."
    )
    conversation_finished_text: str | None = strawberry.field(description="The text below it.")
    transcript_message: str | None = strawberry.field(description="Offering the transcript.")
    registration_form_message: str | None = strawberry.field(
        description="Above the registration form."
    )
    data_processing_consent_text: str | None = strawberry.field(
        description="The consent asked for when it is required."
    )

    @classmethod
    def from_domain(cls, messages: base.WidgetMessages) -> LivechatConfigMessages:
        return cls(
            offline_message=messages.offline_message,
            offline_success_message=messages.offline_success_message,
            offline_unavailable_message=messages.offline_unavailable_message,
            conversation_finished_message=messages.conversation_finished_message,
            conversation_finished_text=messages.conversation_finished_text,
            transcript_message=messages.transcript_message,
            registration_form_message=messages.registration_form_message,
            data_processing_consent_text=messages.data_processing_consent_text,
        )


@strawberry.type(description="The satisfaction survey: its items, and the values each takes.")
class LivechatSurvey:
    items: list[str] = strawberry.field(description="What is rated (e.g. satisfaction).")
    values: list[str] = strawberry.field(description='The ratings, "1".."5".')

    @classmethod
    def from_domain(cls, survey: base.Survey) -> LivechatSurvey:
        return cls(items=list(survey.items), values=list(survey.values))


@strawberry.type(description="A department a visitor may choose.")
class LivechatDepartment:
    id: strawberry.ID = strawberry.field(description="The department's _id.")
    name: str = strawberry.field(description="Its name.")
    show_on_registration: bool = strawberry.field(description="Offered on the registration form.")
    show_on_offline_form: bool = strawberry.field(description="Offered on the offline form.")

    @classmethod
    def from_domain(cls, department: base.Department) -> LivechatDepartment:
        return cls(
            id=strawberry.ID(department.id),
            name=department.name,
            show_on_registration=department.show_on_registration,
            show_on_offline_form=department.show_on_offline_form,
        )


@strawberry.type(
    description="Rocket.Chat's config answer, typed; `raw` is the whole answer. With Livechat "
    "disabled only `enabled` is false and the rest empty."
)
class LivechatConfig:
    enabled: bool = strawberry.field(description="Whether Livechat is switched on.")
    online: bool = strawberry.field(description="Whether a chat would be answered now.")
    settings: LivechatSettings | None = strawberry.field(description="How the widget behaves.")
    theme: LivechatTheme | None = strawberry.field(description="How it looks.")
    messages: LivechatConfigMessages | None = strawberry.field(description="What it says.")
    survey: LivechatSurvey | None = strawberry.field(description="The satisfaction survey.")
    departments: list[LivechatDepartment] = strawberry.field(
        description="The departments a visitor may choose."
    )
    visitor: LivechatVisitor | None = strawberry.field(
        description="The visitor with the token asked about (Rocket.Chat's `guest`)."
    )
    room: LivechatRoom | None = strawberry.field(description="Their open room, if any.")
    agent: LivechatAgent | None = strawberry.field(
        description="The agent serving that room (null when hidden or none)."
    )
    raw: JSON = strawberry.field(description="Rocket.Chat's `config` object, whole.")

    @classmethod
    def from_domain(cls, config: base.WidgetConfig) -> LivechatConfig:
        return cls(
            enabled=config.enabled,
            online=config.online,
            settings=LivechatSettings.from_domain(config.settings) if config.settings else None,
            theme=LivechatTheme.from_domain(config.theme) if config.theme else None,
            messages=LivechatConfigMessages.from_domain(config.messages)
            if config.messages
            else None,
            survey=LivechatSurvey(
                items=list(config.survey.items), values=list(config.survey.values)
            )
            if config.survey
            else None,
            departments=[LivechatDepartment.from_domain(item) for item in config.departments],
            visitor=LivechatVisitor.from_domain(config.visitor) if config.visitor else None,
            room=LivechatRoom.from_domain(config.room) if config.room else None,
            agent=LivechatAgent.from_domain(config.agent) if config.agent else None,
            raw=JSON(config.raw),
        )


@strawberry.type(description="The widget's config.")
class LivechatConfigSuccess:
    config: LivechatConfig = strawberry.field(description="The config.")


LivechatConfigResult = Annotated[
    Union[LivechatConfigSuccess, LivechatError],  # noqa: UP007
    strawberry.union("LivechatConfigResult", description="The config, or why not."),
]


async def livechat_config(
    info: Info, token: str | None = None, department: str | None = None
) -> LivechatConfigResult:
    config = await info.context.backend.config(token or None, department or None)
    return LivechatConfigSuccess(config=LivechatConfig.from_domain(config))
