"""Where images are published: the one model of a destination.

:class:`StorageTarget` is a spec's ``storage:`` section, and the only model of
"where to publish". The others derive from it rather than copy it:

- :class:`StorageFields` holds the fields (and their per-field rules, such as
  the one prefix check, :func:`safe_prefix`) that a spec shares with the Python
  API's :class:`mediagen.client.config.StorageConfig`, which reads them from
  ``MEDIAGEN_STORAGE_*`` and turns itself into a :class:`StorageTarget`;
- ``MEDIAGEN_STORAGE_PROVIDER/BUCKET/REGION/ENDPOINT_URL``
  (:class:`mediagen.settings.Settings`) fill the location a spec leaves out, in
  one merge function, :func:`mediagen.storage.destination.resolve_target`;
- :class:`mediagen.storage.bucket.BucketConfig` is the resolved target as the
  storage layer runs it (a local folder made absolute, a connection pool size).

Secrets (keys, tokens) never live here: a spec is a shareable file. They come
from the environment or a Prefect block (:mod:`mediagen.storage.credentials`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from mediagen.spec.base import HTTP_URL_PATTERN, SpecModel
from mediagen.spec.diagnostics import describe
from mediagen.spec.limits import is_http_url

Provider = Literal["local", "s3", "digitalocean"]
PROVIDERS: tuple[str, ...] = ("local", "s3", "digitalocean")
# The fields that say where the bucket is (the rest say how objects are published).
LOCATION_FIELDS = ("provider", "bucket", "region", "endpoint_url")


def safe_prefix(value: str | None) -> str | None:
    """The key prefix check, for every model that has one: leading/trailing '/' dropped,
    no empty, '.' or '..' part, no backslash (the prefix becomes part of object keys,
    and of folder paths for a local bucket)."""
    if value is None:
        return None
    value = value.strip("/")
    parts = value.split("/") if value else []
    if any(p in ("", ".", "..") for p in parts) or "\\" in value:
        raise ValueError(
            f"prefix {value!r} must be a relative key path without '.', '..', '//' or '\\'"
        )
    return value


def http_url(value: str | None) -> str | None:
    """An endpoint or base URL: http(s) only. The base URL lands in manifests, srcset and
    <picture>: a ``javascript:`` URL would run."""
    if value is not None and not is_http_url(value):
        raise ValueError(f"{describe(value)} is not an http:// or https:// URL")
    return value


class StorageFields(BaseModel):
    """The fields of a destination that a spec and the Python API's config share."""

    provider: Provider = "local"
    bucket: str | None = Field(
        None,
        description="Bucket name; for 'local', a folder (default: $MEDIAGEN_BUCKET_DIR "
        "or ./media-bucket).",
        validate_default=True,
    )
    prefix: str | None = Field(
        None, description="Key prefix inside the bucket (default: the spec name)."
    )
    region: str | None = None
    endpoint_url: str | None = Field(None, json_schema_extra={"pattern": HTTP_URL_PATTERN})
    public: bool = Field(False, description="Publish objects public-read. Private by default.")
    public_base_url: str | None = Field(
        None,
        description="Base URL (e.g. a CDN) that object keys are appended to: http(s) only.",
        json_schema_extra={"pattern": HTTP_URL_PATTERN},
    )
    cdn: bool = Field(False, description="DigitalOcean: use the Spaces CDN URL form.")

    @field_validator("prefix")
    @classmethod
    def _safe_prefix(cls, value: str | None) -> str | None:
        return safe_prefix(value)

    @field_validator("endpoint_url", "public_base_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        return http_url(value)


class StorageTarget(StorageFields, SpecModel):
    """Where images are published."""

    naming: Literal["hashed", "stable"] = Field(
        "hashed",
        description="Object keys: 'hashed' = {prefix}/{id}-{hash8}.{ext}, immutable and "
        "CDN-safe; 'stable' = {prefix}/{id}.{ext}, overwritten in place, short cache.",
    )
    presign_expiry: int | None = Field(
        None,
        ge=60,
        le=604800,
        description="Private S3 storage only: the manifest carries presigned URLs valid for "
        "this many seconds (at most 7 days); each manifest write signs them anew.",
    )
    shared_prefix: bool = Field(
        False,
        description="Let several specs publish under the same prefix (every one of them must "
        "say so). Each keeps its own manifest, {prefix}/manifest.{name}.json, and prune and "
        "delete never touch another spec's objects. Default: the prefix belongs to one spec "
        "and any other spec is refused.",
    )

    @field_validator("bucket")
    @classmethod
    def _needs_bucket(cls, value: str | None, info: ValidationInfo) -> str | None:
        provider = info.data.get("provider")  # absent when the provider itself is invalid
        if provider not in (None, "local") and not (value or "").strip():
            raise ValueError(f"provider {provider!r} needs a bucket name")
        return value

    @model_validator(mode="after")
    def _needs_region(self) -> StorageTarget:
        if self.provider == "digitalocean" and not self.region and not self.endpoint_url:
            raise ValueError("provider 'digitalocean' needs a region (e.g. nyc3)")
        if self.presign_expiry is not None and (self.public or self.provider == "local"):
            raise ValueError(
                "presign_expiry is for private S3/Spaces storage: public objects need no "
                "signature and a local folder cannot sign"
            )
        return self

    def names_location(self) -> bool:
        """Does this target say where the bucket is (else the settings may say it)?"""
        return any(
            getattr(self, name) != StorageTarget.model_fields[name].default
            for name in LOCATION_FIELDS
        )


__all__ = [
    "LOCATION_FIELDS",
    "PROVIDERS",
    "Provider",
    "StorageFields",
    "StorageTarget",
    "http_url",
    "safe_prefix",
]
