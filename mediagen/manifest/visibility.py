"""When a spec's ``public`` changes, objects already published follow it.

Uploads skip objects that are already there (hashed keys are content-addressed)
and unchanged images are not uploaded at all, so without this step a spec that
goes public→private leaves its outputs public-read (anyone may still fetch them
while the manifest says private), and private→public publishes URLs that answer
403.

A run compares the spec's ``public`` with the previous manifest's
``storage.public``. When they differ it re-stamps every output object the
manifest recorded, *before* the new manifest is written: a copy onto itself
with the new ACL and the matching Cache-Control (``private`` for private
objects, so no CDN or proxy keeps them). If the run stops halfway, the
manifest still records the old setting and the next run re-stamps again
(idempotent). The change is recorded in the manifest (``visibility_change``)
and the CLI prints one line about it.

Which objects:

- to public: the outputs of the images the spec still has;
- to private: those, plus the outputs of images it dropped (``orphaned_keys``
  not yet pruned): nothing stays public unless the spec says so.

Originals, sidecars and alt-text caches are always private and are left alone.
Keys also recorded by another spec sharing the prefix (``storage.shared_prefix``)
are left as they are and listed: they are that spec's objects too.

Versioned buckets: only the current version is re-stamped; older versions keep
their ACL (delete them, or use a lifecycle rule, if they must not stay public).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from mediagen.manifest.model import ImageEntry, Manifest, VisibilityChange
from mediagen.plan.keys import ORIGINALS_DIR
from mediagen.storage.bucket import Bucket

log = logging.getLogger("mediagen.storage.bucket")

ORIGINALS = f"{ORIGINALS_DIR}/"


def previous_public(previous: Manifest | None) -> bool | None:
    """What the last run published as (``None``: no manifest, or one that did not say)."""
    if previous is None:
        return None
    value = previous.storage.get("public")
    return value if isinstance(value, bool) else None


def flipped(previous: Manifest | None, bucket: Bucket) -> bool:
    """Does this run's ``public`` differ from what the objects were published with?"""
    before = previous_public(previous)
    return not bucket.local and before is not None and before != bucket.config.public


def _outputs(entries: Iterable[ImageEntry]) -> set[str]:
    return {o.key for e in entries for o in e.outputs}


def _is_output(key: str) -> bool:
    return not (key.startswith(ORIGINALS) or f"/{ORIGINALS}" in key)


def keys_to_restamp(
    previous: Manifest, images: dict[str, ImageEntry], orphaned: Iterable[str], public: bool
) -> set[str]:
    """The output keys whose ACL must follow ``public`` (see the module docstring)."""
    keys = _outputs(images.values())
    if not public:
        keys |= _outputs(previous.images.values())
        keys |= {k for k in [*previous.orphaned_keys, *orphaned] if _is_output(k)}
    return keys


def reconcile(
    bucket: Bucket,
    previous: Manifest | None,
    images: dict[str, ImageEntry],
    orphaned: Iterable[str],
    *,
    run_id: str | None,
    foreign: set[str] | None = None,
) -> VisibilityChange | None:
    """Re-stamp the recorded objects when ``public`` changed; ``None`` when it did not.

    ``foreign``: keys another spec (sharing the prefix) also records; left untouched.
    Raises a ``StorageError`` when an object cannot be re-stamped (the manifest is then
    not written, so the next run tries again).
    """
    if previous is None or not flipped(previous, bucket):
        return None
    public = bucket.config.public
    keys = keys_to_restamp(previous, images, orphaned, public)
    kept = sorted(keys & (foreign or set()))
    todo = sorted(keys - set(kept))
    restamped = _restamp_all(bucket, todo, public)
    change = VisibilityChange(
        public=public,
        previous=not public,
        objects=restamped,
        kept=kept,
        run_id=run_id,
        at=datetime.now(UTC),
    )
    log.info("%s", describe(change))
    return change


def _restamp_all(bucket: Bucket, keys: list[str], public: bool) -> int:
    """Re-stamp ``keys`` a few at a time (one process-wide S3 client is thread-safe)."""
    from mediagen.storage.s3 import restamp

    def one(key: str) -> bool:
        try:
            # Bucket owns retries and error translation: the same bound as every request.
            bucket._retrying(key, lambda: restamp(bucket.fs, bucket.path(key), public=public))
        except FileNotFoundError:
            return False  # deleted meanwhile (delete, prune, by hand): nothing to expose
        return True

    workers = max(1, min(bucket.config.pool_size, 16, len(keys)))
    with ThreadPoolExecutor(workers, thread_name_prefix="mediagen-acl") as pool:
        return sum(pool.map(one, keys))


def describe(change: VisibilityChange) -> str:
    """One line for the CLI and the logs."""
    before, after = ("private", "public") if change.public else ("public", "private")
    acl = "public-read" if change.public else "private"
    line = (
        f"storage.public changed ({before} → {after}): re-applied ACL {acl} and "
        f"Cache-Control to {change.objects} published object(s)"
    )
    if change.kept:
        line += f"; {len(change.kept)} shared with another spec on the prefix left as they were"
    return line


__all__ = ["describe", "flipped", "keys_to_restamp", "previous_public", "reconcile"]
