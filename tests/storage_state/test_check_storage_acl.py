"""``validate --check-storage`` probes as the run writes, and cleans up (or says what it left)."""

from __future__ import annotations

import pytest

from mediagen.errors import StorageError
from mediagen.plan.storage_check import check_storage
from mediagen.storage.bucket import Bucket, BucketConfig
from mediagen.testing.s3 import FaultSchedule, S3TestServer, s3_error
from tests.support.s3 import S3_BUCKET, head, list_keys, public_read

DENIED = s3_error(403, "AccessDenied", "Access Denied")


def s3_bucket(s3: S3TestServer, *, public: bool = False) -> Bucket:
    return Bucket(
        BucketConfig("s3", S3_BUCKET, "us-east-1", endpoint_url=s3.endpoint_url, public=public)
    )


def test_public_spec_on_a_bucket_with_acls_disabled_fails_the_check(s3: S3TestServer) -> None:
    s3.disable_acls(S3_BUCKET)
    with pytest.raises(StorageError, match="ACLs disabled") as info:
        check_storage(s3_bucket(s3, public=True), "p")
    assert "public: true" in str(info.value)
    assert list_keys(s3.client()) == []  # the refused probe was never stored


def test_private_spec_on_a_bucket_with_acls_disabled_passes(s3: S3TestServer) -> None:
    s3.disable_acls(S3_BUCKET)
    checks = {c.name: c for c in check_storage(s3_bucket(s3), "p")}
    assert all(c.ok for c in checks.values()), checks
    assert list_keys(s3.client()) == []


def test_public_probe_is_written_public_read(s3: S3TestServer) -> None:
    seen: dict[str, bool] = {}
    bucket = s3_bucket(s3, public=True)
    real_get = bucket.get

    def spy(key: str) -> bytes:  # look at the probe's ACL while it exists
        if ".mediagen-probe-" in key:
            seen[key] = public_read(s3.client(), key)
            assert head(s3.client(), key)["CacheControl"] == "no-store"
        return real_get(key)

    bucket.get = spy  # type: ignore[method-assign]
    checks = {c.name: c for c in check_storage(bucket, "p")}
    assert "(public-read)" in checks["write permitted"].detail
    probes = [k for k in seen if ".mediagen-probe-" in k]
    assert probes and all(seen[k] for k in probes)
    assert list_keys(s3.client()) == []


def test_a_probe_that_cannot_be_deleted_is_named(s3: S3TestServer) -> None:
    s3.faults = FaultSchedule(rate=1.0, kinds=[DENIED], methods=["DELETE"], max_in_a_row=None)
    checks = {c.name: c for c in check_storage(s3_bucket(s3), "p")}
    left = list_keys(s3.client())
    assert len(left) == 1 and left[0].startswith("p/.mediagen-probe-")
    cleanup = checks["probe removed"]
    assert not cleanup.ok
    assert f"s3://{S3_BUCKET}/{left[0]}" in cleanup.detail and "AccessDenied" in cleanup.detail
    assert checks["manifest"].ok  # the other checks still ran
