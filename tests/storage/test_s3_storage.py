"""Bucket against a real S3 endpoint (moto's server), read back with boto3 as a second client."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
import urllib.request
from typing import Any

import pytest

from mediagen.engine.run import Run
from mediagen.errors import (
    ConfigurationError,
    PreconditionFailed,
    StorageError,
    TransientStorageError,
)
from mediagen.plan.storage_check import check_storage
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from mediagen.storage.bucket import Bucket, BucketConfig, pool_size_for
from mediagen.storage.s3 import pool_size_of
from mediagen.testing.s3 import (
    INTERNAL_ERROR,
    RESET,
    SLOWDOWN,
    FaultSchedule,
    S3TestServer,
    s3_error,
    slow,
)
from tests.support.s3 import (
    AWS_KEY,
    AWS_SECRET,
    DO_KEY,
    DO_SECRET,
    S3_BUCKET,
    body,
    head,
    list_keys,
    public_read,
)


def s3_bucket(s3: S3TestServer, **extra: Any) -> Bucket:
    config = BucketConfig(
        provider=extra.pop("provider", "s3"),
        bucket=extra.pop("bucket", S3_BUCKET),
        region=extra.pop("region", "us-east-1"),
        endpoint_url=s3.endpoint_url,
        **extra,
    )
    return Bucket(config)


def test_put_sets_headers_and_metadata_and_is_private_by_default(s3: S3TestServer) -> None:
    bucket = s3_bucket(s3)
    bucket.put("p/a-1234abcd.webp", b"RIFF....WEBP", content_type="image/webp",
               metadata={"image-id": "a", "gen-key": "g" * 64})  # fmt: skip
    client = s3.client()
    info = head(client, "p/a-1234abcd.webp")
    assert info["ContentType"] == "image/webp"
    assert info["CacheControl"] == "private, max-age=31536000, immutable"
    assert info["Metadata"] == {"image-id": "a", "gen-key": "g" * 64}
    assert not public_read(client, "p/a-1234abcd.webp")  # no AllUsers grant
    assert body(client, "p/a-1234abcd.webp") == b"RIFF....WEBP"


def test_public_bucket_grants_all_users_read_and_says_public(s3: S3TestServer) -> None:
    bucket = s3_bucket(s3, public=True)
    bucket.put("p/x.png", b"png")
    bucket.put("p/_originals/x.png", b"png", public=False)  # originals: always private
    client = s3.client()
    assert public_read(client, "p/x.png")
    assert head(client, "p/x.png")["CacheControl"] == "public, max-age=31536000, immutable"
    assert not public_read(client, "p/_originals/x.png")


def test_scripted_faults_are_retried_one_request_per_attempt(s3: S3TestServer) -> None:
    bucket = s3_bucket(s3)
    s3.faults = FaultSchedule([SLOWDOWN, INTERNAL_ERROR, RESET, slow(0.3)])
    started = time.monotonic()
    bucket.put("p/x.png", b"data")
    assert time.monotonic() - started >= 0.3
    assert s3.faults.injected == {"SlowDown": 1, "InternalError": 1, "reset": 1, "slow": 1}
    # One retry layer (ours): three failed attempts, then a slow answer that succeeds.
    assert s3.requests["PUT"] == 4
    assert body(s3.client(), "p/x.png") == b"data"


def test_retries_are_bounded_then_the_error_is_transient(s3, monkeypatch) -> None:
    monkeypatch.setenv("MEDIAGEN_STORAGE_RETRIES", "3")
    bucket = s3_bucket(s3)
    s3.faults = FaultSchedule(rate=1.0, kinds=[SLOWDOWN], max_in_a_row=None)
    with pytest.raises(TransientStorageError, match="SlowDown"):
        bucket.put("p/x.png", b"data")
    assert s3.requests["PUT"] == 3
    s3.faults = FaultSchedule(rate=1.0, kinds=[INTERNAL_ERROR], methods=["GET"], max_in_a_row=None)
    with pytest.raises(TransientStorageError):
        bucket.get("p/anything")
    assert s3.requests["GET"] == 3


def test_a_response_slower_than_the_timeout_is_retried(s3, monkeypatch) -> None:
    monkeypatch.setenv("MEDIAGEN_STORAGE_TIMEOUT", "0.5")
    bucket = s3_bucket(s3)
    bucket.put("p/x.png", b"data")
    s3.faults = FaultSchedule([slow(2.0)], methods=["GET"])
    assert bucket.get("p/x.png") == b"data"
    assert s3.requests["GET"] == 2


def test_conditional_writes(s3: S3TestServer) -> None:
    bucket = s3_bucket(s3)
    etag = bucket.put("p/manifest.json", b"1", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        bucket.put("p/manifest.json", b"2", if_none_match=True)
    data, current = bucket.get_versioned("p/manifest.json")
    assert (data, current) == (b"1", etag)
    bucket.put("p/manifest.json", b"3", if_match=current)
    with pytest.raises(PreconditionFailed):  # the ETag is stale now
        bucket.put("p/manifest.json", b"4", if_match=current)
    assert bucket.get("p/manifest.json") == b"3"


def test_conditional_writes_on_a_local_folder(tmp_path) -> None:
    bucket = Bucket(BucketConfig(provider="local", bucket=str(tmp_path)))
    etag = bucket.put("p/m.json", b"1", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        bucket.put("p/m.json", b"2", if_none_match=True)
    assert bucket.get_versioned("p/m.json") == (b"1", etag)
    bucket.put("p/m.json", b"3", if_match=etag)
    with pytest.raises(PreconditionFailed):
        bucket.put("p/m.json", b"4", if_match=etag)
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["m.json"]  # no lock files


def test_presigned_url_fetches_the_private_object(s3: S3TestServer) -> None:
    bucket = s3_bucket(s3, presign_expiry=900)
    bucket.put("p/x.png", b"private bytes")
    url = bucket.url("p/x.png")
    assert "X-Amz-Expires=900" in url and "X-Amz-Signature=" in url
    assert AWS_SECRET not in url
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == b"private bytes"
    assert bucket.plain_url("p/x.png") == f"{s3.endpoint_url}/{S3_BUCKET}/p/x.png"


def test_url_forms_with_an_endpoint_override(s3: S3TestServer) -> None:
    spaces = s3_bucket(s3, provider="digitalocean", region="nyc3", bucket="media")
    cdn = s3_bucket(s3, provider="digitalocean", region="nyc3", bucket="media", cdn=True)
    base = s3_bucket(s3, public_base_url="https://img.example.com/")
    assert spaces.url("p/k.png") == "https://media.nyc3.digitaloceanspaces.com/p/k.png"
    assert cdn.url("p/k.png") == "https://media.nyc3.cdn.digitaloceanspaces.com/p/k.png"
    assert base.url("p/k.png") == "https://img.example.com/p/k.png"


def test_connection_pool_is_sized_to_the_concurrency(s3: S3TestServer) -> None:
    assert pool_size_for(1) == 10  # never below botocore's default
    assert pool_size_for(16) == 50
    assert pool_size_of(s3_bucket(s3, pool_size=pool_size_for(16)).fs) == 50
    spec = parse_spec({"name": "pool", "images": [{"id": "a", "prompt": "p"}]})
    config = BucketConfig.for_spec(spec, get_settings(), concurrency=12)
    assert config.pool_size == 38


def _child_put(run: Run, config: BucketConfig, parent_fs_id: int, conn: Any) -> None:
    try:
        bucket = run.bucket(config)  # the parent's Run, forked: its clients are not reused
        bucket.put("p/from-child.txt", b"child")
        conn.send(("ok", id(bucket.fs) != parent_fs_id))
    except BaseException as exc:  # report, never hang the parent
        conn.send(("error", repr(exc)))
    finally:
        # Leave without the exit hooks inherited from the parent: when other tests in
        # this process have used Prefect, its service threads' hooks fail in a fork.
        conn.close()
        os._exit(0)


def test_filesystem_is_built_anew_in_a_forked_worker(s3: S3TestServer) -> None:
    config = s3_bucket(s3).config
    run = Run()
    parent = run.bucket(config)
    parent.put("p/from-parent.txt", b"parent")  # the parent's loop and pool are live
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child_put, args=(run, config, id(parent.fs), send))
    child.start()
    try:
        assert receive.poll(60), "the forked worker did not answer"
        assert receive.recv() == ("ok", True)  # its own filesystem, and it worked
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    parent.put("p/after-fork.txt", b"still fine")  # the parent's client survived the fork
    assert list_keys(s3.client(), "p/") == ["p/after-fork.txt", "p/from-child.txt",
                                             "p/from-parent.txt"]  # fmt: skip


def test_missing_bucket_is_a_clear_error_without_credentials(s3: S3TestServer) -> None:
    bucket = s3_bucket(s3, bucket="no-such-bucket")
    with pytest.raises(StorageError) as info:
        bucket.put("p/x.png", b"x")
    assert "bucket not found" in str(info.value)
    for secret in (AWS_KEY, AWS_SECRET):
        assert secret not in str(info.value) and secret not in repr(info.value)
    with pytest.raises(StorageError):
        check_storage(bucket, "p")


def test_spaces_use_do_credentials(s3: S3TestServer, monkeypatch) -> None:
    monkeypatch.setenv("DO_SPACES_KEY", DO_KEY)
    monkeypatch.setenv("DO_SPACES_SECRET", DO_SECRET)
    s3_bucket(s3, provider="digitalocean", region="nyc3").put("p/x.png", b"x")
    assert set(s3.access_keys) == {DO_KEY}
    s3.access_keys.clear()
    s3_bucket(s3).put("p/y.png", b"y")  # provider s3: the AWS variables
    assert set(s3.access_keys) == {AWS_KEY}


def test_spaces_without_credentials_is_a_configuration_error(s3, monkeypatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    with pytest.raises(ConfigurationError, match="DO_SPACES_KEY and DO_SPACES_SECRET"):
        s3_bucket(s3, provider="digitalocean", region="nyc3")
    monkeypatch.setenv("DO_SPACES_KEY", DO_KEY)  # half a pair names the other half only
    with pytest.raises(ConfigurationError, match="DO_SPACES_SECRET is not set") as info:
        s3_bucket(s3, provider="digitalocean", region="nyc3")
    assert DO_KEY not in str(info.value)


def test_check_storage_probes_without_leaving_anything(s3: S3TestServer) -> None:
    bucket = s3_bucket(s3)
    checks = {c.name: c for c in check_storage(bucket, "p")}
    assert all(c.ok for c in checks.values()), checks
    assert "honoured" in checks["conditional writes"].detail
    assert "none yet" in checks["manifest"].detail
    assert list_keys(s3.client()) == []  # the probe was deleted, no image written
    assert s3.requests["PUT"] == 2  # the probe and the conditional re-put (refused)


def test_environment_storage_applies_only_to_specs_without_storage(s3, monkeypatch) -> None:
    monkeypatch.setenv("MEDIAGEN_STORAGE_PROVIDER", "s3")
    monkeypatch.setenv("MEDIAGEN_STORAGE_BUCKET", S3_BUCKET)
    monkeypatch.setenv("MEDIAGEN_STORAGE_ENDPOINT_URL", s3.endpoint_url)
    images = [{"id": "a", "prompt": "p"}]
    plain = parse_spec({"name": "plain", "images": images})
    own = parse_spec({"name": "own", "images": images, "storage": {"bucket": "./here"}})
    config = BucketConfig.for_spec(plain, get_settings())
    assert (config.provider, config.bucket, config.endpoint_url) == (
        "s3", S3_BUCKET, s3.endpoint_url)  # fmt: skip
    assert BucketConfig.for_spec(own, get_settings()).provider == "local"
    monkeypatch.setenv("MEDIAGEN_STORAGE_PROVIDER", "digitalocean")  # no region: clear error
    monkeypatch.delenv("MEDIAGEN_STORAGE_ENDPOINT_URL")
    with pytest.raises(ConfigurationError, match="region"):
        BucketConfig.for_spec(plain, get_settings())


def test_acl_disabled_bucket_refuses_public_with_a_clear_message(s3: S3TestServer) -> None:
    # moto does not enforce Object Ownership: the injector answers as AWS does for a
    # bucket with ACLs disabled, so the translation is tested against the real wire format.
    s3.faults = FaultSchedule(
        [s3_error(400, "AccessControlListNotSupported", "The bucket does not allow ACLs")]
    )
    with pytest.raises(StorageError, match="ACLs disabled") as info:
        s3_bucket(s3, public=True).put("p/public.png", b"x")
    assert "public_base_url" in str(info.value)
    assert s3.requests["PUT"] == 1  # a client error: not retried


def test_local_and_s3_etags_agree_with_md5(s3: S3TestServer) -> None:
    etag = s3_bucket(s3).put("p/x.bin", b"abc")
    assert etag == f'"{hashlib.md5(b"abc").hexdigest()}"'


def test_a_credential_echoed_by_the_server_is_redacted(s3: S3TestServer) -> None:
    bucket = s3_bucket(s3)  # resolving the credentials registers them for redaction
    s3.faults = FaultSchedule([s3_error(403, "AccessDenied", f"no access for {AWS_SECRET}")])
    with pytest.raises(StorageError, match="access denied") as info:
        bucket.put("p/x.png", b"x")
    assert AWS_SECRET not in str(info.value) and "***" in str(info.value)


def test_presigned_manifests_are_refreshed_after_half_their_life() -> None:
    from datetime import UTC, datetime, timedelta

    from mediagen.cli.publish_commands import urls_expiring as _urls_expiring
    from mediagen.manifest.model import Manifest

    now = datetime.now(UTC)
    fresh = Manifest(spec_name="s", spec_hash="h", created_at=now,
                     urls_expire_at=now + timedelta(hours=1))  # fmt: skip
    old = fresh.model_copy(update={"created_at": now - timedelta(minutes=40),
                                   "urls_expire_at": now + timedelta(minutes=20)})  # fmt: skip
    assert not _urls_expiring(fresh) and _urls_expiring(old)
    assert not _urls_expiring(Manifest(spec_name="s", spec_hash="h"))  # nothing presigned
