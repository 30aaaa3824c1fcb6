"""Focal points: where the cover-crop to a target aspect ratio keeps its window.

A backend returns its own aspect ratio (Gemini snaps to 1:1, 16:9, 21:9...),
so almost every output is cropped along one axis. The focal point decides
where on that axis the window sits:

- ``center`` (default), ``top``, ``bottom``, ``left``, ``right``;
- ``entropy``: the window position whose pixels carry the most information
  (Shannon entropy of a 32-bin grey histogram), found on a small grey copy:
  busy detail is kept, flat sky or empty wall is cut;
- ``"x,y"``: explicit fractions of the width and height (0-1), e.g. a face at
  ``0.3,0.25``; the window is centred on that point as far as the image allows.
"""

from __future__ import annotations

import math
import re

import numpy as np
from PIL import Image

NAMED: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "top": (0.5, 0.0),
    "bottom": (0.5, 1.0),
    "left": (0.0, 0.5),
    "right": (1.0, 0.5),
}
FOCAL_NAMES = (*NAMED, "entropy")
DEFAULT_FOCAL = "center"
ENTROPY_SAMPLE = 128  # px on the long side of the grey copy the entropy search uses
_BINS = 32
_XY = re.compile(r"^\s*([01](?:\.\d+)?|\.\d+)\s*,\s*([01](?:\.\d+)?|\.\d+)\s*$")

Box = tuple[float, float, float, float]


def parse_xy(text: str) -> tuple[float, float] | None:
    """``"0.3,0.7"`` → (0.3, 0.7); None if it is not two fractions in 0-1."""
    match = _XY.match(text)
    if not match:
        return None
    x, y = float(match.group(1)), float(match.group(2))
    return (x, y) if 0 <= x <= 1 and 0 <= y <= 1 else None


def normalize(focal: str | None) -> str:
    """A canonical text form (it is part of the output keys): name or ``"x,y"``."""
    if focal is None or focal == DEFAULT_FOCAL:
        return DEFAULT_FOCAL
    if focal in FOCAL_NAMES:
        return focal
    xy = parse_xy(focal)
    if xy is None:
        raise ValueError(
            f"focal point {focal!r} is not one of {', '.join(FOCAL_NAMES)} or 'x,y' fractions"
        )
    return f"{_fraction(xy[0])},{_fraction(xy[1])}"


def _fraction(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") or "0"


def cover_box(
    src_w: int, src_h: int, width: int, height: int, focus: tuple[float, float] = (0.5, 0.5)
) -> Box:
    """The largest window of the target's aspect ratio, centred on ``focus`` where it fits."""
    crop_w = min(src_w, src_h * width / height)
    crop_h = min(src_h, src_w * height / width)
    left = min(max(focus[0] * src_w - crop_w / 2, 0.0), src_w - crop_w)
    top = min(max(focus[1] * src_h - crop_h / 2, 0.0), src_h - crop_h)
    return (left, top, left + crop_w, top + crop_h)


def focus_point(focal: str, image: Image.Image, width: int, height: int) -> tuple[float, float]:
    """The focus (fractions of the source) for a cover-crop of ``image`` to width x height."""
    focal = normalize(focal)
    if focal in NAMED:
        return NAMED[focal]
    if focal == "entropy":
        return entropy_focus(image, width / height)
    xy = parse_xy(focal)
    assert xy is not None  # normalize() checked it
    return xy


def entropy_focus(image: Image.Image, aspect: float) -> tuple[float, float]:
    """Centre (fractions) of the window of ``aspect`` with the most grey-level entropy."""
    src_w, src_h = image.size
    if math.isclose(src_w / src_h, aspect, rel_tol=1e-3):
        return (0.5, 0.5)  # nothing is cropped: the focus cannot matter
    scale = min(1.0, ENTROPY_SAMPLE / max(src_w, src_h))
    size = (max(1, round(src_w * scale)), max(1, round(src_h * scale)))
    # Shrink first, then grey: the full-size image is touched once, by a cheap box filter.
    with (
        image.resize(size, Image.Resampling.BOX, reducing_gap=1.0) as small,
        small.convert("L") as grey,
    ):
        bins = np.asarray(grey, dtype=np.int64) * _BINS // 256  # (h, w)
    h, w = bins.shape
    horizontal = src_w / src_h > aspect  # too wide: the window slides along x
    lines = bins.T if horizontal else bins  # one row per position along the sliding axis
    n = lines.shape[0]
    span = max(1, min(n, round((h * aspect) if horizontal else (w / aspect))))
    # Histogram of every line, then of every window by a running (cumulative) sum.
    flat = (np.arange(n)[:, None] * _BINS + lines).ravel()
    per_line = np.bincount(flat, minlength=n * _BINS).reshape(n, _BINS)
    cumulative = np.vstack([np.zeros((1, _BINS), dtype=np.int64), np.cumsum(per_line, axis=0)])
    windows = (cumulative[span:] - cumulative[:-span]).astype(np.float64)
    p = windows / windows.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)
    # Ties (flat images) go to the window nearest the centre, like the default crop.
    starts = np.arange(len(entropy))
    off_centre = np.abs(starts + span / 2 - n / 2)
    best = int(np.lexsort((off_centre, -np.round(entropy, 6)))[0])
    centre = (best + span / 2) / n
    return (centre, 0.5) if horizontal else (0.5, centre)
