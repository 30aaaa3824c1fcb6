"""The end of a run: merge its results into the manifest, write it and the gallery.

The write is conditional (see :mod:`mediagen.manifest.commit`): if another run of
the spec wrote the manifest meanwhile, its entries are merged in, not lost.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mediagen.engine.context import RunContext
from mediagen.engine.run import Run
from mediagen.manifest import costs, prefix_owner, visibility
from mediagen.manifest.commit import commit_manifest, count_images, keys_in_use, merge, released
from mediagen.manifest.gallery import write_gallery
from mediagen.manifest.model import ImageEntry, Manifest
from mediagen.plan.diff import Plan
from mediagen.storage.bucket import Bucket
from mediagen.storage.url_expiry import url_expiry


def finalize(
    ctx: RunContext,
    plan: Plan,
    results: dict[str, ImageEntry],
    previous: Manifest | None,
    run: Run,
) -> Manifest:
    """Merge this run's results with the unchanged entries and write the manifest.

    The write is conditional (see :mod:`mediagen.manifest.commit`): if another run of
    the spec wrote the manifest meanwhile, its entries are merged in, not lost.
    """
    old = previous.images if previous else {}
    images: dict[str, ImageEntry] = {}
    for item in plan.items:
        if item.action == "unchanged":
            images[item.job.id] = old[item.job.id]
        else:
            images[item.job.id] = results[item.job.id]
    # Keys the spec no longer uses stay listed, so a later prune deletes exactly
    # what mediagen published and nothing else under the prefix.
    orphans = set(previous.orphaned_keys if previous else []) | keys_in_use(old.values())
    orphans |= released(results.values())  # unchosen candidates, once a choice is recorded
    bucket = run.bucket(ctx.bucket)
    # Checked again at the end: another spec may have claimed the prefix during the run.
    claim = prefix_owner.Claim(ctx.prefix, ctx.spec_name, ctx.shared_prefix)
    state = prefix_owner.open_prefix(bucket, claim)
    # storage.public changed: objects already published follow it before the manifest says so.
    change = visibility.reconcile(
        bucket, previous, images, orphans, run_id=ctx.run_id, foreign=state.others_in_use()
    )
    ours = Manifest(
        spec_name=ctx.spec_name,
        spec_version=ctx.spec_version,
        spec_hash=ctx.spec_hash,
        run_id=ctx.run_id,
        storage={
            "provider": ctx.bucket.provider,
            "bucket": ctx.bucket.bucket,
            "prefix": ctx.prefix,
            "public": ctx.bucket.public,
            "naming": ctx.bucket.naming,
        },
        counts=count_images(images, {f"plan_{k}": v for k, v in plan.counts().items()}),
        **costs.manifest_fields(bucket, ctx.prefix, ctx.run_id, results, images),
        images=images,
        orphaned_keys=sorted(orphans - keys_in_use(images.values())),
        budget_usd=run.budget_usd,
        run_aborted=run.aborted,
        visibility_change=change or (previous.visibility_change if previous else None),
        shared_prefix=ctx.shared_prefix,
    )

    def build(current: Manifest | None) -> Manifest:
        merged = merge(previous, ours, current, touched=set(results), removed=set(plan.removed))
        return with_current_urls(merged, bucket)

    manifest = commit_manifest(bucket, ctx.prefix, build, spec=claim.own)
    write_gallery(bucket, ctx.prefix, manifest)
    prefix_owner.retire_moved(bucket, state)  # the manifest moved (shared <-> one owner)
    return manifest


def with_current_urls(manifest: Manifest, bucket: Bucket) -> Manifest:
    """Every URL in the form the bucket gives now: presigned ones signed anew, with
    their expiry stated; a change of CDN or base URL reaches old entries too."""
    signed_at = datetime.now(UTC)
    images = {image_id: _current(entry, bucket) for image_id, entry in manifest.images.items()}
    expiry = url_expiry(bucket, signed_at)  # a session token ends URLs with the session
    update = {"urls_expire_at": expiry.expires_at, "urls_expire_with_session": expiry.with_session,
              "session_expires_at": expiry.session_ends_at}  # fmt: skip
    return manifest.model_copy(update={"images": images, **update})


def _current(entry: ImageEntry, bucket: Bucket) -> ImageEntry:
    """``entry`` with its URLs as the bucket gives them now: the entry itself when they
    are already (a folder, a public bucket), so 10,000 entries are not copied for
    nothing at the end of a run (a copy is ~5 KB each: issue 15, bench/memory.py)."""
    urls = [bucket.url(o.key) for o in entry.outputs]
    if urls == [o.url for o in entry.outputs] and (not urls or entry.url == urls[0]):
        return entry
    outputs = [
        o.model_copy(update={"url": url}) for o, url in zip(entry.outputs, urls, strict=True)
    ]
    update: dict[str, object] = {"outputs": outputs}
    if outputs:
        update["url"] = urls[0]
    return entry.model_copy(update=update)


__all__ = ["finalize", "with_current_urls"]
