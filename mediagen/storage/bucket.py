"""Buckets on fsspec: a local folder, AWS S3, DigitalOcean Spaces, any S3 endpoint.

One class, :class:`Bucket`, with the few operations mediagen needs. Keys are
always relative to the bucket root and always '/'-separated. Writes never
leave half a file behind: local writes go to a temporary name and are renamed;
an S3 PUT is atomic by nature.

Every remote call is retried here, and only here, with tenacity: bounded
attempts (``MEDIAGEN_STORAGE_RETRIES``), exponential backoff with full jitter,
and only for what may succeed later (503 SlowDown, 5xx, resets, timeouts).
Conditional writes (``if_match`` / ``if_none_match``) let the manifest be
updated by several runs at once without losing entries (``mediagen.manifest.model``).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
import mimetypes
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import fsspec
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from mediagen.errors import (
    PreconditionFailed,
    StorageError,
    TransientStorageError,
)
from mediagen.settings import Settings, get_settings
from mediagen.storage.cache_control import cache_control_for
from mediagen.storage.destination import BucketConfig, pool_size_for
from mediagen.storage.error_map import map_storage_exceptions

log = logging.getLogger("mediagen.storage.bucket")
T = TypeVar("T")


class Bucket:
    """A bucket (or folder) and the operations mediagen performs on it."""

    def __init__(
        self,
        config: BucketConfig,
        fs: fsspec.AbstractFileSystem | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.config = config
        self.settings = settings or get_settings()
        self.local = config.provider == "local"
        self.fs = fs or _make_filesystem(config, self.settings)

    # -- paths and URLs ---------------------------------------------------

    def path(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"refusing unsafe object key {key!r}")
        path = f"{self.config.bucket.rstrip('/')}/{key}"
        if self.local:
            _inside_local_root(self._real_root, self.config.bucket, path, key)
        return path

    @functools.cached_property
    def _real_root(self) -> str:
        """The local bucket folder with its links resolved (once: every key is checked)."""
        return os.path.realpath(self.config.bucket)

    def plain_url(self, key: str) -> str:
        """The unsigned URL of ``key`` (works for public objects, or behind a CDN)."""
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

    def url(self, key: str) -> str:
        """The URL an app should use for ``key``: presigned when the spec asks for it."""
        if self.config.presign_expiry and not self.local and not self.config.public:
            return self.sign(key, self.config.presign_expiry)
        return self.plain_url(key)

    def sign(self, key: str, expires_in: int) -> str:
        """A presigned GET URL for ``key``, valid ``expires_in`` seconds (local signing)."""
        if self.local:
            raise StorageError("a local folder cannot sign URLs")
        with map_storage_exceptions(key):
            return str(self.fs.sign(self.path(key), expiration=expires_in))

    # -- reads ------------------------------------------------------------

    def exists(self, key: str) -> bool:
        return self._retrying(key, lambda: bool(self.fs.exists(self.path(key))))

    def get(self, key: str) -> bytes:
        """Object bytes; ``FileNotFoundError`` when absent."""
        return self._retrying(key, lambda: bytes(self.fs.cat_file(self.path(key))))

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        """Object bytes and their ETag (for a later conditional write)."""
        if self.local:
            data = self.get(key)
            return data, _local_etag(data)
        from mediagen.storage.s3 import get_with_etag

        return self._retrying(key, lambda: get_with_etag(self.fs, self.path(key)))

    def find(self, prefix: str) -> list[str]:
        """Keys that start with ``prefix`` (a key prefix, not only a folder)."""
        base = self.config.bucket.rstrip("/") + "/"
        folder, _, _ = prefix.rpartition("/")

        def listing() -> list[str]:
            try:
                return list(self.fs.find(self.path(folder) if folder else base))
            except FileNotFoundError:
                return []

        found = self._retrying(prefix, listing)
        keys = [p[len(base) :] if p.startswith(base) else p.split("/", 1)[-1] for p in found]
        if self.local:
            keys = [k for k in keys if ".tmp-" not in k]
        return sorted(k for k in keys if k.startswith(prefix))

    def check_bucket(self) -> None:
        """Raise unless the bucket (or folder) is there and reachable with these credentials."""
        if self.local:
            if not Path(self.config.bucket).is_dir():
                Path(self.config.bucket).mkdir(parents=True, exist_ok=True)
            return
        from mediagen.storage.s3 import head_bucket

        try:
            self._retrying("", lambda: head_bucket(self.fs, self.config.bucket))
        except FileNotFoundError as exc:  # HEAD answers a bare 404: no error code to read
            raise StorageError(f"bucket not found: {self.config.label}") from exc

    # -- writes -----------------------------------------------------------

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        public: bool | None = None,
        metadata: dict[str, str] | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str | None:
        """Write an object whole, with its HTTP headers where the store keeps them.

        ``public`` defaults to the bucket's setting; private objects get no ACL
        header at all (objects are private by default, and buckets with ACLs
        disabled reject any ACL but the owner's). ``if_match`` (an ETag) or
        ``if_none_match`` make the write conditional: :class:`PreconditionFailed`
        when another writer got there first. Returns the new ETag when known.
        """
        path = self.path(key)
        content_type = content_type or mimetypes.guess_type(key)[0] or "application/octet-stream"
        public = self.config.public if public is None else public
        if cache_control is None:
            cache_control = cache_control_for(immutable=True, public=public)
        if self.local:
            # A folder has no headers: the content type follows from the extension.
            return self._retrying(key, lambda: _local_put(path, data, if_match, if_none_match))
        headers: dict[str, Any] = {
            "ContentType": content_type,
            "CacheControl": cache_control,
            "Metadata": metadata or {},
        }
        if public:
            headers["ACL"] = "public-read"
        if if_match:
            headers["IfMatch"] = if_match
        mode = "create" if if_none_match else "overwrite"

        def attempt() -> str | None:
            out = self.fs.pipe_file(path, data, mode=mode, **headers)
            return out.get("ETag") if isinstance(out, dict) else None

        return self._retrying(key, attempt)

    def delete(self, key: str) -> None:
        """Remove ``key``; a key that is already gone is not an error."""

        def attempt() -> None:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self.path(key))

        self._retrying(key, attempt)

    # -- retries ------------------------------------------------------------

    def _retrying(self, key: str, call: Callable[[], T]) -> T:
        """``call()`` with storage errors translated, retried while transient and bounded."""
        settings = self.settings
        retrying = Retrying(
            stop=stop_after_attempt(settings.storage_retries),
            wait=wait_random_exponential(multiplier=settings.storage_retry_base_delay, max=30),
            retry=retry_if_exception_type(TransientStorageError),
            before_sleep=lambda state: log.info(
                "storage busy (%s); attempt %d of %d",
                state.outcome.exception() if state.outcome else "?",
                state.attempt_number,
                settings.storage_retries,
            ),
            reraise=True,
        )
        for attempt in retrying:
            with attempt, map_storage_exceptions(key):
                return call()
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True


def _inside_local_root(real_root: str, root: str, path: str, key: str) -> None:
    """A local bucket never reaches outside its folder through a symbolic link.

    A symlinked folder (or file) inside the bucket would put objects, and let
    prune delete files, anywhere the link points. Links that stay inside are fine.
    """
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise StorageError(
            f"refusing {key!r}: a symbolic link leads it outside the bucket folder {root}"
        )


def _local_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


@contextlib.contextmanager
def _local_lock(path: str) -> Iterator[None]:
    """An exclusive lock per object path, across processes on this machine.

    The lock files live in the temp folder, not in the bucket: nothing but
    objects ever appears under a prefix. The folder is this user's (0700, checked,
    like the scratch folder) and lock files are never opened through a link:
    their names are computable, so a shared folder would let others plant them.
    """
    from mediagen.storage.scratch import private_dir

    folder = Path(tempfile.gettempdir()) / f"mediagen-locks-{os.getuid()}"
    folder = private_dir(folder, what="lock folder", fix="remove it (mediagen recreates it)")
    name = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:32]
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(folder / f"{name}.lock", flags, 0o600), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _local_put(path: str, data: bytes, if_match: str | None, if_none_match: bool) -> str:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conditional = if_match is not None or if_none_match
    with _local_lock(path) if conditional else contextlib.nullcontext():
        if conditional:
            try:
                current = _local_etag(Path(path).read_bytes())
            except FileNotFoundError:
                current = None
            if if_none_match and current is not None:
                raise PreconditionFailed(f"{path!r} already exists")
            if if_match is not None and current != if_match:
                raise PreconditionFailed(f"{path!r} changed since it was read")
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    return _local_etag(data)


def _make_filesystem(config: BucketConfig, settings: Settings) -> fsspec.AbstractFileSystem:
    if config.provider == "local":
        return fsspec.filesystem("file", auto_mkdir=True)
    from mediagen.storage.s3 import make_s3_filesystem

    return make_s3_filesystem(config, settings)  # type: ignore[no-any-return]


__all__ = [
    "Bucket",
    "BucketConfig",
    "PreconditionFailed",
    "StorageError",
    "TransientStorageError",
    "cache_control_for",
    "pool_size_for",
]
