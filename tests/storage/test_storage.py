"""The local-folder bucket: atomic writes, safe keys, URLs, listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediagen.errors import StorageError
from mediagen.manifest.model import Manifest, read_manifest, write_manifest
from mediagen.storage.bucket import Bucket, BucketConfig


@pytest.fixture
def bucket(tmp_path: Path) -> Bucket:
    return Bucket(BucketConfig(provider="local", bucket=str(tmp_path / "b")))


def test_put_get_and_url(bucket: Bucket, tmp_path: Path) -> None:
    bucket.put("p/a/x.png", b"abc", content_type="image/png")
    assert bucket.get("p/a/x.png") == b"abc"
    assert bucket.exists("p/a/x.png") and not bucket.exists("p/a/y.png")
    assert bucket.url("p/a/x.png") == (tmp_path / "b/p/a/x.png").as_uri()
    with pytest.raises(FileNotFoundError):
        bucket.get("p/missing")


def test_writes_leave_no_partial_files(bucket: Bucket, tmp_path: Path) -> None:
    bucket.put("p/x.bin", b"1" * 1000)
    bucket.put("p/x.bin", b"2" * 10)  # overwrite in place, atomically
    assert bucket.get("p/x.bin") == b"2" * 10
    assert sorted(p.name for p in (tmp_path / "b/p").iterdir()) == ["x.bin"]


def test_find_by_key_prefix(bucket: Bucket) -> None:
    for key in ("p/_originals/abc.png", "p/_originals/abc.json", "p/_originals/abd.png", "q/z"):
        bucket.put(key, b"x")
    assert bucket.find("p/_originals/abc") == ["p/_originals/abc.json", "p/_originals/abc.png"]
    assert bucket.find("nothing/here") == []


@pytest.mark.parametrize("key", ["../escape", "/abs/path", "p/../../x"])
def test_unsafe_keys_are_refused(bucket: Bucket, key: str) -> None:
    with pytest.raises(StorageError):
        bucket.put(key, b"x")


def test_public_base_url_wins(tmp_path: Path) -> None:
    cfg = BucketConfig(
        provider="local", bucket=str(tmp_path), public_base_url="https://cdn.example/"
    )
    assert Bucket(cfg).url("p/x.png") == "https://cdn.example/p/x.png"


def test_url_forms_for_s3_and_spaces() -> None:
    spaces = BucketConfig(provider="digitalocean", bucket="media", region="nyc3")
    cdn = BucketConfig(provider="digitalocean", bucket="media", region="nyc3", cdn=True)
    aws = BucketConfig(provider="s3", bucket="media", region="eu-west-1")
    fake_fs = object()
    assert Bucket(spaces, fake_fs).url("k.png") == "https://media.nyc3.digitaloceanspaces.com/k.png"
    assert (
        Bucket(cdn, fake_fs).url("k.png") == "https://media.nyc3.cdn.digitaloceanspaces.com/k.png"
    )
    assert Bucket(aws, fake_fs).url("k.png") == "https://media.s3.eu-west-1.amazonaws.com/k.png"


def test_manifest_round_trip_and_unreadable_manifest(bucket: Bucket) -> None:
    assert read_manifest(bucket, "p") is None
    write_manifest(bucket, "p", Manifest(spec_name="s", spec_hash="h"))
    assert read_manifest(bucket, "p").spec_name == "s"
    bucket.put("p/manifest.json", b"{not json")
    assert read_manifest(bucket, "p") is None  # planned as absent; originals still cache
