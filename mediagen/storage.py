"""Buckets on fsspec: a local folder, AWS S3, DigitalOcean Spaces, any S3 endpoint.

One class, :class:`Bucket`, with the few operations mediagen needs. Keys are
always relative to the bucket root and always '/'-separated. Writes never
leave half a file behind: local writes go to a temporary name and are renamed;
an S3 PUT is atomic by nature.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec

from mediagen.errors import ConfigurationError, StorageError, TransientStorageError
from mediagen.settings import Settings

CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_SHORT = "no-cache, max-age=60"


@dataclass(frozen=True)
class BucketConfig:
    """Where a bucket is: plain data, safe to pass to other processes (no secrets)."""

    provider: str  # local | s3 | digitalocean
    bucket: str  # folder for local
    region: str | None = None
    endpoint_url: str | None = None
    public: bool = False
    public_base_url: str | None = None
    cdn: bool = False

    @classmethod
    def from_target(cls, target: Any, settings: Settings) -> BucketConfig:
        """From a spec's ``storage`` section; local folders are made absolute."""
        bucket = target.bucket
        if target.provider == "local":
            bucket = str(Path(bucket or settings.bucket_dir).expanduser().resolve())
        return cls(
            provider=target.provider,
            bucket=bucket,
            region=target.region,
            endpoint_url=target.endpoint_url,
            public=target.public,
            public_base_url=target.public_base_url,
            cdn=target.cdn,
        )


class Bucket:
    """A bucket (or folder) and the operations mediagen performs on it."""

    def __init__(self, config: BucketConfig, fs: fsspec.AbstractFileSystem | None = None) -> None:
        self.config = config
        self.fs = fs or _make_filesystem(config)
        self.local = config.provider == "local"

    # -- paths and URLs ---------------------------------------------------

    def path(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"refusing unsafe object key {key!r}")
        return f"{self.config.bucket.rstrip('/')}/{key}"

    def url(self, key: str) -> str:
        """The URL an app should use for ``key``."""
        if self.config.public_base_url:
            return f"{self.config.public_base_url.rstrip('/')}/{key}"
        if self.local:
            return Path(self.path(key)).as_uri()
        if self.config.provider == "digitalocean" and self.config.region:
            cdn = ".cdn" if self.config.cdn else ""
            region = self.config.region
            return f"https://{self.config.bucket}.{region}{cdn}.digitaloceanspaces.com/{key}"
        if self.config.endpoint_url:
            return f"{self.config.endpoint_url.rstrip('/')}/{self.config.bucket}/{key}"
        region = self.config.region or "us-east-1"
        return f"https://{self.config.bucket}.s3.{region}.amazonaws.com/{key}"

    # -- reads ------------------------------------------------------------

    def exists(self, key: str) -> bool:
        with _translated(key):
            return bool(self.fs.exists(self.path(key)))

    def get(self, key: str) -> bytes:
        """Object bytes; ``FileNotFoundError`` when absent."""
        with _translated(key):
            return bytes(self.fs.cat_file(self.path(key)))

    def find(self, prefix: str) -> list[str]:
        """Keys that start with ``prefix`` (a key prefix, not only a folder)."""
        base = self.config.bucket.rstrip("/") + "/"
        folder, _, _ = prefix.rpartition("/")
        with _translated(prefix):
            try:
                found = self.fs.find(self.path(folder) if folder else base)
            except FileNotFoundError:
                return []
        keys = [p[len(base) :] if p.startswith(base) else p.split("/", 1)[-1] for p in found]
        if self.local:
            keys = [k for k in keys if ".tmp-" not in k]
        return sorted(k for k in keys if k.startswith(prefix))

    # -- writes -----------------------------------------------------------

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        cache_control: str = CACHE_IMMUTABLE,
        public: bool | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Write an object whole, with its HTTP headers where the store keeps them."""
        path = self.path(key)
        content_type = content_type or mimetypes.guess_type(key)[0] or "application/octet-stream"
        with _translated(key):
            if self.local:
                # A folder has no headers: the content type follows from the extension.
                self.fs.makedirs(path.rpartition("/")[0], exist_ok=True)
                tmp = f"{path}.tmp-{uuid.uuid4().hex}"
                with open(tmp, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
                return
            public = self.config.public if public is None else public
            self.fs.pipe_file(
                path,
                data,
                ContentType=content_type,
                CacheControl=cache_control,
                ACL="public-read" if public else "private",
                Metadata=metadata or {},
            )

    def delete(self, key: str) -> None:
        with _translated(key), contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(key))


class _translated:
    """Map fsspec/botocore/OS errors to mediagen's hierarchy, with the key in the message."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, FileNotFoundError | StorageError):
            return False
        if isinstance(exc, PermissionError):
            raise StorageError(f"permission denied for {self.key!r}: {exc}") from exc
        if isinstance(exc, ConnectionError | TimeoutError) or _is_throttle(exc):
            raise TransientStorageError(
                f"storage busy or unreachable at {self.key!r}: {exc}"
            ) from exc
        if isinstance(exc, OSError):
            raise StorageError(f"storage error at {self.key!r}: {exc}") from exc
        return False


def _is_throttle(exc: BaseException) -> bool:
    text = str(exc)
    return any(
        s in text for s in ("SlowDown", "503", "500", "ServiceUnavailable", "RequestTimeout")
    )


def _make_filesystem(config: BucketConfig) -> fsspec.AbstractFileSystem:
    if config.provider == "local":
        return fsspec.filesystem("file", auto_mkdir=True)
    try:
        import s3fs
    except ImportError as exc:
        raise ConfigurationError(
            f"storage provider {config.provider!r} needs s3fs: pip install 'mediagen[s3]'"
        ) from exc
    endpoint = config.endpoint_url
    if config.provider == "digitalocean" and not endpoint:
        endpoint = f"https://{config.region}.digitaloceanspaces.com"
    client_kwargs: dict[str, Any] = {}
    if endpoint:
        client_kwargs["endpoint_url"] = endpoint
    if config.region:
        client_kwargs["region_name"] = config.region
    config_kwargs: dict[str, Any] = {}
    if endpoint:
        # Non-AWS endpoints may reject new botocore's default checksum headers.
        config_kwargs |= {
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
    key = secret = None
    if config.provider == "digitalocean":
        key, secret = os.environ.get("DO_SPACES_KEY"), os.environ.get("DO_SPACES_SECRET")
    return s3fs.S3FileSystem(
        key=key or None,
        secret=secret or None,
        client_kwargs=client_kwargs,
        config_kwargs=config_kwargs,
        skip_instance_cache=True,
    )
