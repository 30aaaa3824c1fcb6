"""Helpers for tests against the local S3 server (see the ``s3`` fixture in conftest)."""

from __future__ import annotations

from typing import Any

# Distinctive fake credentials: tests grep every captured output for them.
AWS_KEY, AWS_SECRET = "AKIAMEDIAGENTEST0001", "mediagen-test-secret-never-print-7f3a9c"
DO_KEY, DO_SECRET = "DOSPACESMEDIAGENKEY01", "do-spaces-secret-never-print-41b2e8"
SECRETS = (AWS_KEY, AWS_SECRET, DO_KEY, DO_SECRET)
S3_BUCKET = "media-test"
STORAGE_ENV = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "DO_SPACES_KEY", "DO_SPACES_SECRET", "MEDIAGEN_STORAGE_PROVIDER", "MEDIAGEN_STORAGE_BUCKET",
    "MEDIAGEN_STORAGE_REGION", "MEDIAGEN_STORAGE_ENDPOINT_URL",
    "MEDIAGEN_STORAGE_CREDENTIALS_BLOCK",
)  # fmt: skip
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def s3_storage(endpoint_url: str, **extra: Any) -> dict[str, Any]:
    """A spec's storage section for the test bucket on the local server."""
    return {
        "provider": "s3",
        "bucket": S3_BUCKET,
        "region": "us-east-1",
        "endpoint_url": endpoint_url,
        **extra,
    }


def public_read(client: Any, key: str, bucket: str = S3_BUCKET) -> bool:
    """True when the object's ACL grants READ to everyone (AllUsers)."""
    grants = client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    return any(
        g["Grantee"].get("URI") == ALL_USERS and g["Permission"] in ("READ", "FULL_CONTROL")
        for g in grants
    )


def list_keys(client: Any, prefix: str = "", bucket: str = S3_BUCKET) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def head(client: Any, key: str, bucket: str = S3_BUCKET) -> dict[str, Any]:
    return client.head_object(Bucket=bucket, Key=key)  # type: ignore[no-any-return]


def body(client: Any, key: str, bucket: str = S3_BUCKET) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
