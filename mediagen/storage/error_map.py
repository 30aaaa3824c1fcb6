"""Map fsspec/s3fs/botocore/aiohttp/OS errors onto mediagen's hierarchy, at the storage boundary.

The classes are in :mod:`mediagen.errors`; this module only decides which one a
library error becomes, as httpx's ``map_httpcore_exceptions()`` does for httpcore.
:class:`mediagen.storage.bucket.Bucket` runs every call inside
:func:`map_storage_exceptions`.

The S3 error code and HTTP status are read from the botocore ``ClientError``
that s3fs keeps as ``__cause__``, not guessed from message text. Every message
goes through :func:`mediagen.storage.credentials.redact` on its way out, and the
translation is raised ``from None`` with the original scrubbed (:mod:`mediagen.redaction`).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mediagen import redaction
from mediagen.errors import (
    ConditionsUnsupported,
    ConfigurationError,
    PreconditionFailed,
    StorageError,
    TransientStorageError,
)
from mediagen.reasons import short_reason
from mediagen.storage.credentials import redact

# Codes worth another attempt: throttling, server trouble, timeouts on the server side.
RETRYABLE_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequests",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "BadDigest",
    "XAmzContentSHA256Mismatch",
}
CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}
AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def s3_error(exc: BaseException) -> tuple[str | None, int | None]:
    """``(error code, HTTP status)`` of the S3 answer behind ``exc``, if there was one."""
    for link in _chain(exc):
        response: Any = getattr(link, "response", None)
        if isinstance(response, dict) and "Error" in response:
            code = response["Error"].get("Code")
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return code, status
    return None, None


def _is_connection_problem(exc: BaseException) -> bool:
    for link in _chain(exc):
        if isinstance(link, ConnectionError | TimeoutError | socket.timeout | asyncio.TimeoutError):
            return True
        module = type(link).__module__
        name = type(link).__name__
        if module.startswith("botocore") and name in {
            "EndpointConnectionError",
            "ConnectionClosedError",
            "ReadTimeoutError",
            "ConnectTimeoutError",
            "ResponseStreamingError",
            "IncompleteReadError",
        }:
            return True
        if module.startswith("aiohttp") and name in {
            "ServerDisconnectedError",
            "ClientOSError",
            "ClientPayloadError",
            "ServerTimeoutError",
        }:
            return True
    return False


def _is_missing_credentials(exc: BaseException) -> bool:
    return any(type(link).__name__ in {"NoCredentialsError", "PartialCredentialsError"}
               for link in _chain(exc))  # fmt: skip


def map_storage_exception(exc: BaseException, key: str) -> BaseException | None:
    """The mediagen error for ``exc`` (``None``: let it through unchanged)."""
    if isinstance(exc, StorageError | ConfigurationError):
        return None
    code, status = s3_error(exc)
    if code == "NoSuchBucket":
        return StorageError(f"bucket not found (at {key!r}): {redact(str(exc))}")
    if isinstance(exc, FileNotFoundError):
        return None
    if isinstance(exc, FileExistsError):
        return PreconditionFailed(f"{key!r} already exists")
    message = redact(f"{exc}")
    if code in CONFLICT_CODES or status == 412:
        return PreconditionFailed(f"{key!r} changed since it was read ({code})")
    if code == "NotImplemented" or status == 501:
        return ConditionsUnsupported(f"the store does not implement this request at {key!r}")
    if code in RETRYABLE_CODES or (status is not None and status >= 500):
        return TransientStorageError(f"storage busy at {key!r}: {code or status}: {message}")
    if code == "AccessControlListNotSupported":
        return StorageError(
            f"the bucket has ACLs disabled (Object Ownership: bucket owner enforced), so "
            f"'public: true' cannot set public-read on {key!r}: make objects public with a "
            f"bucket policy or CDN and use 'public: false' with public_base_url"
        )
    if code in AUTH_CODES or code == "AccessDenied" or isinstance(exc, PermissionError):
        return StorageError(f"access denied at {key!r} ({code or 'permission'}): {message}")
    if _is_missing_credentials(exc):
        return ConfigurationError(
            "no storage credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "(or DO_SPACES_KEY/DO_SPACES_SECRET, or MEDIAGEN_STORAGE_CREDENTIALS_BLOCK)"
        )
    if _is_connection_problem(exc):
        return TransientStorageError(f"storage unreachable at {key!r}: {type(exc).__name__}: "
                                     f"{message}")  # fmt: skip
    if isinstance(exc, OSError):
        return StorageError(f"storage error at {key!r}: {message}")
    return None


@contextmanager
def map_storage_exceptions(key: str) -> Iterator[None]:
    """Raise mediagen errors (``raise X from exc``) for storage failures inside the block."""
    try:
        yield
    except Exception as exc:
        mapped = map_storage_exception(exc, key)
        if mapped is None and redaction.leaks(exc):  # an untranslated error naming a secret
            mapped = StorageError(f"storage error at {key!r}: {short_reason(exc)}")
        if mapped is None:
            raise
        # The SDK's own error (and its request, its answer) stays out of every traceback:
        # only our redacted message is printed, by Prefect, the CLI or a log handler.
        redaction.scrub(exc)
        raise mapped from None
