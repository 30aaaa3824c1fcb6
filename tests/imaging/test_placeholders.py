"""BlurHash and LQIP: checked against the reference decoder and by their pixels."""

from __future__ import annotations

import base64
import io

import blurhash as reference  # the reference Python port, an independent implementation
import numpy as np
import pytest
from PIL import Image, ImageDraw

from mediagen.imaging.colors import delta_e_2000, srgb_to_lab
from mediagen.imaging.placeholders import (
    LQIP_MAX_BYTES,
    components_for,
    encode_blurhash,
    lqip_data_uri,
)


def scene(width: int = 64, height: int = 36) -> Image.Image:
    """Large soft areas of known colour: a sky gradient, a green hill, a sun."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        draw.line((0, y, width, y), fill=(int(40 + 120 * t), int(90 + 100 * t), 220))
    draw.ellipse((-width // 2, height * 0.6, width * 1.5, height * 2), fill=(40, 150, 60))
    draw.ellipse((width * 0.7, height * 0.1, width * 0.85, height * 0.37), fill=(250, 200, 40))
    return image


def mean_delta_e(a: Image.Image, b: Image.Image) -> float:
    """Mean CIEDE2000 between two same-size images, pixel by pixel."""
    la = srgb_to_lab(np.asarray(a.convert("RGB")).reshape(-1, 3))
    lb = srgb_to_lab(np.asarray(b.convert("RGB")).reshape(-1, 3))
    return float(
        np.mean([delta_e_2000(la[i : i + 1], lb[i : i + 1])[0, 0] for i in range(len(la))])
    )


def test_blurhash_is_the_reference_encoding() -> None:
    image = scene()
    small = image.resize((32, 18), Image.Resampling.BOX)  # what encode_blurhash samples
    ours = encode_blurhash(image)
    assert ours == reference.encode(np.asarray(small), 4, 3)
    assert len(ours) == 4 + 2 * 4 * 3  # 4 x 3 components
    assert components_for(64, 36) == (4, 3) and components_for(36, 64) == (3, 4)


@pytest.mark.parametrize("size", [(64, 36), (36, 64), (48, 48)])
def test_blurhash_decodes_close_to_the_original(size: tuple[int, int]) -> None:
    image = scene(*size)
    hashed = encode_blurhash(image)
    target = (size[0] // 2, size[1] // 2)
    original = image.resize(target, Image.Resampling.BOX)
    # Painted by the reference decoder (what a browser's BlurHash library does), it looks
    # like the original: its mean ΔE00 to it is less than half that of the best flat
    # picture (the original's average colour), and small in itself.
    ours = Image.fromarray(np.asarray(reference.decode(hashed, *target), dtype=np.uint8)[..., :3])
    average = tuple(int(v) for v in np.asarray(original, float).mean((0, 1)))
    baseline = mean_delta_e(Image.new("RGB", target, average), original)
    distance = mean_delta_e(ours, original)
    assert distance < 13 and distance < baseline / 2


def lqip_image(uri: str) -> Image.Image:
    prefix = "data:image/webp;base64,"
    assert uri.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :])))
    image.load()
    return image


def test_lqip_is_a_tiny_webp_of_the_image() -> None:
    image = scene(640, 360)
    uri = lqip_data_uri(image)
    assert len(uri) <= LQIP_MAX_BYTES
    small = lqip_image(uri)
    assert small.format == "WEBP" and small.size == (32, 18)
    expected = image.resize(small.size, Image.Resampling.BOX)
    assert mean_delta_e(small.convert("RGB"), expected) < 6


def test_lqip_stays_under_1kb_even_for_noise() -> None:
    # Random noise is the worst case for any codec: the size loop must still hold.
    noise = np.random.default_rng(1).integers(0, 256, (400, 711, 3), dtype=np.uint8)
    uri = lqip_data_uri(Image.fromarray(noise))
    assert len(uri) <= LQIP_MAX_BYTES
    small = lqip_image(uri)
    assert abs(small.width / small.height - 711 / 400) < 0.2  # aspect ratio kept
