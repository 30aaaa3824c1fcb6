"""The spec's public names in one import: ``from mediagen.spec.models import JobSpec, load_spec``.

The models themselves live in modules of their own, each one concern:

- :mod:`mediagen.spec.base`: the strict base model and small field types;
- :mod:`mediagen.spec.images`: an image's options and the image entry;
- :mod:`mediagen.spec.storage_target`: where images are published;
- :mod:`mediagen.spec.rate_limits`: per-model rate limits;
- :mod:`mediagen.spec.job`: the root, :class:`JobSpec`;
- :mod:`mediagen.spec.parse`: reading and validating a spec (``load_spec`` ...).

Nothing inside ``mediagen.spec`` imports this module, so it closes no cycle.
"""

from __future__ import annotations

from mediagen.spec.base import ID_RULES, Loc, SpecModel, is_valid_id
from mediagen.spec.formats import OutputFormat
from mediagen.spec.images import (
    BrandColor,
    BrandFitCheck,
    CustomSize,
    FocalXY,
    ImageOptions,
    ImageSpec,
    Variants,
)
from mediagen.spec.job import HARD_MAX_IMAGES, TEMPLATE_FIELDS, JobSpec
from mediagen.spec.parse import json_schema, load_spec, load_spec_text, parse_spec, spec_from_any
from mediagen.spec.rate_limits import RateLimit
from mediagen.spec.storage_target import StorageTarget

__all__ = [
    "HARD_MAX_IMAGES",
    "ID_RULES",
    "TEMPLATE_FIELDS",
    "BrandColor",
    "BrandFitCheck",
    "CustomSize",
    "FocalXY",
    "ImageOptions",
    "ImageSpec",
    "JobSpec",
    "Loc",
    "OutputFormat",
    "RateLimit",
    "SpecModel",
    "StorageTarget",
    "Variants",
    "is_valid_id",
    "json_schema",
    "load_spec",
    "load_spec_text",
    "parse_spec",
    "spec_from_any",
]
