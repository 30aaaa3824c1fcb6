"""The score ``pick: auto`` ranks an image's candidates by: cheap, measured, documented.

Every signal is a number from 0 (worst) to 1 (best), measured on the part of the
image that would be published (the cover crop to the target size at the job's
focal point), from a small copy (:data:`SAMPLE` px on the long side), so scoring
one candidate costs a few milliseconds whatever its size.

- **brand** (weight 0.6, only when the image has brand colours): the share of
  pixels within ``max_delta_e`` CIEDE2000 of a brand colour, the same measure as
  the published ``brand_fit`` (:func:`mediagen.imaging.colors.brand_fit_score`).
  It leads because on-brand colour is what the product promises and what text
  prompts control worst.
- **sharpness** (weight 0.25): the variance of the Laplacian of the grey crop,
  squashed to 0-1 as ``v / (v + SHARPNESS_HALF)``. A soft or smeared generation
  has little high-frequency energy; the variance of a 3x3 Laplacian is the
  standard cheap focus measure (Pech-Pacheco et al., ICPR 2000). It compares
  candidates of one prompt; it says nothing absolute about a picture.
- **aspect** (weight 0.15): the share of the original the cover crop keeps,
  ``min(r, 1/r)`` with ``r`` the ratio of the aspect ratios. A model that answers
  in another shape than asked (a fallback model, a size it does not offer) loses
  that much of its picture to the crop.

``total`` is the weighted mean of the signals present (without brand colours:
sharpness 0.625, aspect 0.375). Ties go to the lower candidate index, so a pick
is deterministic. Change :data:`SCORE_VERSION` when the score changes for the
same pixels: recorded picks made with another version are made again.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mediagen.imaging.colors import DEFAULT_MAX_DELTA_E, as_rgb, brand_fit_score
from mediagen.imaging.crops import cover_box, focus_point

SCORE_VERSION = 1
SAMPLE = 256  # px on the long side of the copy every signal is measured on
BRAND_SAMPLE = 64  # brand fit reads the same ~64 px preview as the published facts
SHARPNESS_HALF = 200.0  # Laplacian variance (grey 0-255) that scores 0.5
WEIGHTS = {"brand": 0.6, "sharpness": 0.25, "aspect": 0.15}


@dataclass(frozen=True)
class Score:
    """One candidate's score: the weighted ``total`` and each signal (0-1)."""

    total: float
    signals: dict[str, float]
    version: int = SCORE_VERSION


def score_image(
    data: bytes,
    width: int,
    height: int,
    brand_colors: Sequence[str] = (),
    *,
    focal: str = "center",
    max_delta_e: float = DEFAULT_MAX_DELTA_E,
) -> Score:
    """Score the encoded image ``data`` as it would be published at ``width`` x ``height``."""
    with Image.open(io.BytesIO(data)) as opened:
        src_w, src_h = opened.size  # before draft, which reports the reduced size
        opened.draft("RGB", (SAMPLE * 2, SAMPLE * 2))  # JPEG: decode at a reduced scale
        opened.thumbnail((SAMPLE, SAMPLE), Image.Resampling.BOX)  # decodes once, in place
        sample = as_rgb(opened) if opened.mode != "RGB" else opened.copy()
    focus = focus_point(focal, sample, width, height)
    box = cover_box(sample.width, sample.height, width, height, focus)
    crop = sample.crop(tuple(round(v) for v in box))  # type: ignore[arg-type]
    signals = {"sharpness": sharpness(crop), "aspect": aspect_fit(src_w, src_h, width, height)}
    if brand_colors:
        preview = crop.copy()
        preview.thumbnail((BRAND_SAMPLE, BRAND_SAMPLE), Image.Resampling.BOX)
        signals["brand"] = brand_fit_score(preview, brand_colors, max_delta_e)
    return Score(total=combine(signals), signals=signals)


def combine(signals: dict[str, float]) -> float:
    """The weighted mean of the signals present, rounded to 4 places."""
    weight = sum(WEIGHTS[name] for name in signals)
    return round(sum(WEIGHTS[name] * value for name, value in signals.items()) / weight, 4)


def sharpness(image: Image.Image) -> float:
    """Variance of the 3x3 Laplacian of the grey image, squashed to 0-1."""
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    variance = float(lap.var())
    return round(variance / (variance + SHARPNESS_HALF), 4)


def aspect_fit(src_w: int, src_h: int, width: int, height: int) -> float:
    """Share (0-1) of a ``src_w`` x ``src_h`` image a cover crop to ``width:height`` keeps."""
    ratio = (src_w / src_h) / (width / height)
    return round(min(ratio, 1 / ratio), 4) if math.isfinite(ratio) and ratio > 0 else 0.0


def best(scores: Sequence[Score]) -> int:
    """The index of the highest total; the lowest index among equals."""
    if not scores:
        raise ValueError("no candidate to pick from")
    return max(range(len(scores)), key=lambda i: (scores[i].total, -i))


__all__ = [
    "SCORE_VERSION",
    "WEIGHTS",
    "Score",
    "aspect_fit",
    "best",
    "combine",
    "score_image",
    "sharpness",
]
