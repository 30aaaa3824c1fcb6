"""Changing ``storage.public`` on a published spec changes the objects already there.

Read back as a stranger would: unsigned GETs against the moto server, which
enforces object ACLs for anonymous requests.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from mediagen.manifest.model import Manifest
from mediagen.manifest.visibility import reconcile
from mediagen.storage.bucket import Bucket, BucketConfig
from mediagen.testing.s3 import S3TestServer
from tests.storage_state.conftest import Cli
from tests.support.s3 import S3_BUCKET, body, head, list_keys, public_read, s3_storage


def anonymous_status(s3: S3TestServer, key: str) -> int:
    """HTTP status of an unsigned GET: what anyone on the internet gets."""
    try:
        with urllib.request.urlopen(f"{s3.endpoint_url}/{S3_BUCKET}/{key}", timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def write_spec(path: Path, s3: S3TestServer, *, public: bool, ids: list[str]) -> None:
    spec = {
        "name": "flip",
        "backend": "offline",
        "storage": s3_storage(s3.endpoint_url, public=public),
        "images": [{"id": i, "prompt": f"a calm {i}", "size": "thumbnail"} for i in ids],
    }
    path.write_text(yaml.safe_dump(spec))


def outputs(manifest: dict[str, Any]) -> list[str]:
    return [o["key"] for e in manifest["images"].values() for o in e["outputs"]]


def test_public_flips_restamp_every_recorded_object(
    s3: S3TestServer, cli: Cli, tmp_path: Path
) -> None:
    spec = tmp_path / "flip.yaml"
    client = s3.client()

    def run(*, public: bool, ids: list[str]) -> tuple[str, dict[str, Any]]:
        write_spec(spec, s3, public=public, ids=ids)
        result = cli("run", str(spec))
        return result.stdout, json.loads(body(client, "flip/manifest.json"))

    out, manifest = run(public=True, ids=["coin", "jar"])
    keys = outputs(manifest)
    assert keys and all(anonymous_status(s3, k) == 200 for k in keys)
    assert "re-applied" not in out

    # public → private: nothing of the spec stays readable by strangers, not even the
    # outputs of an image the spec dropped in the same run (not pruned yet).
    out, manifest = run(public=False, ids=["coin"])
    assert [anonymous_status(s3, k) for k in keys] == [403] * len(keys)
    assert all(not public_read(client, k) for k in keys)
    assert all(head(client, k)["CacheControl"].startswith("private") for k in keys)
    assert head(client, "flip/index.html")["CacheControl"].startswith("private")
    assert anonymous_status(s3, "flip/manifest.json") == 403
    line = [x for x in out.splitlines() if "re-applied" in x]
    assert len(line) == 1 and "public → private" in line[0] and f"{len(keys)} published" in line[0]
    change = manifest["visibility_change"]
    assert (change["previous"], change["public"], change["objects"]) == (True, False, len(keys))
    assert change["run_id"] == manifest["run_id"]
    assert manifest["storage"]["public"] is False
    # the bytes and the headers mediagen set are untouched by the re-stamp
    entry = manifest["images"]["coin"]
    first = entry["outputs"][0]
    assert head(client, first["key"])["Metadata"]["image-id"] == "coin"
    assert head(client, first["key"])["ContentType"] == first["content_type"]

    # private → public: the URLs the manifest gives out answer 200 again
    out, manifest = run(public=True, ids=["coin"])
    live = outputs(manifest)
    assert [anonymous_status(s3, k) for k in live] == [200] * len(live)
    assert all(head(client, k)["CacheControl"].startswith("public") for k in live)
    dropped = sorted(set(keys) - set(live))
    assert dropped and all(anonymous_status(s3, k) == 403 for k in dropped)  # not in the spec
    assert "private → public" in out and manifest["visibility_change"]["public"] is True
    originals = [k for k in list_keys(client) if "/_originals/" in k]
    assert originals and all(anonymous_status(s3, k) == 403 for k in originals)

    # the next run with no change says nothing and re-stamps nothing
    requests_before = s3.requests["PUT"]
    stamped = {k: head(client, k)["LastModified"] for k in live}
    out, manifest = run(public=True, ids=["coin"])
    assert "up to date" in out and "re-applied" not in out
    assert {k: head(client, k)["LastModified"] for k in live} == stamped  # no copy in place
    # The only writes: the run's lease ({prefix}/_lease.json), created and maybe renewed once.
    assert s3.requests["PUT"] - requests_before <= 2


def test_keys_shared_with_another_spec_keep_their_acl(s3: S3TestServer) -> None:
    config = BucketConfig("s3", S3_BUCKET, "us-east-1", endpoint_url=s3.endpoint_url)
    bucket = Bucket(config)
    for key in ("p/a.png", "p/b.png"):
        bucket.put(key, b"x", public=True)
    entry = {
        "id": "a", "status": "ok", "width": 1, "height": 1, "format": "png", "prompt": "p",
        "subject": "p", "backend": "offline", "model": "m", "theme": "t", "size": "s",
        "quality": "q", "gen_key": "g",
        "outputs": [{"format": "png", "key": k, "url": "u", "width": 1, "height": 1,
                     "bytes": 1, "sha256": "s", "content_type": "image/png", "out_key": k}
                    for k in ("p/a.png", "p/b.png")],
    }  # fmt: skip
    previous = Manifest.model_validate(
        {"spec_name": "s", "spec_hash": "h", "storage": {"public": True}, "images": {"a": entry}}
    )
    change = reconcile(bucket, previous, previous.images, [], run_id="r", foreign={"p/b.png"})
    assert change is not None and change.objects == 1 and change.kept == ["p/b.png"]
    assert anonymous_status(s3, "p/a.png") == 403 and anonymous_status(s3, "p/b.png") == 200
    # unchanged setting: nothing to do, no request
    s3.requests.clear()
    same = Bucket(BucketConfig("s3", S3_BUCKET, "us-east-1", endpoint_url=s3.endpoint_url,
                               public=True))  # fmt: skip
    assert reconcile(same, previous, previous.images, [], run_id="r") is None
    assert sum(s3.requests.values()) == 0
