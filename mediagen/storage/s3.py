"""s3fs filesystems for AWS S3, DigitalOcean Spaces and any S3-compatible endpoint.

Built once per run and process (``mediagen.engine.run.Run.bucket`` keys them by pid):
an S3FileSystem holds an event loop thread and a connection pool, and neither
survives a fork.

Retries: mediagen owns them (tenacity in ``mediagen.storage.bucket``: bounded, with
exponential backoff and full jitter). botocore's and s3fs's own retry loops
are turned off so one request is one attempt and the bound is the one you set
(``MEDIAGEN_STORAGE_RETRIES``), not botocore's 5 x s3fs's 5.
"""

from __future__ import annotations

from typing import Any

from mediagen.errors import ConfigurationError
from mediagen.settings import Settings
from mediagen.storage.cache_control import cache_control_for
from mediagen.storage.credentials import storage_credentials


def endpoint_for(provider: str, region: str | None, endpoint_url: str | None) -> str | None:
    """The API endpoint: an explicit URL wins; Spaces has one per region; AWS: botocore's."""
    if endpoint_url:
        return endpoint_url
    if provider == "digitalocean":
        return f"https://{region}.digitaloceanspaces.com"
    return None


def make_s3_filesystem(config: Any, settings: Settings) -> Any:
    """An ``s3fs.S3FileSystem`` for ``config`` (a ``BucketConfig``)."""
    try:
        import s3fs
    except ImportError as exc:
        raise ConfigurationError(
            f"storage provider {config.provider!r} needs s3fs: pip install 'mediagen[s3]'"
        ) from exc
    endpoint = endpoint_for(config.provider, config.region, config.endpoint_url)
    client_kwargs: dict[str, Any] = {}
    if endpoint:
        client_kwargs["endpoint_url"] = endpoint
    if config.region:
        client_kwargs["region_name"] = config.region
    config_kwargs: dict[str, Any] = {
        # One worker thread, one connection: a pool smaller than the threads that
        # use it makes uploads queue for sockets (botocore's default is 10).
        "max_pool_connections": config.pool_size,
        "connect_timeout": settings.storage_timeout,
        "read_timeout": settings.storage_timeout,
        "retries": {"total_max_attempts": 1},
        # SigV4 everywhere: required by most AWS regions and by Spaces; presigned URLs too.
        "signature_version": "s3v4",
    }
    if endpoint:
        # Non-AWS endpoints may reject the checksum headers new botocore sends by default.
        config_kwargs |= {
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
    creds = storage_credentials(config.provider, settings)
    fs = s3fs.S3FileSystem(
        key=creds.key,
        secret=creds.secret,
        token=creds.token,
        client_kwargs=client_kwargs,
        config_kwargs=config_kwargs,
        skip_instance_cache=True,
        # Another process may write or delete at any time: never answer from a stale listing.
        use_listings_cache=False,
        # One GET per read; the default (10) first asks for the size with a HEAD.
        max_concurrency=1,
    )
    fs.retries = 1  # s3fs's own retry loop: off (see the module docstring)
    # Presigned URLs die with a session: the manifest says so (mediagen.storage.url_expiry).
    fs.mediagen_session_token = bool(creds.token)
    return fs


async def _get_with_etag(fs: Any, bucket: str, key: str) -> tuple[bytes, str]:
    response = await fs._call_s3("get_object", Bucket=bucket, Key=key)
    try:
        body = await response["Body"].read()
    finally:
        response["Body"].close()
    return body, response["ETag"]


def get_with_etag(fs: Any, path: str) -> tuple[bytes, str]:
    """Object bytes and the ETag of exactly those bytes (one GET, so they match)."""
    from fsspec.asyn import sync

    bucket, key, _ = fs.split_path(path)
    return sync(fs.loop, _get_with_etag, fs, bucket, key)  # type: ignore[no-any-return]


def head_bucket(fs: Any, bucket: str) -> None:
    """Raise unless ``bucket`` exists and these credentials may use it."""
    fs.call_s3("head_bucket", Bucket=bucket)


def pool_size_of(fs: Any) -> int:
    """The connection pool size of the live client (what the tests check)."""
    fs.connect()
    return int(fs.s3.meta.config.max_pool_connections)


def restamp(fs: Any, path: str, *, public: bool, immutable: bool | None = None) -> None:
    """Give an existing object the ACL and Cache-Control of ``public``, bytes untouched.

    A copy onto itself (CopyObject, ``MetadataDirective=REPLACE``): unlike PutObjectAcl
    it also rewrites Cache-Control, so a private object never keeps a ``public`` cache
    header that lets CDNs and proxies store it. Content-Type and user metadata are
    carried over. ``immutable``: None keeps what the object's Cache-Control said.
    """
    from fsspec.asyn import sync

    bucket, key, _ = fs.split_path(path)

    async def run() -> None:
        head = await fs._call_s3("head_object", Bucket=bucket, Key=key)
        keep = "immutable" in (head.get("CacheControl") or "")
        cache = cache_control_for(immutable=keep if immutable is None else immutable, public=public)
        params: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "CopySource": {"Bucket": bucket, "Key": key},
            # REPLACE is what makes a copy onto itself legal; it rewrites every header,
            # so the ones mediagen set are carried over unchanged.
            "MetadataDirective": "REPLACE",
            "ContentType": head.get("ContentType", "application/octet-stream"),
            "CacheControl": cache,
            "Metadata": head.get("Metadata", {}),
        }
        if public:
            params["ACL"] = "public-read"  # without an ACL header the copy is private
        await fs._call_s3("copy_object", **params)

    sync(fs.loop, run)
