"""One prefix, one owner, unless every spec on it says it shares it (then each keeps its
own manifest and never deletes or overwrites another spec's objects). Real S3 (moto)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from mediagen.errors import StorageError
from mediagen.manifest.model import Manifest
from mediagen.manifest.prefix_owner import Claim, PrefixConflict
from mediagen.manifest.prune import delete_image, prune
from mediagen.plan.storage_check import check_storage
from mediagen.storage.bucket import Bucket, BucketConfig
from mediagen.testing.s3 import S3TestServer
from tests.storage_state.runner import plan_spec, run_spec
from tests.support.s3 import S3_BUCKET, body, list_keys, s3_storage

PREFIX = "shared"


def spec(s3: S3TestServer, name: str, ids: list[str], **storage: Any) -> dict[str, Any]:
    return {
        "name": name,
        "backend": "offline",
        "storage": s3_storage(s3.endpoint_url, prefix=PREFIX, **storage),
        # The prompt depends on the id only: the same id in two specs is the same image.
        "images": [{"id": i, "prompt": f"a small {i}", "size": "thumbnail"} for i in ids],
    }


def bucket(s3: S3TestServer) -> Bucket:
    return Bucket(BucketConfig("s3", S3_BUCKET, "us-east-1", endpoint_url=s3.endpoint_url))


def objects_intact(s3: S3TestServer, manifest: Manifest) -> bool:
    """Every output the manifest lists is there, byte for byte."""
    client = s3.client()
    return all(
        hashlib.sha256(body(client, o.key)).hexdigest() == o.sha256
        for e in manifest.images.values()
        for o in e.outputs
    )


def test_another_spec_on_an_owned_prefix_is_refused(s3: S3TestServer) -> None:
    owner = run_spec(spec(s3, "owner", [f"o{i}" for i in range(3)]))
    keys_before = list_keys(s3.client())
    intruder = spec(s3, "intruder", ["x"])
    for attempt in (lambda: plan_spec(intruder), lambda: run_spec(intruder)):
        with pytest.raises(PrefixConflict) as info:
            attempt()
        assert "'owner'" in str(info.value) and "'intruder'" in str(info.value)
        assert "shared_prefix" in str(info.value)
    claim = Claim(PREFIX, "intruder", shared=False)
    with pytest.raises(PrefixConflict):
        prune(bucket(s3), PREFIX, dry_run=False, claim=claim)
    with pytest.raises(PrefixConflict):
        delete_image(bucket(s3), PREFIX, "o0", dry_run=False, claim=claim)
    with pytest.raises(PrefixConflict):  # validate --check-storage: before its probe
        check_storage(bucket(s3), PREFIX, claim)
    # opting into sharing alone is not enough: the owner did not
    with pytest.raises(PrefixConflict, match="belongs to spec 'owner'"):
        run_spec(spec(s3, "intruder", ["x"], shared_prefix=True))
    assert list_keys(s3.client()) == keys_before and objects_intact(s3, owner)
    assert plan_spec(spec(s3, "owner", [f"o{i}" for i in range(3)])).removed == []


def test_sharing_specs_keep_their_own_manifests_and_objects(s3: S3TestServer) -> None:
    a = run_spec(spec(s3, "alpha", ["a1", "a2", "common"], shared_prefix=True))
    b = run_spec(spec(s3, "beta", ["b1", "common"], shared_prefix=True))
    keys = list_keys(s3.client(), f"{PREFIX}/")
    assert f"{PREFIX}/manifest.alpha.json" in keys and f"{PREFIX}/manifest.beta.json" in keys
    assert f"{PREFIX}/manifest.json" not in keys
    assert f"{PREFIX}/index.alpha.html" in keys and f"{PREFIX}/index.beta.html" in keys
    common_keys = {o.key for o in b.images["common"].outputs} | {b.images["common"].original_key}
    assert common_keys == {o.key for o in a.images["common"].outputs} | {
        a.images["common"].original_key
    }  # one object for both: content-addressed

    # each run sees only its own images: beta's are not "removed" from alpha's spec
    assert plan_spec(spec(s3, "alpha", ["a1", "a2", "common"], shared_prefix=True)).removed == []
    checks = {c.name: c for c in check_storage(bucket(s3), PREFIX, Claim(PREFIX, "alpha", True))}
    assert checks["prefix owner"].detail.endswith("shared with beta")
    assert "manifest.alpha.json readable" in checks["manifest"].detail

    # alpha drops a2 and common, then prunes: a2 goes, common stays (beta uses it)
    run_spec(spec(s3, "alpha", ["a1"], shared_prefix=True))
    deletion = prune(bucket(s3), PREFIX, dry_run=False, claim=Claim(PREFIX, "alpha", True))
    a2 = {o.key for o in a.images["a2"].outputs}
    assert a2 <= set(deletion.keys) and not common_keys & set(deletion.keys)
    left = set(list_keys(s3.client()))
    assert not a2 & left and common_keys <= left
    assert objects_intact(s3, b)  # every object of beta still there, byte for byte

    # beta deletes common: alpha does not use it any more, so now it really goes
    gone = delete_image(
        bucket(s3), PREFIX, "common", dry_run=False, claim=Claim(PREFIX, "beta", True)
    )
    assert {o.key for o in b.images["common"].outputs} <= set(gone.keys)

    # a spec that does not say it shares is refused, naming the sharers
    with pytest.raises(PrefixConflict, match="'alpha', 'beta'"):
        run_spec(spec(s3, "gamma", ["g"]))

    # beta's manifest unreadable: which keys it uses is unknown, so alpha deletes nothing
    s3.client().put_object(Bucket=S3_BUCKET, Key=f"{PREFIX}/manifest.beta.json", Body=b"{")
    before = list_keys(s3.client())
    with pytest.raises(StorageError, match=r"'beta'.*unreadable"):
        prune(bucket(s3), PREFIX, dry_run=False, claim=Claim(PREFIX, "alpha", True))
    assert list_keys(s3.client()) == before


def test_shared_stable_names_never_overwrite_another_specs_object(s3: S3TestServer) -> None:
    run_spec(spec(s3, "alpha", ["same"], shared_prefix=True, naming="stable"))
    with pytest.raises(PrefixConflict, match=r"would overwrite .* of spec 'alpha'"):
        run_spec(spec(s3, "beta", ["same"], shared_prefix=True, naming="stable"))
    run_spec(spec(s3, "beta", ["other"], shared_prefix=True, naming="stable"))  # no clash


def test_a_spec_moves_its_manifest_when_it_starts_sharing(s3: S3TestServer) -> None:
    first = run_spec(spec(s3, "alpha", ["a1"]))
    assert f"{PREFIX}/manifest.json" in list_keys(s3.client())
    moved = run_spec(spec(s3, "alpha", ["a1"], shared_prefix=True))
    keys = list_keys(s3.client(), f"{PREFIX}/")
    assert f"{PREFIX}/manifest.alpha.json" in keys
    assert f"{PREFIX}/manifest.json" not in keys and f"{PREFIX}/index.html" not in keys
    assert moved.images["a1"].outputs == first.images["a1"].outputs  # nothing made again
    assert moved.shared_prefix and not first.shared_prefix


def test_the_cli_refuses_with_exit_2_naming_both_specs(s3: S3TestServer, tmp_path) -> None:
    import yaml

    from tests.support.cli import mediagen

    owner = run_spec(spec(s3, "owner", ["o1", "o2"]))
    path = tmp_path / "intruder.yaml"
    path.write_text(yaml.safe_dump(spec(s3, "intruder", ["x"])))
    commands = (
        ["plan"],
        ["run", "--prune", "--yes"],
        ["delete", "--image", "o1", "--yes"],
        ["validate", "--check-storage"],
    )
    for args in commands:
        result = mediagen(tmp_path, *args[:1], str(path), *args[1:])
        assert result.returncode == 2, result.stdout + result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "'owner'" in errors[0] and "'intruder'" in errors[0]
        assert "Traceback" not in result.stderr
    assert objects_intact(s3, owner)


def test_the_rules_hold_in_a_local_folder_at_the_bucket_root(workspace) -> None:
    def local(name: str, ids: list[str], **storage: Any) -> dict[str, Any]:
        images = [{"id": i, "prompt": f"a small {i}", "size": "thumbnail"} for i in ids]
        return {"name": name, "storage": {"prefix": "", **storage}, "images": images}

    run_spec(local("owner", ["o"]))
    with pytest.raises(PrefixConflict, match="'owner'"):
        run_spec(local("intruder", ["x"]))
    root = workspace / "bucket"
    (root / "manifest.json").unlink()  # the owner gone: a sharing pair may use the root
    run_spec(local("alpha", ["a"], shared_prefix=True))
    run_spec(local("beta", ["b"], shared_prefix=True))
    assert {"manifest.alpha.json", "manifest.beta.json"} <= {p.name for p in root.iterdir()}
    with pytest.raises(PrefixConflict, match="'alpha', 'beta'"):
        run_spec(local("owner", ["o"]))
