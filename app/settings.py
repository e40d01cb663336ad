"""All configuration in one typed object, read from LIVECHAT_GRAPHQL_* environment variables."""

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DepartmentSetting(BaseModel):
    """One entry of DEPARTMENTS (Rocket.Chat's livechat department)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: str | None = None
    show_on_registration: bool = Field(default=True, alias="showOnRegistration")
    show_on_offline_form: bool = Field(default=True, alias="showOnOfflineForm")


class CustomFieldSetting(BaseModel):
    """One entry of CUSTOM_FIELDS (Rocket.Chat's livechat custom field definition)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1)
    label: str = ""
    scope: Literal["visitor", "room"] = "visitor"
    regexp: str = ""
    required: bool = False

    @field_validator("regexp")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"regexp {pattern!r} does not compile: {error}") from None
        return pattern


class AgentSetting(BaseModel):
    """One in-process agent of `AGENTS`, as Rocket.Chat's user with the livechat-agent role."""

    model_config = {"frozen": True, "extra": "forbid"}

    username: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=1)
    name: str | None = None
    email: str | None = None
    departments: list[str] = Field(default_factory=list)
    status: Literal["online", "away", "busy", "offline"] = "online"


class Settings(BaseSettings):
    """Everything the app needs to start; CLI flags override the environment."""

    model_config = SettingsConfigDict(
        env_prefix="LIVECHAT_GRAPHQL_", frozen=True, populate_by_name=True
    )

    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8000, description="port to listen on")
    backend: Literal["inprocess", "upstream"] = Field(
        default="inprocess",
        description="inprocess: Rocket.Chat's rules on SQLite; upstream: a Rocket.Chat server",
    )
    upstream_url: str | None = Field(
        default=None, description="the Rocket.Chat server, for the upstream backend"
    )
    database: Path = Field(
        default=Path("livechat.db"), description="SQLite file of the in-process backend"
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        description="server processes; default 1 in-process (one SQLite writer), else one per CPU",
    )

    message_character_limit: int = Field(
        default=5000,
        ge=1,
        description="Rocket.Chat's Livechat_message_character_limit: longer messages are refused.",
    )
    upstream_connect_timeout: float = Field(default=3.0, gt=0, description="seconds")
    upstream_read_timeout: float = Field(default=10.0, gt=0, description="seconds")
    upstream_total_timeout: float = Field(
        default=20.0, gt=0, description="seconds for a whole operation, retries included"
    )
    upstream_max_attempts: int = Field(default=4, ge=1)
    upstream_backoff_base: float = Field(default=0.1, ge=0, description="seconds")
    upstream_backoff_cap: float = Field(default=2.0, ge=0, description="seconds")
    upstream_retry_after_cap: float = Field(
        default=5.0, ge=0, description="longest Retry-After we wait out before answering"
    )
    upstream_max_connections: int = Field(
        default=100,
        ge=1,
        description="per pool: one for the calls answered whole, one for files and traced calls",
    )
    upstream_realtime_url: str | None = Field(
        default=None, description="Rocket.Chat's DDP WebSocket; ws(s)://<upstream>/websocket"
    )
    upstream_ddp_ping_after: float = Field(
        default=30.0,
        gt=0,
        description="seconds of upstream DDP silence before a ping",
    )
    upstream_ddp_drop_after: float = Field(
        default=60.0, gt=0, description="seconds of silence before the DDP socket is dropped"
    )
    upstream_ddp_backoff_base: float = Field(default=0.2, ge=0, description="seconds")
    upstream_ddp_backoff_cap: float = Field(default=10.0, ge=0, description="seconds")
    websocket_compression: bool = Field(
        default=False,
        description="permessage-deflate on WebSockets: off, so that an event serialised once is "
        "sent as is to every subscriber instead of being compressed again per connection",
    )
    ddp_heartbeat: float = Field(
        default=15.0,
        gt=0,
        description="seconds of inbound silence before /websocket pings, and closes after "
        "as long again (Meteor's heartbeat)",
    )
    forward_headers: list[str] = Field(
        default_factory=lambda: ["X-Auth-Token", "X-User-Id", "Accept-Language"],
        description="request headers copied from the GraphQL request to the upstream call",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or CIDRs (a JSON list) of proxies in front of the facade whose"
        " X-Forwarded-For names the visitor; empty: the TCP peer is the visitor",
    )
    rate_limit: Literal["off", "rocketchat"] = Field(
        default="off",
        description="in-process: rocketchat limits calls per client address, route and method"
        " as Rocket.Chat does by default (10 a minute; 5 for POST livechat/visitor and GET"
        " livechat/room), and DDP method calls per connection (10 a 10 s window; stream-*"
        " methods 40 a 40 s one)",
    )

    # The in-process Rocket.Chat's livechat settings that more than one area reads.
    accept_chats_with_no_agents: bool = Field(
        default=True,
        description="in-process: open a room that waits when no agent is online (false:"
        " no-agent-online, Rocket.Chat's default); also makes the config answer `online`",
    )
    file_upload_enabled: bool = Field(
        default=True,
        description="in-process: Rocket.Chat's Livechat_fileupload_enabled and"
        " FileUpload_Enabled together; the config answer's `settings.fileUpload`",
    )

    # The in-process Rocket.Chat's widget settings: what GET livechat/config reports, its
    # departments, custom fields and mail. Defaults are Rocket.Chat's.
    livechat_enabled: bool = Field(
        default=True,
        description="in-process: Rocket.Chat's Livechat_enabled (false: config answers"
        " enabled false, new rooms are refused with error-omnichannel-is-disabled)",
    )
    registration_form: bool = Field(default=True, description="Livechat_registration_form")
    name_field_registration_form: bool = Field(
        default=True, description="Livechat_name_field_registration_form"
    )
    email_field_registration_form: bool = Field(
        default=True, description="Livechat_email_field_registration_form"
    )
    display_offline_form: bool = Field(
        default=True,
        description="Livechat_display_offline_form (false: offline messages are refused)",
    )
    enable_transcript: bool = Field(default=False, description="Livechat_enable_transcript")
    visitors_can_close_chat: bool = Field(
        default=True, description="Omnichannel_allow_visitors_to_close_conversation"
    )
    allow_switching_departments: bool = Field(
        default=True, description="Livechat_allow_switching_departments"
    )
    force_accept_data_processing_consent: bool = Field(
        default=False, description="Livechat_force_accept_data_processing_consent"
    )
    show_connecting: bool = Field(default=False, description="Livechat_Show_Connecting")
    language: str = Field(default="", description="Rocket.Chat's Language (empty: the browser's)")
    theme: dict[str, str] = Field(
        default_factory=dict,
        description="JSON object over Rocket.Chat's theme: title (Livechat_title, default"
        ' "Rocket.Chat"), color ("#C1272D"), offlineTitle ("Leave a message"), offlineColor'
        ' ("#666666"), position ("right")',
    )
    messages: dict[str, str] = Field(
        default_factory=dict,
        description="JSON object of the widget's texts (offlineMessage, offlineSuccessMessage,"
        " offlineUnavailableMessage, conversationFinishedMessage, conversationFinishedText,"
        " transcriptMessage, registrationFormMessage, dataProcessingConsentText); empty"
        " by default, as in Rocket.Chat",
    )
    departments: list[DepartmentSetting] = Field(
        default_factory=list,
        description='JSON list of {"id", "name", "email", "showOnRegistration",'
        ' "showOnOfflineForm"}; none by default',
    )
    custom_fields: list[CustomFieldSetting] = Field(
        default_factory=list,
        description='JSON list of {"key", "label", "scope": "visitor"|"room", "regexp",'
        ' "required"}; none by default',
    )
    offline_email: str = Field(
        default="",
        description="Livechat_offline_email: where offline messages go when their department"
        " has no email",
    )
    smtp_url: str | None = Field(
        default=None,
        description="smtp://host:port (smtps:// for TLS, user:password@ for login): mail is"
        " sent there; it is kept in the database's outbox in any case",
    )
    mail_from: str = Field(
        default="no-reply@livechat.invalid", description="the From of mail the server sends"
    )
    # The in-process agents (issue 24): who answers the visitor, and a demo one for development.
    agents: list[AgentSetting] = Field(
        default_factory=list,
        description='in-process: the agents, a JSON list of {"username", "password", "name",'
        ' "email", "departments", "status"}; they act through Rocket.Chat\'s agent API',
    )
    demo_agent: Literal["off", "echo"] = Field(
        default="off",
        description="in-process: echo adds the agent `demo` (password `demo`), who shows typing"
        " and then answers each visitor message with its text quoted in markdown; `make run`"
        " turns it on; refused in production mode",
    )
    show_agent_info: bool = Field(
        default=True,
        description="in-process: Rocket.Chat's Livechat_show_agent_info; false answers agent"
        " info as hidden and sends no agent status or typing",
    )
    show_agent_email: bool = Field(
        default=True, description="in-process: Rocket.Chat's Livechat_show_agent_email"
    )

    # Uploads and downloads (files).
    file_upload_max_size: int = Field(
        default=104_857_600,
        ge=-1,
        description="Rocket.Chat's FileUpload_MaxFileSize: the largest file in bytes (-1: no"
        " limit; 0: the default); bounds a multipart upload instead of MAX_BODY_BYTES",
    )
    file_upload_media_types: list[str] = Field(
        default_factory=list,
        description="in-process: Rocket.Chat's FileUpload_MediaTypeWhiteList, a JSON list of"
        ' media types ("image/*" wildcards); empty: all',
    )
    file_upload_blocked_media_types: list[str] = Field(
        default_factory=lambda: ["image/svg+xml"],
        description="in-process: Rocket.Chat's FileUpload_MediaTypeBlackList (wins over the"
        " allow list)",
    )
    file_upload_directory: Path | None = Field(
        default=None,
        description="in-process: where uploaded files are kept (default: beside DATABASE,"
        " named after it with .files)",
    )

    def upload_limit(self) -> int | None:
        """The largest upload in bytes, None for no limit (Rocket.Chat reads 0 as its default)."""
        if self.file_upload_max_size < 0:
            return None
        return self.file_upload_max_size or 104_857_600

    def upload_directory(self) -> Path:
        return self.file_upload_directory or self.database.with_name(self.database.name + ".files")

    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="TRACE adds uvicorn's line per connection made and lost"
    )
    log_access_every: int = Field(
        default=100, ge=1, description="access log: every failed request, one success in N"
    )
    log_format: Literal["auto", "text", "json"] = Field(
        default="auto",
        description="text: one readable line per event; json: JSON lines; auto: text on a"
        " terminal, JSON otherwise",
    )
    production: bool = Field(
        default=False, description="no introspection, no field suggestions, no GraphiQL"
    )
    cors_origins: list[str] = Field(default_factory=list, description="allowed CORS origins")
    # Where GraphQL Armor and Apollo Router put their defaults, except what the shipped
    # documents need: the markdown fragment is 11 levels deep and about 2,300 tokens, and
    # graphql-js's introspection query (what every IDE sends) is 15 to 16 levels deep.
    max_depth: int = Field(
        default=10, ge=1, description="selection depth outside `md` and introspection"
    )
    max_markdown_depth: int = Field(default=13, ge=1, description="selection depth inside `md`")
    max_introspection_depth: int = Field(
        default=20, ge=1, description="selection depth inside `__schema` and `__type`"
    )
    max_aliases: int = Field(default=15, ge=0)
    max_root_fields: int = Field(default=10, ge=1)
    max_tokens: int = Field(default=8000, ge=100)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)

    metrics: bool = Field(
        default=False,
        description="serve Prometheus metrics at GET /metrics (the whole server's, any worker)",
    )
    shutdown_timeout: int = Field(
        default=10,
        ge=0,
        description="seconds in-flight requests get to finish after SIGTERM, then they are cut",
    )
    shutdown_drain: float = Field(
        default=1.0,
        ge=0,
        description="seconds after SIGTERM of answering /healthz 503 and closing connections"
        " after each response, before the server stops accepting (in every worker)",
    )
    # OpenTelemetry reads its own standard variables (no prefix); these decide whether to trace.
    otel_sdk_disabled: bool = Field(default=False, validation_alias="OTEL_SDK_DISABLED")
    otel_traces_exporter: str | None = Field(default=None, validation_alias="OTEL_TRACES_EXPORTER")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
    )
    otel_service_name: str = Field(default="livechat-graphql", validation_alias="OTEL_SERVICE_NAME")

    markdown_colors: bool = True
    markdown_emoticons: bool = True
    markdown_katex_dollar_syntax: bool = False
    markdown_katex_parenthesis_syntax: bool = True
    markdown_custom_domains: list[str] = Field(default_factory=list)

    # The HTTP edge (app/http_protocol.py): what one connection may hold and for how long.
    max_header_bytes: int = Field(
        default=65_536,
        ge=1024,
        description="a request's line and headers together; larger is answered 431 (a GET of"
        " the shipped history document with its variables is about 16 KB)",
    )
    header_timeout: float = Field(
        default=10.0, gt=0, description="seconds for a request's headers, from their first byte"
    )
    body_timeout: float = Field(
        default=30.0,
        gt=0,
        description="seconds for a request's body, from the end of its headers (MAX_BODY_BYTES"
        " at 34 KB/s)",
    )
    keep_alive_timeout: int = Field(
        default=5,
        ge=1,
        description="seconds a connection may wait idle for its first or next request",
    )
    max_connections: int | None = Field(
        default=None,
        ge=2,
        description="connections (WebSockets included) served at once per process; at the cap"
        " a new one closes the longest idle, else is answered 503; default the open-file limit"
        " less twice UPSTREAM_MAX_CONNECTIONS and 64",
    )

    # What one request may cost: the answer's values estimated from the document
    # (`app.graphql.cost`; the shipped history query at `limit: 100` is about 3 million, 4.5
    # with the `__typename` Apollo Client adds to every selection), the
    # answer's bytes, and the bytes every cache of documents holds together.
    max_cost: int = Field(
        default=6_000_000, ge=1, description="estimated values one operation may answer"
    )
    max_field_repeats: int = Field(
        default=10, ge=1, description="times one field may be selected on one type"
    )
    max_answer_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="larger answers are refused with a GraphQL error (BAD_REQUEST)",
    )
    document_cache_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024 * 1024,
        description="parsed documents, their validation, plans and persisted queries, together",
    )

    # Slow consumers: what one WebSocket may leave unread, and hold, before it is cut off.
    websocket_outbox_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=65536,
        description="bytes a WebSocket (/graphql, /websocket) may leave unread; a client further "
        "behind is closed with 1008",
    )
    max_subscriptions_per_connection: int = Field(
        default=100,
        ge=1,
        description="operations one graphql-transport-ws socket runs at once, and subs one DDP "
        "connection holds; more are refused",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or CIDR") from None
        return proxies

    @model_validator(mode="after")
    def _no_demo_in_production(self) -> "Settings":
        if self.production and self.demo_agent != "off":
            raise ValueError("DEMO_AGENT is for development: it cannot run in production mode")
        return self

    @model_validator(mode="after")
    def _one_writer(self) -> "Settings":
        if self.backend == "inprocess" and (self.workers or 1) > 1:
            raise ValueError(
                "the in-process backend runs in one process (its SQLite store has one writer);"
                " use workers with the upstream backend"
            )
        return self

    def tracing_exporter(self) -> str | None:
        """The span exporter to use, or None when tracing is off (the default)."""
        if self.otel_sdk_disabled:
            return None
        kind = (self.otel_traces_exporter or "").strip().lower()
        if kind == "none":
            return None
        if kind:
            return kind
        return "otlp" if self.otel_exporter_otlp_endpoint else None

    def worker_count(self) -> int:
        if self.workers is not None:
            return self.workers
        return 1 if self.backend == "inprocess" else os.cpu_count() or 1

    def export_to_environment(self) -> None:
        """Write every setting to LIVECHAT_GRAPHQL_*, for worker processes that build their
        own Settings from the environment (CLI flags included)."""
        prefix = self.model_config.get("env_prefix", "")
        for name, value in self.model_dump(mode="json").items():
            if value is not None:
                text = value if isinstance(value, str) else json.dumps(value)
                os.environ[f"{prefix}{name.upper()}"] = text

    def markdown_options(self) -> dict[str, object]:
        """The parser options Rocket.Chat derives from its settings, in the parser's own names."""
        return {
            "colors": self.markdown_colors,
            "emoticons": self.markdown_emoticons,
            "katex": {
                "dollarSyntax": self.markdown_katex_dollar_syntax,
                "parenthesisSyntax": self.markdown_katex_parenthesis_syntax,
            },
            "customDomains": list(self.markdown_custom_domains),
        }
