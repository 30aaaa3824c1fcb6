"""The root of a spec: :class:`JobSpec`, a whole spec file.

Its parts are modules of their own: the images (:mod:`mediagen.spec.images`),
where they are published (:mod:`mediagen.spec.storage_target`) and the rate
limits (:mod:`mediagen.spec.rate_limits`). Reading and validating a file is
:mod:`mediagen.spec.parse`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator

from mediagen.spec.base import Slug, SpecModel
from mediagen.spec.batch import BatchOptions
from mediagen.spec.images import ImageOptions, ImageSpec
from mediagen.spec.limits import MAX_IMAGES
from mediagen.spec.rate_limits import RateLimit
from mediagen.spec.references import SpecOrigin
from mediagen.spec.storage_target import StorageTarget

HARD_MAX_IMAGES = MAX_IMAGES  # a worker may lower it (MEDIAGEN_MAX_IMAGES), never raise it
# Matrix variables with these names also set that option of each expanded image.
TEMPLATE_FIELDS = ("theme", "size", "quality")


class JobSpec(SpecModel):
    """A whole spec file."""

    name: Slug = Field(description="Spec name; also the default key prefix.")
    version: str = Field("1", json_schema_extra={"type": ["string", "number"]})
    description: str = ""
    domain: Literal["finance", "general"] = Field(
        "finance", description="'finance' turns finance context on by default."
    )
    backend: str | None = Field(
        None, description="Image backend: offline or an installed backend's name. Default: auto."
    )
    concurrency: int | None = Field(None, ge=1, le=256)
    max_images: int = Field(
        1000,
        ge=1,
        le=HARD_MAX_IMAGES,
        description=f"Cap on images after templates expand (at most {HARD_MAX_IMAGES}).",
    )
    budget_usd: float | None = Field(
        None,
        gt=0,
        description="Spend cap in USD: a run whose estimate exceeds it does not start, and "
        "no new image is generated once spend would pass it.",
    )
    rate_limits: dict[str, RateLimit] | None = Field(
        None,
        description="Per-model limits, {model or '*': {requests_per_minute, max_concurrency}}, "
        "shared by every task of a run.",
    )
    storage: StorageTarget = StorageTarget()
    batch: BatchOptions = BatchOptions()  # images with delivery: batch (mediagen.spec.batch)
    defaults: ImageOptions = ImageOptions()
    images: list[ImageSpec] = Field(min_length=1)
    # Where it was read from (reference files are relative to its folder); not content.
    _origin: SpecOrigin | None = PrivateAttr(None)

    @property
    def origin(self) -> SpecOrigin:
        return self._origin or SpecOrigin()

    def __eq__(self, other: object) -> bool:
        # Equal content is an equal spec, wherever each was read from (``_origin``).
        if not isinstance(other, JobSpec):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, as pydantic's own models

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of the spec (same spec → same hash).

        Unset options (None) are left out: a release that adds an option leaves the
        hash of every spec that does not use it alone (no "changed" run after upgrading).
        """
        canonical = json.dumps(
            self.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()
