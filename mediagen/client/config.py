"""Configuration of :class:`mediagen.client.media_client.MediaClient`: backend, storage and brand.

The three groups of the service mediagen replaces (its backend, media storage
and brand config helpers), each a pydantic-settings class reading its own
variables:

- the backend's group (``ClientConfig.gemini``, a
  :class:`~mediagen.backends.options.BackendConfig` the backend defines:
  key, gateway, default model), handed to the backend as its options, never
  through the process environment;
- :class:`StorageConfig`: ``MEDIAGEN_STORAGE_*`` (the names the flows' settings use);
- :class:`BrandConfig`: ``MEDIAGEN_BRAND_*``.

Values given in code win; whatever is left out comes from the environment (or
``.env``), as pydantic-settings does. :meth:`ClientConfig.from_env` never stops
at the first bad variable: it collects every problem of every group, and
:meth:`ClientConfig.problems` adds what only the whole picture tells (the chosen
backend without its key, an S3 provider without a bucket). ``validate()`` raises
one :class:`~mediagen.errors.ConfigurationError` naming all of them.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mediagen.backends.gemini.settings import GeminiConfig
from mediagen.backends.options import BackendConfig
from mediagen.errors import ConfigurationError
from mediagen.settings import Settings
from mediagen.spec.images import BrandColor
from mediagen.spec.rate_limits import RateLimit
from mediagen.spec.storage_target import StorageFields, StorageTarget
from mediagen.spec.vocabulary import Theme


def _env(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=".env", extra="ignore", populate_by_name=True
    )


def _url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not a URL: it must start with http:// or https://")
    return value


class StorageConfig(BaseSettings, StorageFields):
    """Where uploads and the generation cache live. Private unless ``public``.

    The fields and their rules are the spec's (:class:`StorageFields`, the same
    prefix and URL checks); :meth:`target` turns this into the one model of a
    destination, :class:`StorageTarget`, that the storage layer runs.
    """

    model_config = _env("MEDIAGEN_STORAGE_")

    prefix: str = Field("media", description="Key prefix of everything the client writes.")

    def target(self) -> StorageTarget:
        """This configuration as a destination (validated as a spec's ``storage:`` would be)."""
        return StorageTarget.model_validate(
            self.model_dump(include=set(StorageFields.model_fields))
        )


class BrandConfig(BaseSettings):
    """Brand defaults applied to every image unless a call says otherwise."""

    model_config = _env("MEDIAGEN_BRAND_")

    name: str | None = None
    # "#0A7B83 teal,#F2A541 saffron" in the environment; a list in code.
    colors: Annotated[list[str], NoDecode] = Field(default_factory=list)
    theme: Theme = Theme.MODERN
    finance_context: bool = Field(True, description="Add the finance context to prompts.")
    constraints: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("colors", "constraints", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("colors")
    @classmethod
    def _hex(cls, value: list[str]) -> list[str]:
        for color in value:
            BrandColor.model_validate(color)  # "#RRGGBB" or "#RRGGBB name"
        return value


class ClientConfig(BaseSettings):
    """Everything a :class:`~mediagen.client.media_client.MediaClient` needs."""

    model_config = _env("MEDIAGEN_")

    backend: str = Field("auto", description="auto | offline | an installed backend's name.")
    api_concurrency: int = Field(
        4, ge=1, le=64, description="Calls of the async methods in flight at once, per client."
    )
    # The client's own run (mediagen.engine.run.Run): what it may spend and how fast it
    # may call, whatever other clients or spec runs in the process do.
    budget_usd: float | None = Field(
        None, ge=0, description="USD this client may spend on backend calls (None: no cap)."
    )
    rate_limits: dict[str, RateLimit] = Field(
        default_factory=dict,
        description="This client's per-model limits, over MEDIAGEN_RATE_LIMITS: "
        "{model or '*': {requests_per_minute, max_concurrency}}.",
    )
    # A backend's group, by its name (public API: ClientConfig(gemini=GeminiConfig(...))).
    gemini: GeminiConfig = Field(default_factory=GeminiConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    brand: BrandConfig = Field(default_factory=BrandConfig)
    # Problems met while reading the environment (from_env); reported by problems().
    load_problems: list[str] = Field(default_factory=list, exclude=True, repr=False)

    @classmethod
    def from_env(cls) -> ClientConfig:
        """Read every group; a bad variable is recorded, never raised here (see validate)."""
        problems: list[str] = []
        groups: dict[str, Any] = {}
        for name, field in cls.model_fields.items():  # every group: backends, storage, brand
            group = field.annotation
            if isinstance(group, type) and issubclass(group, BaseSettings):
                groups[name] = _load(group, problems)
        try:
            return cls(**groups, load_problems=problems)
        except ValidationError as exc:
            problems += _describe(exc, cls)
            return cls.model_construct(**groups, load_problems=problems)

    def backend_configs(self) -> dict[str, BackendConfig]:
        """This config's backend groups, by backend name."""
        groups = (getattr(self, name) for name in type(self).model_fields)
        return {g.backend_name: g for g in groups if isinstance(g, BackendConfig)}

    def settings(self) -> Settings:
        """The process settings with this config's backend choice and options on top."""
        settings = Settings(backend=self.backend)
        for name, group in self.backend_configs().items():
            settings = settings.with_backend_options(name, group.backend_options())
        return settings

    def problems(self) -> list[str]:
        """Every missing or invalid setting, one line each, naming the variable to set."""
        from mediagen.backends import available_backends

        out = list(self.load_problems)
        known = available_backends()
        if self.backend != "auto" and self.backend not in known:
            out.append(
                f"MEDIAGEN_BACKEND={self.backend!r}: unknown backend; use auto or one of "
                + ", ".join(sorted(known))
            )
        chosen = self.backend_configs().get(self.backend)
        if chosen is not None:
            out += chosen.problems()
        storage = self.storage
        if storage.provider != "local" and not storage.bucket:
            out.append(
                f"MEDIAGEN_STORAGE_BUCKET is not set: provider {storage.provider!r} needs a "
                "bucket name"
            )
        if storage.provider == "digitalocean":
            if not storage.region:
                out.append(
                    "MEDIAGEN_STORAGE_REGION is not set: DigitalOcean Spaces needs the region "
                    "(e.g. nyc3)"
                )
            for var in ("DO_SPACES_KEY", "DO_SPACES_SECRET"):
                if not os.environ.get(var):
                    out.append(f"{var} is not set: DigitalOcean Spaces needs it")
        if storage.cdn and storage.provider != "digitalocean":
            out.append("MEDIAGEN_STORAGE_CDN=true is for provider 'digitalocean' only")
        return out

    def validate_all(self) -> None:
        """Raise one :class:`ConfigurationError` listing every problem (or return)."""
        problems = self.problems()
        if problems:
            raise ConfigurationError(
                f"mediagen is not configured ({len(problems)} problem(s)):\n"
                + "\n".join(f"  - {p}" for p in problems)
            )


def _load(group: type[BaseSettings], problems: list[str]) -> BaseSettings:
    """The group from the environment; a bad variable is reported and replaced by its
    default, so the other variables of the group still load and are checked too."""
    overrides: dict[str, Any] = {}
    for _ in range(len(group.model_fields) + 1):
        try:
            return group(**overrides)
        except ValidationError as exc:
            problems += _describe(exc, group)
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else ""
                if name in group.model_fields:
                    overrides[name] = group.model_fields[name].get_default(
                        call_default_factory=True
                    )
    return group.model_construct(**overrides)  # pragma: no cover - defaults always validate


def _describe(exc: ValidationError, group: type[BaseSettings]) -> list[str]:
    prefix = str(group.model_config.get("env_prefix", ""))
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        info = group.model_fields.get(field)
        alias = getattr(info, "validation_alias", None)
        names = [str(c) for c in getattr(alias, "choices", ()) if str(c).isupper()]
        variable = names[0] if names else f"{prefix}{field.upper()}"
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{variable}: {message}")
    return lines


__all__ = ["BrandConfig", "ClientConfig", "GeminiConfig", "StorageConfig"]
