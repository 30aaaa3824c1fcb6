"""The manifest: what was published, where, and how it was made.

It lives at ``{prefix}/manifest.json`` in the bucket. It is both the product
(apps read URLs from it) and the cache index (the next run diffs against it).
That manifest also says which spec owns the prefix (``spec_name``): another
spec may not publish there (:mod:`mediagen.manifest.prefix_owner`). Specs that share a
prefix on purpose (``storage.shared_prefix``) each keep their own manifest,
``{prefix}/manifest.{spec name}.json``.
It never holds secrets: only the spec's own content and what backends return.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# Where the manifest is: ``spec`` is the spec's name when it shares the prefix
# (``storage.shared_prefix``), so each sharing spec has its own.
from mediagen.plan.keys import MANIFEST_NAME as MANIFEST_NAME
from mediagen.plan.keys import manifest_key as manifest_key
from mediagen.storage.bucket import Bucket, cache_control_for

SCHEMA_VERSION = 1

# skipped: not generated because the run's budget_usd was reached (retried next run).
# pending: the run was interrupted (Ctrl-C, SIGTERM, a cancel) before it was made.
Status = Literal["ok", "blocked", "failed", "skipped", "pending"]


class OutputEntry(BaseModel):
    """One published file of an image."""

    format: str
    key: str
    url: str
    width: int
    height: int
    bytes: int
    sha256: str
    content_type: str
    out_key: str


class ColorEntry(BaseModel):
    """A dominant colour and the share of the image it covers."""

    hex: str
    proportion: float


class BrandFitEntry(BaseModel):
    """Share of the image's pixels near a brand colour, and whether it is flagged."""

    score: float
    metric: str  # "CIEDE2000"
    max_delta_e: float
    min_score: float | None = None
    off_brand: bool = False
    brand_colors: list[str] = Field(default_factory=list)


class Attempt(BaseModel):
    """One model tried for an image: ``ok``, ``blocked``, ``retired`` (404 from a model
    that was shut down), ``unavailable`` (other 404), ``transient`` (retries ran out),
    ``timeout`` (no answer: it may have been billed) or ``failed``."""

    model: str
    outcome: str
    reason: str = ""


class CandidateEntry(BaseModel):
    """One candidate of an image (``candidates: N``): how it was made and how it scored."""

    index: int
    seed: int | None = None
    gen_key: str
    original_key: str | None = None
    # The score pick: auto ranks by (mediagen.imaging.scoring): total and each signal, 0-1.
    score: float | None = None
    signals: dict[str, float] = Field(default_factory=dict)
    score_version: int | None = None
    cost_usd: float = 0.0
    reused: bool = False  # found in the bucket: no backend call in this run
    chosen: bool = False


class PickEntry(BaseModel):
    """How the published candidate was chosen (``pick``), by whom and when."""

    mode: Literal["auto", "review"] = "auto"
    chosen: int | None = None  # the candidate index; None: none (rejected, skipped)
    gen_key: str | None = None  # the chosen candidate's gen_key
    decision: str = "auto"  # auto | approve | reject | skip
    by: str | None = None  # who decided ("mediagen" for auto)
    at: datetime | None = None
    note: str | None = None  # a reviewer's note
    record_key: str | None = None  # the pick record in the bucket (mediagen.engine.candidates)
    # keep_candidates: prune leaves the unchosen candidates' originals (else it may remove them).
    keep_candidates: bool = False


class ImageEntry(BaseModel):
    """One image of the spec, as published (or why it was not)."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: Status
    url: str | None = None
    key: str | None = None
    width: int
    height: int
    format: str
    bytes: int | None = None
    sha256: str | None = None
    outputs: list[OutputEntry] = Field(default_factory=list)
    prompt: str
    subject: str
    backend: str
    model: str
    seed: int | None = None
    theme: str
    size: str
    quality: str
    gen_key: str
    original_key: str | None = None
    ai_generated: bool | None = None
    usage: dict[str, int] = Field(default_factory=dict)
    # What this image cost (its original's answer, or a paid answer without an image,
    # plus its alt text), whichever run paid it; cost_run_id: the run that paid.
    cost_usd: float = 0.0
    cost_run_id: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)  # the models tried, in order
    timings: dict[str, float] = Field(default_factory=dict)
    error: str | None = None
    # Not made because the run was aborted (its key or a setting refused, see
    # Manifest.run_aborted): one line for the run says why, not one per image.
    aborted: bool = False
    blocked_reason: str | None = None  # e.g. IMAGE_SAFETY, PROHIBITED_CONTENT
    blocked_message: str | None = None  # the API's finishMessage / blockReasonMessage
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)
    run_id: str | None = None
    updated_at: datetime | None = None
    # Web outputs: srcset per format, a <picture> snippet, placeholders, colours, brand, alt.
    srcset: dict[str, str] = Field(default_factory=dict)
    picture: str | None = None
    blurhash: str | None = None
    lqip: str | None = None
    colors: list[ColorEntry] = Field(default_factory=list)
    brand_fit: BrandFitEntry | None = None
    focal_point: str | None = None
    focus: list[float] | None = None
    alt_text: str | None = None
    # human: the spec's text; auto: the backend's; fallback: from the prompt, because the
    # describing model refused or wrote nothing (the image itself was fine)
    alt_text_source: Literal["human", "auto", "fallback"] | None = None
    alt_text_cost_usd: float = 0.0  # included in cost_usd
    alt_text_error: str | None = None  # why alt_text is the fallback (the describe call failed)
    facts_key: str | None = None
    # Several candidates (issue 17, mediagen.spec.selection): every one, and the choice.
    candidates: list[CandidateEntry] = Field(default_factory=list)
    pick: PickEntry | None = None

    @property
    def out_keys(self) -> set[str]:
        return {o.out_key for o in self.outputs}


class VisibilityChange(BaseModel):
    """A run found ``storage.public`` changed and re-applied it to published objects."""

    public: bool  # the setting now
    previous: bool  # the setting the objects were published with
    objects: int  # objects re-stamped (ACL + Cache-Control)
    kept: list[str] = Field(default_factory=list)  # shared with another spec: left alone
    run_id: str | None = None
    at: datetime


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    schema_version: int = SCHEMA_VERSION
    spec_name: str
    spec_version: str = "1"
    spec_hash: str
    run_id: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    storage: dict[str, str | bool | None] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    # cost_usd: what this run paid. total_cost_usd: every paid answer for the images
    # listed here, by any run, crashed runs included (mediagen.manifest.costs). unknown_cost: the
    # answers cut off in flight (a killed run, a timeout): billed or not, nobody knows.
    cost_usd: float = 0.0
    total_cost_usd: float = 0.0
    unknown_cost: list[dict[str, str]] = Field(default_factory=list)
    budget_usd: float | None = None
    run_aborted: str | None = None  # why the run stopped early (e.g. the key was refused)
    images: dict[str, ImageEntry] = Field(default_factory=dict)
    # Keys mediagen published that no image uses any more: what prune may delete.
    orphaned_keys: list[str] = Field(default_factory=list)
    # When presigned URLs in this manifest stop working (private storage with presign_expiry).
    urls_expire_at: datetime | None = None
    # Signed with temporary credentials (AWS_SESSION_TOKEN): the URLs stop working when
    # that session ends (at session_expires_at when known; urls_expire_at is then the earlier).
    urls_expire_with_session: bool = False
    session_expires_at: datetime | None = None
    # False: spec_name owns the prefix; True: it shares it (manifest.{spec_name}.json).
    shared_prefix: bool = False
    # The last change of storage.public, and what it did to objects already published.
    visibility_change: VisibilityChange | None = None

    def failed(self) -> list[ImageEntry]:
        return [e for e in self.images.values() if e.status != "ok"]


def read_manifest(bucket: Bucket, prefix: str, spec: str | None = None) -> Manifest | None:
    """The previous manifest, or None when there is none (or it is unreadable).

    An unreadable manifest is not fatal: the bucket still holds the originals,
    so a fresh plan re-publishes without paying the backend again.
    """
    try:
        raw = bucket.get(manifest_key(prefix, spec))
    except FileNotFoundError:
        return None
    try:
        return Manifest.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        import logging

        logging.getLogger("mediagen").warning(
            "previous manifest at %s is unreadable; planning as if it were absent",
            manifest_key(prefix, spec),
        )
        return None


def write_manifest(bucket: Bucket, prefix: str, manifest: Manifest) -> str:
    """Write the manifest whole (never partially), unconditionally; returns its key.

    Runs use :func:`mediagen.manifest.commit.commit_manifest` instead, which
    never loses a concurrent run's entries.
    """
    key = manifest_key(prefix)
    bucket.put(key, manifest_bytes(manifest), **manifest_headers(bucket))
    return key


def manifest_bytes(manifest: Manifest) -> bytes:
    """The manifest as JSON. NaN/infinity are refused: Pydantic would write them as
    ``null``, and every later run would find the manifest unreadable (and forget it)."""
    bad = _non_finite(manifest.model_dump(), "")
    if bad:
        raise ValueError(f"manifest {manifest.spec_name!r}: {bad} is not a finite number")
    return manifest.model_dump_json(indent=2).encode()


def _non_finite(value: Any, path: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path or "(manifest)"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(
        value, list) else ()  # fmt: skip
    for key, item in items:
        found = _non_finite(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def manifest_headers(bucket: Bucket) -> dict[str, str]:
    """JSON, cached a minute at most: apps must see a new manifest soon after a run."""
    public = bucket.config.public
    return {
        "content_type": "application/json",
        "cache_control": cache_control_for(immutable=False, public=public),
    }
