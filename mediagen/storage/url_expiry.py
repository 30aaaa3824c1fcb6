"""When presigned URLs really stop working.

A presigned URL is valid for ``presign_expiry`` seconds *and* only while the
credentials that signed it are valid. Temporary credentials (an
``AWS_SESSION_TOKEN``: STS, SSO, an assumed or instance role) end with their
session, and every URL signed with them answers 403 from that moment, whatever
its ``X-Amz-Expires`` says. S3 caps such URLs at the session's end; nothing in
the URL tells an app so.

So the manifest says it: ``urls_expire_with_session`` is true when the URLs
were signed with a session token, and ``urls_expire_at`` is the earlier of the
signature's expiry and the session's end when that end is known
(``AWS_CREDENTIAL_EXPIRATION``, which botocore reads too, or the expiry of
refreshable credentials from botocore's chain). The CLI prints one line about
it. A manifest whose URLs expire sooner is rewritten sooner (the CLI re-signs
presigned manifests past half their life).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mediagen.storage.bucket import Bucket

log = logging.getLogger("mediagen.storage.bucket")

EXPIRATION_ENV = "AWS_CREDENTIAL_EXPIRATION"  # ISO 8601, as botocore's EnvProvider reads it


@dataclass(frozen=True)
class UrlExpiry:
    expires_at: datetime | None  # when the manifest's presigned URLs stop working
    with_session: bool  # signed with temporary credentials: they die with the session
    session_ends_at: datetime | None = None  # when that session ends, if known


def url_expiry(bucket: Bucket, signed_at: datetime) -> UrlExpiry:
    """When URLs signed now by ``bucket`` expire (no presigned URLs: ``expires_at`` None)."""
    seconds = bucket.config.presign_expiry
    if not seconds or bucket.config.public or bucket.local:
        return UrlExpiry(None, False)
    expires = signed_at + timedelta(seconds=seconds)
    if not _has_session_token(bucket.fs):
        return UrlExpiry(expires, False)
    ends = session_end(bucket.fs)
    if ends is not None and ends < expires:
        log.info("presigned URLs expire with the storage session at %s", ends.isoformat())
        expires = ends
    return UrlExpiry(expires, True, ends)


def _signer_credentials(fs: Any) -> Any:
    signer = getattr(getattr(fs, "s3", None), "_request_signer", None)
    return getattr(signer, "_credentials", None)


def _has_session_token(fs: Any) -> bool:
    """Set by ``make_s3_filesystem`` for env/block credentials; botocore's chain (roles,
    SSO) is read off the live client without refreshing anything."""
    if getattr(fs, "mediagen_session_token", False):
        return True
    credentials = _signer_credentials(fs)
    token = getattr(credentials, "_token", None) or vars(credentials or object()).get("token")
    return bool(token)


def session_end(fs: Any) -> datetime | None:
    """When the storage session ends: ``AWS_CREDENTIAL_EXPIRATION``, or the expiry of the
    client's refreshable credentials (botocore chain); ``None`` when nobody says."""
    raw = os.environ.get(EXPIRATION_ENV, "").strip()
    if raw:
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        except ValueError:
            log.warning("%s=%r is not an ISO 8601 time; ignored", EXPIRATION_ENV, raw)
    expiry = getattr(_signer_credentials(fs), "_expiry_time", None)  # refreshable credentials only
    return expiry if isinstance(expiry, datetime) else None


def describe(expires_at: datetime | None, session_ends_at: datetime | None) -> str:
    """One line for the CLI."""
    when = f" (at {session_ends_at:%Y-%m-%d %H:%M UTC})" if session_ends_at else ""
    line = (
        "note: presigned URLs were signed with temporary credentials (AWS_SESSION_TOKEN): "
        f"they stop working when that session ends{when}"
    )
    if expires_at is not None:
        line += f"; urls_expire_at: {expires_at:%Y-%m-%d %H:%M UTC}"
    return line


__all__ = ["UrlExpiry", "describe", "session_end", "url_expiry"]
