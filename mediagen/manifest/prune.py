"""Deleting what mediagen published: one image (``delete``) or what no image uses (``prune``).

Only keys that mediagen's own manifest recorded are ever deleted (outputs,
originals and their sidecars of entries, and ``orphaned_keys``), plus what lives
and dies with a recorded original: the alt-text answers cached beside it
(``{original}.alt-{hash}.json``, :func:`mediagen.plan.keys.owned_by_original`).
Only under the spec's prefix: a foreign object beside them is never touched,
even if its name looks like ours. Every key is named by :mod:`mediagen.plan.keys`.
Both operations list first and delete only when asked (``dry_run=False``).

Crash safety: keys leave the manifest only after their objects are gone. For
``delete``, the entry is first turned into ``orphaned_keys`` (still recorded),
then the objects are deleted, then the keys are dropped from the manifest: a
crash at any point leaves every remaining object recorded, so a later prune
finishes the job.

A prune racing a run of the same spec could delete an original that run has
just decided to reuse: ``mediagen run --prune`` and ``mediagen delete --yes``
hold the spec's lease (:mod:`mediagen.storage.lease`), so they wait for such a run.

Another spec's objects are never deleted. Given the spec's ``claim``, both
operations first check that the spec may act on the prefix
(:mod:`mediagen.manifest.prefix_owner`: refused when another spec owns it). When specs
share the prefix, each prunes from its own manifest only, and a key another
sharing spec still uses (an identical image's content-addressed original or
output) is left in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediagen.errors import StorageError
from mediagen.manifest.commit import commit_manifest, count_images, keys_in_use, recorded_keys
from mediagen.manifest.gallery import write_gallery
from mediagen.manifest.model import Manifest, manifest_key, read_manifest
from mediagen.manifest.prefix_owner import Claim, open_prefix
from mediagen.plan import keys as bucket_keys
from mediagen.storage.bucket import Bucket


@dataclass(frozen=True)
class Deletion:
    """What a delete or prune removes (or would remove, in a dry run)."""

    keys: list[str]
    image_ids: list[str]
    done: bool


def _ours(keys: set[str], prefix: str) -> list[str]:
    """Defence in depth: never a key outside the prefix, never a manifest, gallery or lease."""
    head = bucket_keys.folder(prefix)
    never = bucket_keys.never_deleted(prefix)
    return sorted(k for k in keys if k.startswith(head) and k not in never)


def _with_companions(bucket: Bucket, prefix: str, keys: list[str]) -> list[str]:
    """``keys`` plus the alt-text answers cached beside each original among them.

    Those answers are not in the manifest (they are found by listing the prefix's
    originals once): without this, deleting an image left them behind for good.
    """
    originals_head = bucket_keys.originals_folder(prefix)
    originals = [k for k in keys if k.startswith(originals_head) and not k.endswith(".json")]
    if not originals:
        return keys
    listing = bucket.find(originals_head)
    answers = set().union(*(bucket_keys.alt_text_keys_of(k, listing) for k in originals))
    return sorted(set(keys) | set(_ours(answers, prefix)))


def prune_candidates(manifest: Manifest, prefix: str) -> list[str]:
    """Recorded keys that no image of the manifest uses any more."""
    return _ours(set(manifest.orphaned_keys) - keys_in_use(manifest.images.values()), prefix)


def image_keys(manifest: Manifest, image_id: str, prefix: str) -> list[str]:
    """The recorded keys of one image that no other image shares (originals can be shared)."""
    entry = manifest.images[image_id]
    others = keys_in_use(e for i, e in manifest.images.items() if i != image_id)
    return _ours(recorded_keys(entry) - others, prefix)


def _own(bucket: Bucket, prefix: str, claim: Claim | None) -> tuple[str | None, set[str]]:
    """(the ``spec`` argument of this spec's manifest, keys other specs still use);
    raises ``PrefixConflict`` when the claim may not act on the prefix."""
    if claim is None:
        return None, set()
    state = open_prefix(bucket, claim)
    state.check_can_delete()
    return claim.own, state.others_in_use()


def prune(
    bucket: Bucket, prefix: str, *, dry_run: bool = True, claim: Claim | None = None
) -> Deletion:
    """Delete the objects of images no longer in the spec (see :func:`prune_candidates`).

    ``claim``: the spec acting (checked first; its own manifest when it shares the prefix).
    """
    spec, protected = _own(bucket, prefix, claim)
    manifest = read_manifest(bucket, prefix, spec)
    keys = prune_candidates(manifest, prefix) if manifest else []
    keys = [k for k in keys if k not in protected]  # still used by another spec
    keys = _with_companions(bucket, prefix, keys)
    if dry_run or not keys:
        return Deletion(keys, [], done=not dry_run)
    _delete_then_forget(bucket, prefix, keys, spec)
    return Deletion(keys, [], done=True)


def delete_image(
    bucket: Bucket,
    prefix: str,
    image_id: str,
    *,
    dry_run: bool = True,
    claim: Claim | None = None,
) -> Deletion:
    """Delete one image's objects and its manifest entry. ``KeyError`` if it has none."""
    spec, protected = _own(bucket, prefix, claim)
    manifest = read_manifest(bucket, prefix, spec)
    if manifest is None or image_id not in manifest.images:
        raise KeyError(image_id)
    keys = [k for k in image_keys(manifest, image_id, prefix) if k not in protected]
    keys = _with_companions(bucket, prefix, keys)
    if dry_run:
        return Deletion(keys, [image_id], done=False)

    def drop_entry(current: Manifest | None) -> Manifest:
        current = current or manifest
        images = {i: e for i, e in current.images.items() if i != image_id}
        orphans = (set(current.orphaned_keys) | set(keys)) - keys_in_use(images.values())
        return current.model_copy(
            update={
                "images": images,
                "orphaned_keys": sorted(orphans),
                "counts": count_images(images, current.counts),
            }
        )

    manifest = commit_manifest(bucket, prefix, drop_entry, spec=spec)
    write_gallery(bucket, prefix, manifest)  # the page beside it must not show a deleted image
    _delete_then_forget(bucket, prefix, keys, spec)
    return Deletion(keys, [image_id], done=True)


def _delete_then_forget(bucket: Bucket, prefix: str, keys: list[str], spec: str | None) -> None:
    for key in keys:
        bucket.delete(key)
    gone = set(keys)

    def forget(current: Manifest | None) -> Manifest:
        if current is None:
            raise StorageError(
                f"manifest {manifest_key(prefix, spec)} vanished during the deletion"
            )
        remaining = [k for k in current.orphaned_keys if k not in gone]
        return current.model_copy(update={"orphaned_keys": remaining})

    commit_manifest(bucket, prefix, forget, spec=spec)
