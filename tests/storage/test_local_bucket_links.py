"""A local bucket stays inside its folder: symbolic links out of it are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediagen.errors import StorageError
from mediagen.storage.bucket import Bucket, BucketConfig
from tests.support.local_run import run_locally


def test_objects_never_land_outside_through_a_symlinked_folder(workspace: Path) -> None:
    outside = workspace / "outside"
    outside.mkdir()
    (workspace / "bucket" / "links").mkdir(parents=True)
    (workspace / "bucket" / "links" / "_originals").symlink_to(outside)

    spec = {"name": "links", "images": [{"id": "one", "prompt": "a coin", "size": "thumbnail"}]}
    entry = run_locally(spec).images["one"]
    assert entry.status == "failed"
    assert "symbolic link leads it outside the bucket folder" in (entry.error or "")
    assert list(outside.iterdir()) == []  # nothing written through the link


def test_reads_writes_and_deletes_through_links_out_are_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "bucket", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("not the bucket's")
    (root / "out").symlink_to(outside)
    (root / "file.txt").symlink_to(outside / "secret.txt")
    (root / "inside").symlink_to(root)  # a link that stays inside is fine
    bucket = Bucket(BucketConfig(provider="local", bucket=str(root)))

    for call in (
        lambda: bucket.put("out/x.png", b"data"),
        lambda: bucket.get("file.txt"),
        lambda: bucket.delete("out/secret.txt"),
    ):
        with pytest.raises(StorageError, match="outside the bucket folder"):
            call()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    bucket.put("inside/ok.txt", b"fine")
    assert (root / "ok.txt").read_bytes() == b"fine"


def test_lock_files_live_in_a_private_folder_and_are_never_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    bucket = Bucket(BucketConfig(provider="local", bucket=str(tmp_path / "bucket")))
    target = os.path.abspath(bucket.path("p/manifest.json"))
    name = hashlib.sha256(target.encode()).hexdigest()[:32]
    shared = tmp_path / "mediagen-locks"  # the old, shared lock folder
    shared.mkdir(mode=0o777)
    victim = tmp_path / "victim-created-through-a-link"
    (shared / f"{name}.lock").symlink_to(victim)

    bucket.put("p/manifest.json", b"{}", if_none_match=True)  # a conditional write locks
    assert not victim.exists()
    private = tmp_path / f"mediagen-locks-{os.getuid()}"
    assert (private / f"{name}.lock").is_file()
    assert private.stat().st_mode & 0o777 == 0o700
