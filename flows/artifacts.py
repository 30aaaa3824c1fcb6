"""What a run shows in the Prefect UI: progress, the image table, thumbnails, links.

Artifacts are keyed by spec (``{spec}-progress``, ``{spec}-images``,
``{spec}-summary``, ``{spec}-manifest``, ``{spec}-gallery``), so the UI's
artifact page keeps one history per spec across runs.

Cost matters on 1000-image runs: the progress artifact is updated from the flow
(never from the per-image tasks), at most once per ``interval`` seconds plus
once at the end, and the markdown holds a bounded number of thumbnails.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from mediagen.engine.context import RunContext
from mediagen.errors import StorageError
from mediagen.manifest.gallery import gallery_key, human_bytes, thumbnail_output
from mediagen.manifest.model import ImageEntry, Manifest, manifest_key
from mediagen.settings import get_settings
from mediagen.storage.bucket import Bucket

MAX_THUMBNAILS = 60
THUMBNAIL_WIDTH = 160
PROGRESS_INTERVAL_S = 2.0


def artifact_key(name: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", name.lower())).strip("-") or "spec"


class ProgressReporter:
    """A progress artifact (and a log line) that follows images as they finish."""

    def __init__(
        self,
        spec_name: str,
        total: int,
        logger: logging.Logger | logging.LoggerAdapter,  # type: ignore[type-arg]
        interval: float = PROGRESS_INTERVAL_S,
    ) -> None:
        self.total, self.logger, self.interval = total, logger, interval
        self.done = self.failed = 0
        self._reported = -1
        self._last = time.monotonic()
        description = self._description() if total else "nothing to make: every image unchanged"
        self.artifact_id: UUID = create_progress_artifact(
            progress=0.0 if total else 100.0,
            key=f"{artifact_key(spec_name)}-progress",
            description=description,
        )

    def image_finished(self, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        if self.done == self.total or time.monotonic() - self._last >= self.interval:
            self.flush()

    def flush(self) -> None:
        if not self.total or self._reported == self.done:
            return
        self._reported, self._last = self.done, time.monotonic()
        update_progress_artifact(
            self.artifact_id,
            progress=round(100.0 * self.done / self.total, 2),
            description=self._description(),
        )
        self.logger.info(self._description())

    def _description(self) -> str:
        return f"{self.done} of {self.total} images finished, {self.failed} failed or blocked"


def publish_run_artifacts(ctx: RunContext, manifest: Manifest, bucket: Bucket) -> None:
    """The image table, the summary with thumbnails, and links to manifest and gallery."""
    key = artifact_key(ctx.spec_name)
    create_table_artifact(
        key=f"{key}-images",
        table=image_rows(manifest),
        description=f"Images of spec {ctx.spec_name}: " + ", ".join(TABLE_COLUMNS),
    )
    own = ctx.spec_name if ctx.shared_prefix else None  # storage.shared_prefix
    manifest_url = bucket.url(manifest_key(ctx.prefix, own))
    gallery_url = bucket.url(gallery_key(ctx.prefix, own))
    expiry = get_settings().summary_thumbnail_expiry
    signer = _signer(bucket, expiry) if expiry else None
    create_markdown_artifact(
        key=f"{key}-summary",
        markdown=summary_markdown(ctx, manifest, manifest_url, gallery_url, signer),
        description=f"Summary of spec {ctx.spec_name}",
    )
    create_link_artifact(
        key=f"{key}-manifest", link=manifest_url, link_text=f"{ctx.spec_name} manifest.json"
    )
    create_link_artifact(
        key=f"{key}-gallery", link=gallery_url, link_text=f"{ctx.spec_name} gallery"
    )


# The short columns first: a URL is long, and everything after it hides behind the
# UI's horizontal scrollbar.
TABLE_COLUMNS = (
    "id", "status", "size", "format", "cost", "brand fit", "url", "model", "failure reason",
)  # fmt: skip


def image_rows(manifest: Manifest) -> list[dict[str, object]]:
    """One row per image for the table artifact, in the order of :data:`TABLE_COLUMNS`."""
    rows = []
    for e in manifest.images.values():
        fit = e.brand_fit
        formats = ", ".join(f"{o.format} {human_bytes(o.bytes)}" for o in e.outputs)
        values = (
            e.id,
            e.status,
            f"{e.width}x{e.height}",
            formats or e.format,
            f"${e.cost_usd:.4f}",
            "" if fit is None else f"{fit.score:.0%}" + (" off-brand" if fit.off_brand else ""),
            e.url or "",
            e.model,
            e.error or "",
        )
        rows.append(dict(zip(TABLE_COLUMNS, values, strict=True)))
    return rows


@dataclass(frozen=True)
class ThumbnailSigner:
    """Presigned thumbnail URLs of a private bucket, all valid ``expiry`` seconds from now."""

    sign: Callable[[str], str]
    expiry: int
    expires_at: datetime


def _signer(bucket: Bucket, expiry: int) -> ThumbnailSigner | None:
    if bucket.local or bucket.config.public:
        return None  # a folder cannot sign; a public bucket needs no signature
    expires_at = datetime.now(UTC) + timedelta(seconds=expiry)
    return ThumbnailSigner(lambda key: bucket.sign(key, expiry), expiry, expires_at)


def summary_markdown(
    ctx: RunContext,
    manifest: Manifest,
    manifest_url: str,
    gallery_url: str,
    signer: ThumbnailSigner | None = None,
) -> str:
    counts = manifest.counts
    lines = [
        f"# {_md(ctx.spec_name)}",
        "",
        f"- published: **{counts['ok']}** of {counts['images']}",
        f"- blocked: {counts['blocked']}, failed: {counts['failed']}",
        f"- plan: {counts['plan_new']} new, {counts['plan_changed']} changed, "
        f"{counts['plan_retry']} retried, {counts['plan_unchanged']} unchanged",
        f"- cost: ${manifest.cost_usd:.4f}"
        + (f" (budget ${manifest.budget_usd:.4f})" if manifest.budget_usd is not None else ""),
        f"- manifest: [{_md(manifest_url)}]({_link(manifest_url)})",
        f"- gallery: [{_md(gallery_url)}]({_link(gallery_url)})",
    ]
    if manifest.run_aborted:
        lines.append(f"- **run aborted**: {_md(manifest.run_aborted)}")
    # After an abort, the images never attempted are summarised by the line above.
    failed = [e for e in manifest.failed() if not (manifest.run_aborted and e.aborted)]
    if failed:
        lines += ["", "## Not published", ""]
        lines += [f"- `{e.id}` {e.status}: {_md(e.error or 'no reason recorded')}" for e in failed]
    lines += ["", "## Images", "", *_thumbnails(ctx, manifest, signer)]
    return "\n".join(lines)


def _thumbnails(ctx: RunContext, manifest: Manifest, signer: ThumbnailSigner | None) -> list[str]:
    published = [e for e in manifest.images.values() if e.status == "ok" and e.url]
    public = ctx.bucket.public or bool(ctx.bucket.public_base_url)
    if not published:
        return ["No image published."]
    shown = published[:MAX_THUMBNAILS]
    intro: list[str] = []
    if public and all(_is_web_url(e.url) for e in published):
        urls = [_thumbnail_url(e) for e in shown]
    elif signer is not None:
        # Opt-in (MEDIAGEN_SUMMARY_THUMBNAIL_EXPIRY): anyone who can read this artifact
        # can fetch these objects until the URLs expire, so they are short-lived.
        try:
            urls = [signer.sign(_thumbnail_key(e)) for e in shown]
        except StorageError as exc:
            return [f"Thumbnails could not be signed: {_md(str(exc))}"]
        until = signer.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        intro = [
            f"Thumbnails of this private bucket are presigned URLs valid for "
            f"{_duration(signer.expiry)} (until {until}); after that they no longer show. "
            "The gallery and the table list every image.",
            "",
        ]
    else:
        # The UI can only show what a browser may fetch: a private object or a
        # file:// path would render as a broken image, so none are shown.
        return [
            "Thumbnails are shown for public buckets (`storage.public: true` or "
            "`public_base_url`), or for private S3 buckets through short-lived presigned "
            "URLs when `MEDIAGEN_SUMMARY_THUMBNAIL_EXPIRY` is set; this one is private. "
            "The gallery and the table list every image."
        ]
    rows = [*intro, "| image | id | size | model | cost |", "|---|---|---|---|---|"]
    for entry, url in zip(shown, urls, strict=True):
        rows.append(
            f'| <img src="{_link(url)}" width="{THUMBNAIL_WIDTH}" alt="{entry.id}"> '
            f"| `{entry.id}` | {entry.width}×{entry.height} | {_md(entry.model)} "
            f"| ${entry.cost_usd:.4f} |"
        )
    if len(published) > MAX_THUMBNAILS:
        rows.append(f"\n… and {len(published) - MAX_THUMBNAILS} more in the gallery.")
    return rows


def _thumbnail_url(entry: ImageEntry) -> str:
    """The smallest output's URL (what the gallery shows too)."""
    output = thumbnail_output(entry)
    return (output.url if output and output.url else None) or entry.url or ""


def _thumbnail_key(entry: ImageEntry) -> str:
    output = thumbnail_output(entry)
    return output.key if output else (entry.key or "")


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _is_web_url(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").scheme in ("http", "https")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def _md(text: str) -> str:
    """Spec-provided text as plain markdown text: no markup, no HTML."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\n", " "))


def _link(url: str) -> str:
    # A URL in a markdown link target or an attribute: no spaces, quotes or brackets.
    return url.replace(" ", "%20").replace('"', "%22").replace("(", "%28").replace(")", "%29")
