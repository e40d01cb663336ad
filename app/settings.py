"""All configuration in one typed object, read from LIVECHAT_GRAPHQL_* environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the app needs to start; CLI flags override the environment."""

    model_config = SettingsConfigDict(env_prefix="LIVECHAT_GRAPHQL_", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8000
    backend: Literal["inprocess", "upstream"] = "inprocess"
    upstream_url: str | None = None
    database: Path = Path("livechat.db")

    message_character_limit: int = Field(
        default=5000,
        ge=1,
        description="Rocket.Chat's Livechat_message_character_limit: longer messages are refused.",
    )
    markdown_colors: bool = True
    markdown_emoticons: bool = True
    markdown_katex_dollar_syntax: bool = False
    markdown_katex_parenthesis_syntax: bool = True
    markdown_custom_domains: list[str] = Field(default_factory=list)

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
