"""Per-image facts for the web: placeholders, dominant colours, brand fit.

Computed once per image from its ~64 px preview (see
:meth:`mediagen.imaging.renditions.PreparedImage.preview`), never per rendition: a few
milliseconds whatever the number of outputs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from PIL import Image

from mediagen.imaging.colors import DELTA_E_METRIC, ColorShare, brand_fit_score, dominant_colors
from mediagen.imaging.placeholders import encode_blurhash, lqip_data_uri
from mediagen.imaging.renditions import PublishedFile, picture_html, srcsets

# Bump when the facts change for the same inputs: every image's facts are recomputed.
FACTS_VERSION = 1


@dataclass(frozen=True)
class BrandCheck:
    """How to score an image against its brand colours (from the spec's ``brand_fit``)."""

    max_delta_e: float = 10.0
    min_score: float | None = None  # below it: flagged off-brand; None: never flagged


@dataclass(frozen=True)
class BrandFit:
    score: float  # share of pixels within max_delta_e of a brand colour, 0-1
    max_delta_e: float
    min_score: float | None
    off_brand: bool
    brand_colors: tuple[str, ...]
    metric: str = DELTA_E_METRIC


@dataclass(frozen=True)
class ImageFacts:
    """What a page and a brand team want to know about one published image."""

    blurhash: str
    lqip: str
    colors: tuple[ColorShare, ...]
    brand_fit: BrandFit | None
    focus: tuple[float, float]  # the crop's focus, as fractions of the original
    alt_text: str | None = None
    alt_text_source: str | None = None  # "human" | "auto" | "fallback"
    alt_text_cost_usd: float = 0.0  # what writing the alt text cost in this run
    alt_text_error: str | None = None  # why the fallback text was used (describe failed)
    seconds: float = 0.0


def compute_facts(
    preview: Image.Image,
    brand_colors: Sequence[str],
    check: BrandCheck | None,
    focus: tuple[float, float] = (0.5, 0.5),
) -> ImageFacts:
    """Placeholders, colours and (with brand colours) the brand fit of ``preview``."""
    started = time.perf_counter()
    fit = None
    if brand_colors:
        check = check or BrandCheck()
        score = brand_fit_score(preview, brand_colors, check.max_delta_e)
        fit = BrandFit(
            score=score,
            max_delta_e=check.max_delta_e,
            min_score=check.min_score,
            off_brand=check.min_score is not None and score < check.min_score,
            brand_colors=tuple(brand_colors),
        )
    return ImageFacts(
        blurhash=encode_blurhash(preview),
        lqip=lqip_data_uri(preview),
        colors=tuple(dominant_colors(preview)),
        brand_fit=fit,
        focus=(round(focus[0], 4), round(focus[1], 4)),
        seconds=time.perf_counter() - started,
    )


def web_fields(
    facts: ImageFacts | None,
    files: Sequence[PublishedFile],
    sizes: str,
    focal_point: str,
    facts_key: str,
) -> dict[str, Any]:
    """The manifest entry's web fields: srcset, <picture>, placeholders, colours, brand, alt."""
    alt = facts.alt_text if facts else None
    fields: dict[str, Any] = {
        "srcset": srcsets(files),
        "picture": picture_html(files, alt or "", sizes),
        "focal_point": focal_point,
        "facts_key": facts_key,
    }
    if facts is not None:
        fields |= {
            "blurhash": facts.blurhash,
            "lqip": facts.lqip,
            "colors": [asdict(c) for c in facts.colors],
            "brand_fit": asdict(facts.brand_fit) if facts.brand_fit else None,
            "focus": list(facts.focus),
            "alt_text": facts.alt_text,
            "alt_text_source": facts.alt_text_source,
            "alt_text_cost_usd": facts.alt_text_cost_usd,
            **({"alt_text_error": facts.alt_text_error} if facts.alt_text_error else {}),
        }
    return fields
