"""Prune and delete on a real S3 endpoint: only keys mediagen's manifest recorded go.

Foreign objects are planted under the prefix, some named exactly like ours
would be; they must survive every prune and delete.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flows.run import run_flow
from mediagen.manifest.commit import recorded_keys
from mediagen.manifest.prune import delete_image, prune
from mediagen.storage.bucket import Bucket, BucketConfig
from mediagen.testing.s3 import S3TestServer
from tests.support.s3 import S3_BUCKET, body, list_keys, s3_storage

pytestmark = pytest.mark.usefixtures("prefect_server")

FOREIGN = [
    "demo/foreign.png",  # someone else's file beside ours
    "demo/keep-12345678.png",  # named like a hashed output of an image 'keep'
    "demo/_originals/0000000000000000000000000000000000000000000000000000000000000000.png",
    "demo-other/keep.png",  # a neighbouring prefix
]
IMAGES = [
    {"id": "keep", "prompt": "a kept picture", "size": "thumbnail", "formats": ["png", "webp"]},
    {"id": "twin", "prompt": "a kept picture", "size": "thumbnail"},  # same original as 'keep'
    {"id": "drop", "prompt": "a dropped picture", "size": "thumbnail"},
]


def spec(s3: S3TestServer, images: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "demo", "backend": "counting", "storage": s3_storage(s3.endpoint_url),
            "images": images}  # fmt: skip


def bucket(s3: S3TestServer) -> Bucket:
    return Bucket(BucketConfig(provider="s3", bucket=S3_BUCKET, endpoint_url=s3.endpoint_url))


def plant_foreign(s3: S3TestServer) -> None:
    client = s3.client()
    for key in FOREIGN:
        client.put_object(Bucket=S3_BUCKET, Key=key, Body=b"not mediagen's")


def test_prune_lists_first_then_deletes_only_recorded_orphans(s3: S3TestServer, counting):
    first = run_flow(spec(s3, IMAGES))
    plant_foreign(s3)
    dropped = recorded_keys(first.images["drop"])
    assert len(dropped) == 3  # its output, its original, the original's sidecar

    second = run_flow(spec(s3, IMAGES[:2]))  # 'drop' left the spec
    assert "drop" not in second.images
    assert set(second.orphaned_keys) == dropped

    listing = prune(bucket(s3), "demo", dry_run=True)
    assert set(listing.keys) == dropped and not listing.done
    assert dropped <= set(list_keys(s3.client()))  # a dry run deletes nothing

    done = prune(bucket(s3), "demo", dry_run=False)
    assert set(done.keys) == dropped and done.done
    remaining = set(list_keys(s3.client()))
    assert not dropped & remaining
    assert set(FOREIGN) <= remaining  # foreign objects survive, even look-alikes
    for key in (k for e in second.images.values() for k in recorded_keys(e)):
        assert key in remaining  # images still in the spec keep everything
    manifest = json.loads(body(s3.client(), "demo/manifest.json"))
    assert manifest["orphaned_keys"] == [] and set(manifest["images"]) == {"keep", "twin"}
    assert prune(bucket(s3), "demo", dry_run=False).keys == []  # nothing left to prune


def test_delete_one_image_keeps_a_shared_original_and_foreign_objects(s3, counting):
    manifest = run_flow(spec(s3, IMAGES))
    plant_foreign(s3)
    keep, twin = manifest.images["keep"], manifest.images["twin"]
    assert keep.original_key == twin.original_key  # same generation: one original

    listing = delete_image(bucket(s3), "demo", "keep", dry_run=True)
    assert set(listing.keys) == {o.key for o in keep.outputs}  # not the shared original
    before = set(list_keys(s3.client()))
    assert set(listing.keys) <= before

    delete_image(bucket(s3), "demo", "keep", dry_run=False)
    after = set(list_keys(s3.client()))
    assert before - after == set(listing.keys)
    assert set(FOREIGN) <= after and twin.original_key in after
    stored = json.loads(body(s3.client(), "demo/manifest.json"))
    assert set(stored["images"]) == {"twin", "drop"} and stored["orphaned_keys"] == []
    assert stored["counts"]["images"] == 2

    with pytest.raises(KeyError):
        delete_image(bucket(s3), "demo", "keep", dry_run=True)  # no entry any more

    # Deleting the last user of the original takes the original and its sidecar too.
    gone = delete_image(bucket(s3), "demo", "twin", dry_run=False)
    assert set(gone.keys) == recorded_keys(twin)
    assert set(FOREIGN) <= set(list_keys(s3.client()))
