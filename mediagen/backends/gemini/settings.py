"""The ``gemini`` backend's own settings, and its group of a client configuration.

:class:`GeminiSettings` is what the flows, the CLI and the engine use: the
key (``GEMINI_API_KEY`` / ``GOOGLE_API_KEY`` / ``MEDIAGEN_GEMINI_API_KEY``),
or the name of a secret that holds it, a gateway, timeouts, retries, the alt
text model and price corrections (``MEDIAGEN_GEMINI_*``, ``.env`` as the core
settings). The core never reads them: it asks the backend
(:class:`~mediagen.backends.gemini.backend.GeminiBackend`), which builds them
through :meth:`mediagen.settings.Settings.backend_settings`, with the options
a caller gave in code on top (a ``MediaClient``'s own key).

:class:`GeminiConfig` is the public ``ClientConfig.gemini`` group (key,
gateway, default model) that API users build in code; it hands its key and
gateway to the backend as options, never through the process environment.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mediagen.backends.gemini.catalogue import DEFAULT_TEXT_MODEL
from mediagen.backends.gemini.pricing import ModelPrice
from mediagen.backends.options import BackendConfig
from mediagen.errors import ConfigurationError
from mediagen.spec import limits

NAME = "gemini"
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "MEDIAGEN_GEMINI_API_KEY")


def _http_url(value: str | None) -> str | None:
    if value is not None and not limits.is_http_url(value):
        raise ValueError("must be an http:// or https:// URL")
    return value


class GeminiSettings(BaseSettings):
    """Read from ``MEDIAGEN_GEMINI_*`` (and the vendor's key names); values in code win."""

    model_config = SettingsConfigDict(
        env_prefix="MEDIAGEN_GEMINI_", env_file=".env", extra="ignore", populate_by_name=True
    )

    api_key: SecretStr | None = Field(None, validation_alias=AliasChoices(*KEY_VARIABLES))
    base_url: str | None = Field(None, description="Gateway or proxy for the Gemini API.")
    api_key_block: str | None = Field(
        None,
        description="Name of a Prefect Secret block holding the Gemini key (used by the flow "
        "when no GEMINI_API_KEY/GOOGLE_API_KEY is set).",
    )
    timeout: float = Field(120.0, gt=0, le=3600, description="Seconds one request may take.")
    max_attempts: int = Field(
        4, ge=1, le=20, description="Attempts per model for one image (429, 5xx, timeouts)."
    )
    max_wait: float = Field(
        90.0, ge=0, description="Most seconds spent retrying one image on one model."
    )
    retry_base_delay: float = Field(
        1.0, ge=0, description="First backoff in seconds; doubles, plus jitter."
    )
    # The Flex tier (delivery: flex) answers in 1-15 minutes and sheds load with 429/503
    # (ai.google.dev/gemini-api/docs/optimization, read 2026-11-29): its own, longer bounds.
    flex_timeout: float = Field(
        960.0, gt=0, le=3600, description="Seconds one Flex-tier request may take."
    )
    flex_max_wait: float = Field(
        1800.0, ge=0, description="Most seconds spent retrying one Flex-tier image on one model."
    )
    flex_retry_base_delay: float = Field(
        30.0, ge=0, description="First backoff (s) of a Flex-tier retry; doubles, plus jitter."
    )
    describe_model: str = Field(
        DEFAULT_TEXT_MODEL,
        min_length=1,
        description="Text model that writes alt text for images with 'alt_text: auto'.",
    )
    pricing: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="Per-model prices (JSON) that override or extend the built-in table.",
    )

    _check_url = field_validator("base_url")(classmethod(lambda cls, v: _http_url(v)))


class GeminiConfig(BackendConfig):
    """Gemini: the key, an optional gateway, the default model (``ClientConfig.gemini``)."""

    backend_name: ClassVar[str] = NAME
    model_config = SettingsConfigDict(
        env_prefix="MEDIAGEN_GEMINI_", env_file=".env", extra="ignore", populate_by_name=True
    )

    api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("api_key", "GEMINI_API_KEY", "GOOGLE_API_KEY"),
        description="The Gemini API key. Never logged, never in a manifest.",
    )
    base_url: str | None = Field(None, description="Gateway, proxy or local fake server.")
    model: str | None = Field(None, description="Default model (else the backend's default).")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not a URL: it must start with http:// or https://")
        return value

    def backend_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.api_key is not None:
            options["api_key"] = self.api_key
        if self.base_url is not None:
            options["base_url"] = self.base_url
        return options

    def problems(self) -> list[str]:
        if self.api_key is None:
            return [
                "GEMINI_API_KEY is not set (or GOOGLE_API_KEY): backend 'gemini' needs an API key"
            ]
        return []


def base_url(own: GeminiSettings) -> str | None:
    """MEDIAGEN_GEMINI_BASE_URL (None: Google's endpoint); ConfigurationError if malformed."""
    url = (own.base_url or "").strip()
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"MEDIAGEN_GEMINI_BASE_URL must start with http:// or https://, got {url!r}"
        )
    return url
