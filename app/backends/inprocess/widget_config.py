"""The in-process Rocket.Chat's livechat settings, and the `config` object of GET livechat/config
that Rocket.Chat's `settings()` (api/lib/livechat.ts) builds from them.

Made once from `Settings` (defaults are Rocket.Chat's), handed to the backend as plain data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from app.backends.base import Agent, Department, JsonObject, Room, Visitor
from app.backends.rocketchat_json import agent_to_json
from app.backends.widget_json import SURVEY_ITEMS, SURVEY_VALUES, department_to_json
from app.settings import Settings

# Rocket.Chat's defaults for the theme (Livechat_title, Livechat_title_color,
# Livechat_offline_title, Livechat_offline_title_color, Livechat_widget_position).
THEME_DEFAULTS = {
    "title": "Rocket.Chat",
    "color": "#C1272D",
    "offlineTitle": "Leave a message",
    "offlineColor": "#666666",
    "position": "right",
}
MESSAGE_KEYS = (
    "offlineMessage",
    "offlineSuccessMessage",
    "offlineUnavailableMessage",
    "conversationFinishedMessage",
    "conversationFinishedText",
    "transcriptMessage",
    "registrationFormMessage",
    "dataProcessingConsentText",
)


@dataclass(frozen=True, slots=True)
class CustomFieldDefinition:
    """Rocket.Chat's livechat custom field: where its value goes, and what it must match."""

    key: str
    scope: str = "visitor"
    regexp: str = ""
    label: str = ""
    required: bool = False

    def accepts(self, value: str) -> bool:
        """Rocket.Chat's `new RegExp(regexp).test(value)`: a match anywhere, no anchors."""
        return not self.regexp or re.search(self.regexp, value) is not None


@dataclass(frozen=True, slots=True)
class WidgetOptions:
    """What the widget's operations read of the settings."""

    enabled: bool = True
    accept_chats_with_no_agents: bool = True
    registration_form: bool = True
    name_field_registration_form: bool = True
    email_field_registration_form: bool = True
    display_offline_form: bool = True
    file_upload: bool = True
    transcript: bool = False
    visitors_can_close_chat: bool = True
    allow_switching_departments: bool = True
    force_accept_data_processing_consent: bool = False
    show_connecting: bool = False
    show_agent_info: bool = True
    language: str = ""
    theme: dict[str, str] = field(default_factory=lambda: dict(THEME_DEFAULTS))
    messages: dict[str, str] = field(default_factory=lambda: dict.fromkeys(MESSAGE_KEYS, ""))
    departments: tuple[Department, ...] = ()
    custom_fields: tuple[CustomFieldDefinition, ...] = ()
    offline_email: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> WidgetOptions:
        return cls(
            enabled=settings.livechat_enabled,
            accept_chats_with_no_agents=settings.accept_chats_with_no_agents,
            registration_form=settings.registration_form,
            name_field_registration_form=settings.name_field_registration_form,
            email_field_registration_form=settings.email_field_registration_form,
            display_offline_form=settings.display_offline_form,
            file_upload=settings.file_upload_enabled,
            transcript=settings.enable_transcript,
            visitors_can_close_chat=settings.visitors_can_close_chat,
            allow_switching_departments=settings.allow_switching_departments,
            force_accept_data_processing_consent=settings.force_accept_data_processing_consent,
            show_connecting=settings.show_connecting,
            show_agent_info=settings.show_agent_info,
            language=settings.language,
            theme={**THEME_DEFAULTS, **settings.theme},
            messages={**dict.fromkeys(MESSAGE_KEYS, ""), **settings.messages},
            departments=tuple(
                Department(
                    id=item.id,
                    name=item.name,
                    email=item.email,
                    show_on_registration=item.show_on_registration,
                    show_on_offline_form=item.show_on_offline_form,
                )
                for item in settings.departments
            ),
            custom_fields=tuple(
                CustomFieldDefinition(
                    key=item.key,
                    scope=item.scope,
                    regexp=item.regexp,
                    label=item.label,
                    required=item.required,
                )
                for item in settings.custom_fields
            ),
            offline_email=settings.offline_email,
        )

    def department(self, id_or_name: str) -> Department | None:
        """Rocket.Chat's `LivechatDepartment.findOneByIdOrName`."""
        for department in self.departments:
            if id_or_name in (department.id, department.name):
                return department
        return None

    def custom_field(self, key: str) -> CustomFieldDefinition | None:
        for definition in self.custom_fields:
            if definition.key == key:
                return definition
        return None

    def online(self, department: str | None, agent_online: Callable[[str | None], bool]) -> bool:
        """`online`: chats are accepted with no agent, or an agent is online (for the
        department when one is asked about, by id or name)."""
        if self.accept_chats_with_no_agents:
            return True
        if department is None:
            return agent_online(None)
        known = self.department(department)
        return known is not None and agent_online(known.id)

    def settings_json(self) -> JsonObject:
        """The `settings` block, in Rocket.Chat's names."""
        return {
            "registrationForm": self.registration_form,
            "allowSwitchingDepartments": self.allow_switching_departments,
            "nameFieldRegistrationForm": self.name_field_registration_form,
            "emailFieldRegistrationForm": self.email_field_registration_form,
            "displayOfflineForm": self.display_offline_form,
            "videoCall": False,
            "fileUpload": self.file_upload,
            "language": self.language,
            "transcript": self.transcript,
            "historyMonitorType": "url",
            "forceAcceptDataProcessingConsent": self.force_accept_data_processing_consent,
            "showConnecting": self.show_connecting,
            "agentHiddenInfo": not self.show_agent_info,
            "clearLocalStorageWhenChatEnded": False,
            "limitTextLength": False,
            "hiddenSystemMessages": [],
            "hideWatermark": False,
            "visitorsCanCloseChat": self.visitors_can_close_chat,
        }

    def config_json(
        self,
        *,
        online: bool,
        visitor: Visitor | None = None,
        room: Room | None = None,
        room_department: str | None = None,
        agent: Agent | None = None,
    ) -> JsonObject:
        """Rocket.Chat's `config` object: `{enabled: false}` alone when Livechat is off."""
        if not self.enabled:
            return {"enabled": False}
        config: JsonObject = {
            "enabled": True,
            "settings": self.settings_json(),
            "theme": {**self.theme, "actionLinks": {"webrtc": [], "jitsi": []}},
            "messages": dict(self.messages),
            "survey": {"items": list(SURVEY_ITEMS), "values": list(SURVEY_VALUES)},
            "triggers": [],
            "departments": [department_to_json(item) for item in self.departments],
            "resources": {"sound": "/sounds/chime.mp3", "emojis": []},
            "online": online,
            # Rocket.Chat EE's `livechat.onLoadConfigApi` hook: the visitor-scope custom fields,
            # which its widget's registration form asks for.
            "customFields": [
                {
                    "_id": item.key,
                    "label": item.label,
                    "regexp": item.regexp,
                    "required": item.required,
                    "type": "input",
                }
                for item in self.custom_fields
                if item.scope == "visitor"
            ],
        }
        if visitor is not None:
            guest: JsonObject = {
                "_id": visitor.id,
                "name": visitor.name,
                "username": visitor.username,
                "token": visitor.token,
            }
            if visitor.email is not None:
                guest["visitorEmails"] = [{"address": visitor.email}]
            if visitor.department is not None:
                guest["department"] = visitor.department
            config["guest"] = guest
        if room is not None:
            room_json: JsonObject = {"_id": room.id, "open": room.open}
            if room_department is not None:
                room_json["departmentId"] = room_department
            if room.agent_id is not None:
                room_json["servedBy"] = {"_id": room.agent_id}
            config["room"] = room_json
        if agent is not None:
            config["agent"] = agent_to_json(agent) if self.show_agent_info else {"hiddenInfo": True}
        return config
