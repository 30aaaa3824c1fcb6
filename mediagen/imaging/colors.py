"""Colour facts of an image: dominant colours and the brand-fit score.

Both work on a small preview (about 64 px on the long side, made once per
image), so they cost a few milliseconds whatever the output sizes are.

- Dominant colours: Pillow's median cut, refined by k-means passes (both in C),
  then clusters closer than :data:`MERGE_DELTA_E` are merged, so a flat colour
  with anti-aliased edges is one colour, not three; clusters under
  :data:`MIN_SHARE` of the pixels are left out (so shares may sum to < 1).
- Brand fit: the share of pixels whose colour is within ``max_delta_e`` of at
  least one brand colour, with CIEDE2000 (ΔE00) in CIELAB (D65). CIEDE2000
  rather than CIE76 because CIE76 overstates differences in saturated colours
  (blues, brand teals) and understates them in greys, which is where a
  "near the brand colour" test goes wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

DELTA_E_METRIC = "CIEDE2000"
DEFAULT_MAX_DELTA_E = 10.0
DEFAULT_COLORS = 5
# Clusters closer than this (ΔE00) are one colour to a person: merge them.
MERGE_DELTA_E = 6.0
# Clusters under this share (edges, specks) are not dominant colours: left out.
MIN_SHARE = 0.02
_KMEANS_PASSES = 4
# D65 reference white.
_WHITE = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)


@dataclass(frozen=True)
class ColorShare:
    """One dominant colour and the share of the image it covers (0-1)."""

    hex: str
    proportion: float


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def rgb_to_hex(rgb: Sequence[int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*(int(c) for c in rgb[:3]))


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of 8-bit sRGB colours, shape (..., 3) → (..., 3)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lightness = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 between every colour of ``lab1`` (N, 3) and of ``lab2`` (M, 3): (N, M).

    Sharma, Wu & Dalal (2005), with kL = kC = kH = 1.
    """
    p = np.asarray(lab1, dtype=np.float64)[:, None, :]
    q = np.asarray(lab2, dtype=np.float64)[None, :, :]
    l1, a1, b1 = p[..., 0], p[..., 1], p[..., 2]
    l2, a2, b2 = q[..., 0], q[..., 1], q[..., 2]
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl = l2 - l1
    dc = c2p - c1p
    chroma_zero = (c1p * c2p) == 0
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(chroma_zero, 0.0, dh)
    dh_big = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    l_mean = (l1 + l2) / 2
    cp_mean = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = np.where(
        np.abs(h1p - h2p) <= 180,
        h_sum / 2,
        np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
    )
    h_mean = np.where(chroma_zero, h_sum, h_mean)
    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    d_theta = 30 * np.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.sqrt(
        (dl / s_l) ** 2 + (dc / s_c) ** 2 + (dh_big / s_h) ** 2 + r_t * (dc / s_c) * (dh_big / s_h)
    )


def as_rgb(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white (what most pages show behind it)."""
    if image.mode == "RGB":
        return image
    flat = Image.new("RGBA", image.size, "white")
    flat.alpha_composite(image.convert("RGBA"))
    return flat.convert("RGB")


def pixels(image: Image.Image) -> np.ndarray:
    """The preview's pixels as an (N, 3) uint8 array."""
    return np.asarray(as_rgb(image), dtype=np.uint8).reshape(-1, 3)


def dominant_colors(image: Image.Image, count: int = DEFAULT_COLORS) -> list[ColorShare]:
    """The ``count`` (or fewer) main colours of ``image``, largest share first."""
    rgb = as_rgb(image)
    quantized = rgb.quantize(colors=count, method=Image.Quantize.MEDIANCUT, kmeans=_KMEANS_PASSES)
    palette = quantized.getpalette() or []
    total = rgb.width * rgb.height
    clusters = [
        (n, tuple(palette[3 * index : 3 * index + 3]))
        for n, index in quantized.getcolors(maxcolors=256) or []
        if n
    ]
    clusters.sort(key=lambda item: -item[0])
    merged = _merge_close(clusters)
    shares = [ColorShare(rgb_to_hex(colour), round(n / total, 4)) for n, colour in merged]
    shares = [c for c in shares if c.proportion >= MIN_SHARE]
    return sorted(shares, key=lambda c: (-c.proportion, c.hex))  # ties: a stable order


def _merge_close(
    clusters: list[tuple[int, tuple[int, ...]]],
) -> list[tuple[int, tuple[int, ...]]]:
    """Fold each cluster into a larger one within MERGE_DELTA_E (the larger keeps its colour)."""
    if not clusters:
        return []
    labs = srgb_to_lab(np.array([c for _, c in clusters]))
    distances = delta_e_2000(labs, labs)
    kept: list[int] = []
    counts = [n for n, _ in clusters]
    for i in range(len(clusters)):
        home = next((k for k in kept if distances[i, k] < MERGE_DELTA_E), None)
        if home is None:
            kept.append(i)
        else:
            counts[home] += counts[i]
    out = [(counts[k], clusters[k][1]) for k in kept]
    out.sort(key=lambda item: -item[0])
    return out


def brand_fit_score(
    image: Image.Image, brand_hexes: Sequence[str], max_delta_e: float = DEFAULT_MAX_DELTA_E
) -> float:
    """Share (0-1) of pixels within ``max_delta_e`` (CIEDE2000) of any brand colour."""
    if not brand_hexes:
        raise ValueError("brand fit needs at least one brand colour")
    # Count each distinct colour once: a flat illustration has few, a photo many.
    colours, counts = np.unique(pixels(image), axis=0, return_counts=True)
    brand = srgb_to_lab(np.array([hex_to_rgb(h) for h in brand_hexes]))
    nearest = delta_e_2000(srgb_to_lab(colours), brand).min(axis=1)
    return round(float(counts[nearest <= max_delta_e].sum() / counts.sum()), 4)
