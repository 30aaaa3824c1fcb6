"""Delete and prune remove everything of an image, the alt-text answers cached beside
its original included (they are not in the manifest), and nothing of another spec.

Runs go through the real flow (a previous manifest is what records a dropped
image's keys as orphans). The bucket is listed before and after, and the
difference must be exactly the image's objects: its outputs, its original, the
original's sidecar and its ``.alt-*.json`` answers (``alt_text: auto`` with the
offline backend writes one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flows.run import run_flow
from mediagen.manifest.prefix_owner import claim_of
from mediagen.manifest.prune import delete_image, prune
from mediagen.plan import keys
from mediagen.spec.models import parse_spec
from mediagen.storage.bucket import Bucket, BucketConfig

pytestmark = pytest.mark.usefixtures("prefect_server", "workspace")


def image(image_id: str, prompt: str) -> dict[str, Any]:
    return {"id": image_id, "prompt": prompt, "size": "thumbnail", "alt_text": "auto",
            "formats": ["png", "webp"]}  # fmt: skip


def spec(name: str, images: list[dict[str, Any]], root: Path, **storage: Any) -> dict[str, Any]:
    return {"name": name, "backend": "offline", "images": images,
            "storage": {"bucket": str(root / "bucket"), **storage}}  # fmt: skip


def listing(root: Path) -> set[str]:
    base = root / "bucket"
    return {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}


def alt_answers(objects: set[str]) -> set[str]:
    return {k for k in objects if keys.ALT_TEXT_MARK in k.rsplit("/", 1)[-1]}


def bucket(root: Path) -> Bucket:
    return Bucket(BucketConfig(provider="local", bucket=str(root / "bucket")))


def test_delete_removes_the_images_alt_text_answers_and_nothing_else(tmp_path):
    alpha = spec("alpha", [image("keep", "a kept jar"), image("drop", "a dropped jar")], tmp_path)
    beta = spec("beta", [image("drop", "a dropped jar")], tmp_path)  # same image, own prefix
    first = run_flow(alpha)
    run_flow(beta)
    before = listing(tmp_path)
    drop = first.images["drop"]
    base = keys.base_of(drop.original_key)
    assert len(alt_answers({k for k in before if k.startswith(base)})) == 1  # cached beside it

    done = delete_image(bucket(tmp_path), "alpha", "drop", dry_run=False,
                        claim=claim_of(parse_spec(alpha)))  # fmt: skip
    after = listing(tmp_path)
    gone = before - after
    assert gone == set(done.keys)
    assert not [k for k in after if k.startswith("alpha/") and drop.gen_key in k]
    assert not [k for k in after if k.startswith("alpha/drop")]
    assert {k for k in gone if base in k} == {
        drop.original_key, keys.sidecar_of(drop.original_key), *alt_answers(gone)}  # fmt: skip
    assert len(alt_answers(gone)) == 1
    assert {k for k in before if k.startswith("beta/")} <= after  # another spec: untouched
    kept = first.images["keep"]
    assert {kept.original_key, *(o.key for o in kept.outputs)} <= after
    assert alt_answers({k for k in after if k.startswith(keys.base_of(kept.original_key))})


def test_prune_removes_a_dropped_images_alt_text_answers(tmp_path):
    images = [image("keep", "a kept jar"), image("drop", "a dropped jar")]
    first = run_flow(spec("alpha", images, tmp_path))
    run_flow(spec("alpha", images[:1], tmp_path))  # 'drop' left the spec
    before = listing(tmp_path)
    drop = first.images["drop"]
    assert drop.gen_key in "".join(before)

    dry = prune(bucket(tmp_path), "alpha", dry_run=True)
    assert listing(tmp_path) == before  # a dry run lists, deletes nothing
    assert alt_answers(set(dry.keys))  # and names the answers it would remove
    done = prune(bucket(tmp_path), "alpha", dry_run=False)
    after = listing(tmp_path)
    assert set(done.keys) == set(dry.keys) == before - after
    assert not [k for k in after if drop.gen_key in k or k.startswith("alpha/drop")]
    assert alt_answers(after)  # 'keep' keeps its answer


def test_an_answer_another_spec_on_the_prefix_still_uses_stays(tmp_path):
    shared = {"prefix": "team", "shared_prefix": True}
    same = image("same", "one jar for both")
    alpha = spec("alpha", [same], tmp_path, **shared)
    run_flow(alpha)
    beta_manifest = run_flow(spec("beta", [same], tmp_path, **shared))
    before = listing(tmp_path)
    done = delete_image(bucket(tmp_path), "team", "same", dry_run=False,
                        claim=claim_of(parse_spec(alpha)))  # fmt: skip
    after = listing(tmp_path)
    base = keys.base_of(beta_manifest.images["same"].original_key)
    assert {k for k in before if k.startswith(base)} <= after  # original, sidecar, answer
    assert not alt_answers(set(done.keys))
    assert {o.key for o in beta_manifest.images["same"].outputs} <= after
