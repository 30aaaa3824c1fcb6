"""What a page paints while the real image loads: a BlurHash and a tiny LQIP data URI.

Both are made from the image's small preview (the cropped picture as it is
published, about 64 px long), once per image.

BlurHash follows the reference algorithm (github.com/woltapp/blurhash): a
DCT of the linear-light pixels, ``x × y`` cosine components, quantised into a
base-83 string. Any BlurHash decoder (JS, Swift, Kotlin...) reads it; mediagen
only encodes (the tests decode with the reference Python port).

The LQIP is a WebP of at most ~32 px on the long side, as a ``data:`` URI of
at most :data:`LQIP_MAX_BYTES` characters (the whole URI, not just the image),
so it can sit inline in HTML or JSON. It carries no XMP: a packet alone would
be larger than the limit, and the LQIP is never published as a file.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image

from mediagen.imaging.colors import as_rgb

BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
BLURHASH_SAMPLE = 32  # px on the long side: more changes nothing at 4x3 components
LQIP_MAX_BYTES = 1024
LQIP_LONG_SIDE = 32
LQIP_QUALITY = 50


# -- BlurHash ------------------------------------------------------------------


def _encode83(value: int, length: int) -> str:
    return "".join(BASE83[value // 83 ** (length - 1 - i) % 83] for i in range(length))


def _srgb_to_linear(values: np.ndarray) -> np.ndarray:
    v = values / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(values: np.ndarray) -> np.ndarray:
    v = np.clip(values, 0.0, 1.0)
    srgb = np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)
    return np.floor(srgb * 255 + 0.5).astype(np.int64)


def components_for(width: int, height: int) -> tuple[int, int]:
    """4 components along the long side, 3 along the short one."""
    return (4, 3) if width >= height else (3, 4)


def _basis(n: int, count: int) -> np.ndarray:
    """cos(pi * k * t / n) for k < count and pixel t < n: shape (count, n)."""
    return np.cos(np.pi * np.outer(np.arange(count), np.arange(n)) / n)


def encode_blurhash(image: Image.Image, x_components: int = 0, y_components: int = 0) -> str:
    """The BlurHash of ``image`` (sampled down to ~32 px first; cheap)."""
    rgb = as_rgb(image)
    if max(rgb.size) > BLURHASH_SAMPLE:
        scale = BLURHASH_SAMPLE / max(rgb.size)
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BOX)
    if not (x_components and y_components):
        x_components, y_components = components_for(*rgb.size)
    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("BlurHash components must be 1-9 on each axis")
    linear = _srgb_to_linear(np.asarray(rgb, dtype=np.float64))  # (h, w, 3)
    height, width = linear.shape[:2]
    bx, by = _basis(width, x_components), _basis(height, y_components)
    # factors[j, i] = sum_y sum_x by[j, y] * bx[i, x] * pixel[y, x] / (w h), doubled for AC.
    factors = np.einsum("jy,ix,yxc->jic", by, bx, linear) / (width * height)
    factors[1:, :] *= 2
    factors[0, 1:] *= 2
    flat = factors.reshape(-1, 3)  # row-major over (j, i): i varies fastest, as specified
    dc, ac = flat[0], flat[1:]

    parts = [_encode83((x_components - 1) + (y_components - 1) * 9, 1)]
    if len(ac):
        quantised_max = int(max(0, min(82, math.floor(float(np.abs(ac).max()) * 166 - 0.5))))
        maximum = (quantised_max + 1) / 166
        parts.append(_encode83(quantised_max, 1))
    else:
        maximum = 1.0
        parts.append(_encode83(0, 1))
    r, g, b = _linear_to_srgb(dc)
    parts.append(_encode83((int(r) << 16) + (int(g) << 8) + int(b), 4))
    if len(ac):
        scaled = np.sign(ac / maximum) * np.abs(ac / maximum) ** 0.5
        quant = np.clip(np.floor(scaled * 9 + 9.5), 0, 18).astype(np.int64)
        for qr, qg, qb in quant:
            parts.append(_encode83(int(qr) * 361 + int(qg) * 19 + int(qb), 2))
    return "".join(parts)


# -- LQIP ----------------------------------------------------------------------


def lqip_data_uri(image: Image.Image, max_bytes: int = LQIP_MAX_BYTES) -> str:
    """A tiny WebP of ``image`` as a ``data:image/webp;base64,...`` URI of ≤ max_bytes chars."""
    rgb = as_rgb(image)
    long_side, quality = LQIP_LONG_SIDE, LQIP_QUALITY
    while True:
        scale = min(1.0, long_side / max(rgb.size))
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        with rgb.resize(size, Image.Resampling.BOX) as small:
            buffer = io.BytesIO()
            small.save(buffer, "WEBP", quality=quality, method=4)
        uri = "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        if len(uri) <= max_bytes or long_side <= 4:
            return uri
        # Too big (busy content): fewer pixels first, then a lower quality.
        long_side, quality = max(4, long_side * 3 // 4), max(20, quality - 10)
