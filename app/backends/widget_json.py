"""Rocket.Chat's JSON for the widget's config answer, custom fields and survey, to and from the
domain records.

The config answer is read here for both backends: the in-process one writes Rocket.Chat's
`config` object from its settings and reads it back through `config_from_json`, the upstream one
reads the server's, so the typed answer can only differ where the JSON does.
"""

from __future__ import annotations

from app.backends.base import (
    CustomField,
    Department,
    JsonObject,
    Survey,
    SurveyAnswer,
    WidgetConfig,
    WidgetMessages,
    WidgetSettings,
    WidgetTheme,
)
from app.backends.rocketchat_json import agent_from_json, room_from_json, visitor_from_json

# The survey Rocket.Chat's config answers (fixed in its code, `agentResposiveness` [sic]).
SURVEY_ITEMS = ("satisfaction", "agentKnowledge", "agentResposiveness", "agentFriendliness")
SURVEY_VALUES = ("1", "2", "3", "4", "5")


def _text(block: JsonObject, key: str) -> str | None:
    value = block.get(key)
    return value if isinstance(value, str) else None


def _flag(block: JsonObject, key: str, default: bool = False) -> bool:
    value = block.get(key, default)
    return bool(value) if value is not None else default


def _settings(block: JsonObject) -> WidgetSettings:
    limit = block.get("limitTextLength")
    return WidgetSettings(
        registration_form=_flag(block, "registrationForm"),
        name_field_registration_form=_flag(block, "nameFieldRegistrationForm"),
        email_field_registration_form=_flag(block, "emailFieldRegistrationForm"),
        display_offline_form=_flag(block, "displayOfflineForm"),
        file_upload=_flag(block, "fileUpload"),
        transcript=_flag(block, "transcript"),
        # Servers before 6.13 had no such setting: visitors could always close.
        visitors_can_close_chat=_flag(block, "visitorsCanCloseChat", True),
        allow_switching_departments=_flag(block, "allowSwitchingDepartments"),
        force_accept_data_processing_consent=_flag(block, "forceAcceptDataProcessingConsent"),
        show_connecting=_flag(block, "showConnecting"),
        agent_hidden_info=_flag(block, "agentHiddenInfo"),
        # `false` when the limit is off: no limit.
        limit_text_length=limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        language=_text(block, "language") or None,
    )


def _theme(block: JsonObject) -> WidgetTheme:
    return WidgetTheme(
        title=_text(block, "title"),
        color=_text(block, "color"),
        offline_title=_text(block, "offlineTitle"),
        offline_color=_text(block, "offlineColor"),
        position=_text(block, "position"),
    )


def _messages(block: JsonObject) -> WidgetMessages:
    return WidgetMessages(
        offline_message=_text(block, "offlineMessage"),
        offline_success_message=_text(block, "offlineSuccessMessage"),
        offline_unavailable_message=_text(block, "offlineUnavailableMessage"),
        conversation_finished_message=_text(block, "conversationFinishedMessage"),
        conversation_finished_text=_text(block, "conversationFinishedText"),
        transcript_message=_text(block, "transcriptMessage"),
        registration_form_message=_text(block, "registrationFormMessage"),
        data_processing_consent_text=_text(block, "dataProcessingConsentText"),
    )


def _survey(block: JsonObject) -> Survey:
    return Survey(
        items=tuple(str(item) for item in block.get("items") or ()),
        values=tuple(str(value) for value in block.get("values") or ()),
    )


def department_to_json(department: Department) -> JsonObject:
    """A department as the config answer lists it (its email is not shown to visitors)."""
    return {
        "_id": department.id,
        "name": department.name,
        "showOnRegistration": department.show_on_registration,
        "showOnOfflineForm": department.show_on_offline_form,
    }


def department_from_json(document: JsonObject) -> Department:
    return Department(
        id=str(document["_id"]),
        name=str(document.get("name", "")),
        show_on_registration=_flag(document, "showOnRegistration", True),
        show_on_offline_form=_flag(document, "showOnOfflineForm", True),
    )


def config_from_json(raw: JsonObject) -> WidgetConfig:
    """The config object (without `{config, success}`), typed; with Livechat disabled Rocket.Chat
    sends `{enabled: false}` alone, so everything else is empty."""
    enabled = bool(raw.get("enabled", False))
    if not enabled:
        return WidgetConfig(enabled=False, online=False, raw=raw)
    guest, room, agent = raw.get("guest"), raw.get("room"), raw.get("agent")
    room_document = None
    if isinstance(room, dict) and room.get("_id"):
        # The config's room lacks `v` and marks an open room with `open: true`.
        room_document = {"open": True, **room}
        if isinstance(guest, dict):
            room_document.setdefault(
                "v",
                {
                    "_id": guest.get("_id"),
                    "token": guest.get("token"),
                    "username": guest.get("username", ""),
                },
            )
    return WidgetConfig(
        enabled=True,
        online=bool(raw.get("online", False)),
        raw=raw,
        settings=_settings(raw.get("settings") or {}),
        theme=_theme(raw.get("theme") or {}),
        messages=_messages(raw.get("messages") or {}),
        survey=_survey(raw.get("survey") or {}),
        departments=tuple(department_from_json(item) for item in raw.get("departments") or ()),
        visitor=visitor_from_json(guest) if isinstance(guest, dict) and guest.get("_id") else None,
        room=room_from_json(room_document) if room_document is not None else None,
        agent=agent_from_json(agent)
        if isinstance(agent, dict) and agent.get("_id") and "username" in agent
        else None,
    )


def custom_field_to_json(field: CustomField) -> JsonObject:
    return {"key": field.key, "value": field.value, "overwrite": field.overwrite}


def custom_field_from_json(document: JsonObject) -> CustomField:
    """The answer's `field` (`Key` with a capital K in the plural route's answer)."""
    return CustomField(
        key=str(document.get("key", document.get("Key", ""))),
        value=str(document.get("value", "")),
        overwrite=bool(document.get("overwrite", True)),
    )


def survey_answers_from_json(data: JsonObject) -> list[SurveyAnswer]:
    """room.survey's `data` object ({name: value}) in its order."""
    return [SurveyAnswer(name=str(name), value=str(value)) for name, value in data.items()]
