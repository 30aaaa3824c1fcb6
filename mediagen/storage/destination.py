"""Where a run publishes, resolved: the spec's target, filled in from the settings.

The one model of a destination is :class:`mediagen.spec.storage_target.StorageTarget`.
This module adds what only the process knows, in two steps:

1. :func:`resolve_target`, the one merge: a target that names no location
   (no provider, bucket, region or endpoint) publishes where
   ``MEDIAGEN_STORAGE_PROVIDER/BUCKET/REGION/ENDPOINT_URL`` say, so one spec serves
   dev, staging and production. Everything else the spec says (prefix, public,
   naming, ``shared_prefix``...) is kept, and the result is validated as a spec's
   own section would be;
2. :class:`BucketConfig`, the resolved target as the storage layer runs it: a
   local folder made absolute, a connection pool sized for the run. Plain data,
   safe to pass to other processes: secrets are read where the filesystem is
   made (:mod:`mediagen.storage.credentials`), never carried here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mediagen.errors import ConfigurationError
from mediagen.settings import Settings
from mediagen.spec.storage_target import LOCATION_FIELDS, StorageTarget

DEFAULT_POOL = 10  # botocore's default pool size


def pool_size_for(concurrency: int) -> int:
    """Connections one process needs for ``concurrency`` images in flight.

    Every worker thread may hold one: three stages per image in flight, plus
    the flow's own (plan, manifest). Never below botocore's default.
    """
    return max(DEFAULT_POOL, 3 * concurrency + 2)


def settings_location(settings: Settings) -> dict[str, Any] | None:
    """The location ``MEDIAGEN_STORAGE_*`` names (``None``: it names none)."""
    if not settings.storage_provider:
        return None
    return {
        "provider": settings.storage_provider,
        "bucket": settings.storage_bucket,
        "region": settings.storage_region,
        "endpoint_url": settings.storage_endpoint_url,
    }


def resolve_target(target: StorageTarget, settings: Settings) -> StorageTarget:
    """``target``, with the settings' location when it names none (see the module doc).

    Raises :class:`ConfigurationError` naming the settings when the merged
    target is invalid (e.g. ``MEDIAGEN_STORAGE_PROVIDER=digitalocean`` without a region).
    """
    location = settings_location(settings)
    if location is None or target.names_location():
        return target
    rest = target.model_dump(exclude=set(LOCATION_FIELDS))
    try:
        return StorageTarget.model_validate({**rest, **location})
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ConfigurationError(f"MEDIAGEN_STORAGE_* settings: {problems}") from None


@dataclass(frozen=True)
class BucketConfig:
    """Where a bucket is, as the storage layer runs it: plain data, no secrets.

    Built from a resolved :class:`StorageTarget` (:meth:`from_target`); tests and
    tools may build one directly.
    """

    provider: str  # local | s3 | digitalocean
    bucket: str  # folder for local
    region: str | None = None
    endpoint_url: str | None = None
    public: bool = False
    public_base_url: str | None = None
    cdn: bool = False
    naming: str = "hashed"  # hashed | stable
    presign_expiry: int | None = None  # seconds; private S3 storage only
    pool_size: int = DEFAULT_POOL

    @classmethod
    def from_target(
        cls, target: StorageTarget, settings: Settings, concurrency: int | None = None
    ) -> BucketConfig:
        """``target`` as it is (no settings merged in); a local folder is made absolute."""
        bucket = target.bucket
        if target.provider == "local":
            bucket = str(Path(bucket or settings.bucket_dir).expanduser().resolve())
        fields = target.model_dump(include=set(cls.__dataclass_fields__))
        pool = pool_size_for(concurrency) if concurrency else DEFAULT_POOL
        return cls(**{**fields, "bucket": bucket, "pool_size": pool})

    @classmethod
    def for_spec(
        cls, spec: Any, settings: Settings, concurrency: int | None = None
    ) -> BucketConfig:
        """Where ``spec`` publishes: its storage merged with the settings
        (:func:`resolve_target`)."""
        return cls.from_target(resolve_target(spec.storage, settings), settings, concurrency)

    @property
    def label(self) -> str:
        """Where, for messages: ``s3://bucket`` or a folder."""
        return self.bucket if self.provider == "local" else f"{self.provider}://{self.bucket}"


__all__ = ["BucketConfig", "pool_size_for", "resolve_target", "settings_location"]
