"""Process-wide settings from the environment (and an optional ``.env``).

Secrets live here, never in a spec: a spec is a shareable file that ends up in
Git, flow parameters and the Prefect UI. Secret values are ``SecretStr`` so a
``repr`` or log line never shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mediagen.pricing import ModelPrice
from mediagen.ratelimit import RateLimit


class Settings(BaseSettings):
    """Settings read from ``MEDIAGEN_*`` variables (and the usual vendor names)."""

    model_config = SettingsConfigDict(
        env_prefix="MEDIAGEN_", env_file=".env", extra="ignore", populate_by_name=True
    )

    backend: str = Field(
        "auto",
        description="Backend when a spec names none: 'auto' picks gemini when a key is set, "
        "else the offline renderer.",
    )
    bucket_dir: Path = Field(
        Path("media-bucket"),
        description="Folder that stands in for a bucket with the 'local' provider.",
    )
    work_dir: Path | None = Field(
        None,
        description="Scratch folder for processed files between tasks (default: system temp).",
    )
    concurrency: int = Field(8, ge=1, le=256, description="Default images in flight at once.")
    # -- caps on what a backend answers (see mediagen/answer_check.py, pixel_budget.py) ----
    max_image_pixels: int = Field(
        50_000_000,
        ge=1,
        description="Largest image (width x height) accepted from a backend or the bucket; "
        "larger answers are refused before any pixel is decoded.",
    )
    max_answer_bytes: int = Field(
        64 * 2**20, ge=1, description="Largest image answer (bytes) accepted from a backend."
    )
    pixel_budget: int = Field(
        100_000_000,
        ge=1,
        description="Decoded pixels in flight per process: each image counts its original's "
        "pixels plus its largest output's; images wait for room (one larger alone runs alone).",
    )
    task_retries: int = Field(4, ge=0, le=20, description="Retries of a transient failure.")
    retry_base_delay: float = Field(
        1.0, ge=0, description="First retry delay in seconds; doubles each retry, plus jitter."
    )

    runner: Literal["thread", "dask"] = Field(
        "thread", description="Where tasks run: threads in the flow's process, or a Dask cluster."
    )
    dask_address: str | None = Field(
        None, description="Scheduler address of an existing Dask cluster (tcp://host:8786)."
    )
    dask_workers: int = Field(
        2, ge=1, le=256, description="Worker processes of the local Dask cluster, without address."
    )

    gemini_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(
            "GEMINI_API_KEY", "GOOGLE_API_KEY", "MEDIAGEN_GEMINI_API_KEY"
        ),
    )
    gemini_base_url: str | None = Field(None, description="Gateway or proxy for the Gemini API.")
    gemini_api_key_block: str | None = Field(
        None,
        description="Name of a Prefect Secret block holding the Gemini key (used by the flow "
        "when no GEMINI_API_KEY/GOOGLE_API_KEY is set).",
    )
    gemini_timeout: float = Field(
        120.0, gt=0, le=3600, description="Seconds one Gemini request may take."
    )
    gemini_max_attempts: int = Field(
        4, ge=1, le=20, description="Attempts per model for one image (429, 5xx, timeouts)."
    )
    gemini_max_wait: float = Field(
        90.0, ge=0, description="Most seconds spent retrying one image on one model."
    )
    gemini_retry_base_delay: float = Field(
        1.0, ge=0, description="First Gemini backoff in seconds; doubles, plus jitter."
    )
    gemini_describe_model: str = Field(
        "gemini-2.5-flash",
        min_length=1,
        description="Gemini text model that writes alt text for images with 'alt_text: auto'.",
    )
    gemini_pricing: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="Per-model prices (JSON) that override or extend the built-in table.",
    )
    rate_limits: dict[str, RateLimit] = Field(
        default_factory=dict,
        description="Per-model limits (JSON): {model or '*': {requests_per_minute, "
        "max_concurrency}}. A spec's rate_limits win.",
    )

    # -- storage (see mediagen/storage.py and the README's storage section) ----------
    # Where specs without a storage section publish. A spec's own section always wins.
    storage_provider: Literal["local", "s3", "digitalocean"] | None = Field(
        None, description="Provider for specs that do not name one (default: local folder)."
    )
    storage_bucket: str | None = Field(None, description="Bucket for specs without storage.")
    storage_region: str | None = Field(None, description="Region for specs without storage.")
    storage_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint for specs without storage (MinIO, R2, ...)."
    )
    storage_credentials_block: str | None = Field(
        None,
        description="Prefect block holding storage credentials, as 'block-type/name' "
        "(e.g. 'secret/mediagen-s3'). Wins over the environment when set.",
    )
    storage_retries: int = Field(
        5, ge=1, le=20, description="Attempts per storage request (SlowDown, 5xx, resets)."
    )
    storage_retry_base_delay: float = Field(
        0.5, ge=0, description="First storage retry delay (s); doubles, with full jitter."
    )
    storage_timeout: float = Field(
        30.0, gt=0, description="Connect and read timeout of one storage request (s)."
    )
    aws_access_key_id: SecretStr | None = Field(
        None, validation_alias=AliasChoices("AWS_ACCESS_KEY_ID", "MEDIAGEN_AWS_ACCESS_KEY_ID")
    )
    aws_secret_access_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("AWS_SECRET_ACCESS_KEY", "MEDIAGEN_AWS_SECRET_ACCESS_KEY"),
    )
    aws_session_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("AWS_SESSION_TOKEN", "MEDIAGEN_AWS_SESSION_TOKEN")
    )
    do_spaces_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DO_SPACES_KEY", "MEDIAGEN_DO_SPACES_KEY")
    )
    do_spaces_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DO_SPACES_SECRET", "MEDIAGEN_DO_SPACES_SECRET")
    )


def get_settings() -> Settings:
    """Fresh settings from the current environment."""
    return Settings()
