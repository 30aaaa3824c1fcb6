"""A local bucket stays inside its folder: symbolic links out of it are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediagen.errors import StorageError
from mediagen.storage import Bucket, BucketConfig
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
