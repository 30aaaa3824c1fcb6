"""Writing the manifest while other runs of the same spec may be writing it too.

Strategy: **conditional writes** (optimistic concurrency), not a lock. Each
commit reads the manifest with its ETag, builds the new one from it, and
writes with ``If-Match: <etag>`` (or ``If-None-Match: *`` when there was none).
A 412 means another run wrote in between: read again, merge again, write
again, with jittered backoff, a bounded number of times. No lock object can
be left behind by a crashed run, and an S3 PUT is atomic, so readers always
see a whole manifest.

The merge is three-way: ``base`` (the manifest this run planned against),
``ours`` (what this run would write) and ``theirs`` (what is there now).
Entries the other run added or changed since ``base`` are kept; entries this
run published win; an entry this run removed stays removed only if nobody
changed it meanwhile, and an entry someone deleted meanwhile stays deleted
unless this run republished it. Keys that no image uses any more are kept in
``orphaned_keys`` so ``mediagen run --prune`` can delete exactly them.

Stores that ignore the headers (a few S3 clones) cannot be protected this way;
``mediagen validate --check-storage`` tells you which kind you have.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable

from pydantic import ValidationError

from mediagen.errors import ConditionsUnsupported, PreconditionFailed, StorageError
from mediagen.manifest.candidate_keys import candidate_keys, released_keys
from mediagen.manifest.model import (
    ImageEntry,
    Manifest,
    manifest_bytes,
    manifest_headers,
    manifest_key,
)
from mediagen.plan.keys import sidecar_of
from mediagen.storage.bucket import Bucket

log = logging.getLogger("mediagen.manifest.model")

COMMIT_ATTEMPTS = 12
_URL_FIELDS = {"url": True, "url_expires_at": True, "outputs": {"__all__": {"url"}}}
_warned_unconditional: set[str] = set()


def recorded_keys(entry: ImageEntry) -> set[str]:
    """Every object key the manifest records for ``entry``: outputs, original, sidecar
    (and its candidates' originals and pick record: :mod:`mediagen.manifest.candidate_keys`)."""
    keys = {o.key for o in entry.outputs}
    if entry.original_key:
        keys |= {entry.original_key, sidecar_of(entry.original_key)}
    return keys | candidate_keys(entry)


def keys_in_use(entries: Iterable[ImageEntry]) -> set[str]:
    """Recorded keys that entries still use (unchosen candidates' originals are released)."""
    return set().union(*(recorded_keys(e) - released_keys(e) for e in entries))


def released(entries: Iterable[ImageEntry]) -> set[str]:
    """The unchosen candidates' originals the entries let go: for ``orphaned_keys``."""
    return set().union(*(released_keys(e) for e in entries))


def count_images(images: dict[str, ImageEntry], plan_counts: dict[str, int]) -> dict[str, int]:
    return {
        "images": len(images),
        "ok": sum(e.status == "ok" for e in images.values()),
        "blocked": sum(e.status == "blocked" for e in images.values()),
        "failed": sum(e.status == "failed" for e in images.values()),
        "skipped": sum(e.status == "skipped" for e in images.values()),
        "pending": sum(e.status == "pending" for e in images.values()),
        **{k: v for k, v in plan_counts.items() if k.startswith("plan_")},
    }


def same_entry(a: ImageEntry | None, b: ImageEntry | None) -> bool:
    """Equal in substance: a re-signed URL is not a change."""
    if a is None or b is None:
        return a is b
    return a.model_dump(exclude=_URL_FIELDS) == b.model_dump(exclude=_URL_FIELDS)


def _same_manifest(a: Manifest | None, b: Manifest | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.run_id, a.created_at) == (b.run_id, b.created_at)


def merge(
    base: Manifest | None,
    ours: Manifest,
    theirs: Manifest | None,
    *,
    touched: set[str],
    removed: set[str],
) -> Manifest:
    """``ours`` merged with whatever another run wrote since ``base``.

    ``touched``: ids this run (re)published or failed; ``removed``: ids this
    run dropped because its spec no longer has them.
    """
    if theirs is None or _same_manifest(base, theirs):
        return ours
    base_images = base.images if base else {}
    images: dict[str, ImageEntry] = {}
    for image_id, mine in ours.images.items():
        other = theirs.images.get(image_id)
        if other is None and image_id in base_images and image_id not in touched:
            continue  # deleted meanwhile (`mediagen delete`): its objects may be gone
        if other is None or same_entry(other, base_images.get(image_id)):
            images[image_id] = mine  # they did not touch it
        elif image_id not in touched:
            images[image_id] = other  # we only carried it over; they changed it
        elif mine.status != "ok" and other.status == "ok" and other.gen_key == mine.gen_key:
            images[image_id] = other  # their success beats our failure of the same image
        else:
            images[image_id] = mine
    for image_id, other in theirs.images.items():
        if image_id in images:
            continue
        dropped_by_us = image_id in removed and same_entry(other, base_images.get(image_id))
        if not dropped_by_us:
            images[image_id] = other  # added or republished by the other run
    every = [*base_images.values(), *ours.images.values(), *theirs.images.values()]
    orphans = set(ours.orphaned_keys) | set(theirs.orphaned_keys) | keys_in_use(every)
    return ours.model_copy(
        update={
            "images": images,
            "orphaned_keys": sorted(orphans - keys_in_use(images.values())),
            "counts": count_images(images, ours.counts),
        }
    )


def read_versioned(
    bucket: Bucket, prefix: str, spec: str | None = None
) -> tuple[Manifest | None, str | None]:
    """The manifest now in the bucket and its ETag (``None, None`` when absent).

    ``spec``: the spec's own manifest in a shared prefix (see ``manifest_key``)."""
    try:
        raw, etag = bucket.get_versioned(manifest_key(prefix, spec))
    except FileNotFoundError:
        return None, None
    try:
        return Manifest.model_validate(json.loads(raw)), etag
    except (ValueError, ValidationError):
        log.warning("manifest at %s is unreadable; replacing it", manifest_key(prefix, spec))
        return None, etag


def commit_manifest(
    bucket: Bucket,
    prefix: str,
    build: Callable[[Manifest | None], Manifest],
    *,
    attempts: int = COMMIT_ATTEMPTS,
    spec: str | None = None,
) -> Manifest:
    """Write ``build(current manifest)`` so that no concurrent writer's entries are lost.

    ``build`` may be called several times (once per conflict): keep it pure.
    ``spec``: write that spec's own manifest in a shared prefix (see ``manifest_key``).
    """
    key = manifest_key(prefix, spec)
    for attempt in range(attempts):
        current, etag = read_versioned(bucket, prefix, spec)
        manifest = build(current)
        data = manifest_bytes(manifest)
        headers = manifest_headers(bucket)
        try:
            bucket.put(key, data, **headers, if_match=etag, if_none_match=etag is None)
            return manifest
        except PreconditionFailed:
            delay = random.uniform(0, min(2.0, 0.05 * 2**attempt))
            log.info("manifest %s changed under us; merging again in %.2fs", key, delay)
            time.sleep(delay)
        except ConditionsUnsupported:
            if bucket.config.label not in _warned_unconditional:
                _warned_unconditional.add(bucket.config.label)
                log.warning(
                    "%s does not support conditional writes: two runs of one spec at "
                    "the same time may lose each other's manifest entries",
                    bucket.config.label,
                )
            bucket.put(key, data, **headers)
            return manifest
    raise StorageError(
        f"manifest {key} kept changing: {attempts} conflicting writes in a row; run again"
    )
