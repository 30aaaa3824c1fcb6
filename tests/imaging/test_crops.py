"""Focal-point cover crops: the window keeps the marked subject, judged by output pixels."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mediagen.imaging.codec import OutputSpec, Provenance
from mediagen.imaging.crops import cover_box, entropy_focus, focus_point, normalize, parse_xy
from mediagen.imaging.renditions import PreparedImage

PROVENANCE = Provenance("algorithmicMedia", "p", "m", "offline", "mediagen test")
MARK = (230, 20, 30)
SKY = (150, 190, 230)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def marked(size: tuple[int, int], box: tuple[int, int, int, int]) -> bytes:
    """A flat picture with a red subject at ``box``."""
    image = Image.new("RGB", size, SKY)
    ImageDraw.Draw(image).rectangle(box, fill=MARK)
    return png(image)


def mark_share(data: bytes) -> float:
    """Share of the output's pixels that are the red subject."""
    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=int)
    return float((np.abs(pixels - MARK).sum(axis=2) < 60).mean())


def crop(original: bytes, width: int, height: int, focal: str, fmt: str = "png") -> bytes:
    with PreparedImage(original, width, height, focal) as prepared:
        return prepared.render(OutputSpec(width, height, fmt, 85), PROVENANCE).data


def test_cover_box_keeps_the_aspect_and_stays_inside() -> None:
    assert cover_box(1000, 1000, 300, 100) == pytest.approx((0, 1000 / 3, 1000, 2000 / 3))
    assert cover_box(1000, 1000, 300, 100, (0.5, 0.0)) == pytest.approx((0, 0, 1000, 1000 / 3))
    assert cover_box(1000, 1000, 300, 100, (0.5, 1.0)) == pytest.approx((0, 2000 / 3, 1000, 1000))
    # Centred on the focus as far as the image allows, never outside it.
    assert cover_box(1000, 500, 100, 100, (0.3, 0.5)) == pytest.approx((50, 0, 550, 500))
    assert cover_box(1000, 500, 100, 100, (0.95, 0.5)) == pytest.approx((500, 0, 1000, 500))
    # Same aspect: the whole image, whatever the focus.
    assert cover_box(800, 400, 200, 100, (0.0, 1.0)) == pytest.approx((0, 0, 800, 400))


def test_focal_point_forms() -> None:
    assert normalize(None) == "center" and normalize("top") == "top"
    assert normalize(" 0.30 , .7") == "0.3,0.7"
    assert parse_xy("1,0") == (1.0, 0.0) and parse_xy("1.5,0") is None
    with pytest.raises(ValueError):
        normalize("middle")
    image = Image.new("RGB", (10, 10))
    assert focus_point("bottom", image, 30, 10) == (0.5, 1.0)
    assert focus_point("0.2,0.9", image, 30, 10) == (0.2, 0.9)


@pytest.mark.parametrize(
    ("subject", "size", "focal"),
    [
        ((270, 10, 330, 70), (900, 300), "top"),  # subject at the top, wide banner
        ((270, 530, 330, 590), (900, 300), "bottom"),  # at the bottom
        ((500, 270, 560, 330), (200, 600), "0.88,0.5"),  # at the right, tall story
        ((20, 20, 80, 80), (600, 200), "0.1,0.1"),  # top-left corner
    ],
)
def test_focal_crop_keeps_the_marked_subject(
    subject: tuple[int, int, int, int], size: tuple[int, int], focal: str
) -> None:
    original = marked((600, 600), subject)
    width, height = size
    scale = width / min(600, 600 * width / height)  # output px per source px
    subject_px = (subject[2] - subject[0] + 1) * (subject[3] - subject[1] + 1)
    expected = subject_px * scale**2 / (width * height)  # its share if wholly kept
    assert mark_share(crop(original, width, height, focal)) == pytest.approx(expected, rel=0.1)
    assert mark_share(crop(original, width, height, "center")) == 0  # a centred crop loses it


def busy_corner(size: tuple[int, int], where: str) -> bytes:
    """Flat sky, with a busy, colourful patch (the subject) at one end and a red mark in it."""
    width, height = size
    image = Image.new("RGB", size, SKY)
    draw = ImageDraw.Draw(image)
    rng = random.Random(5)
    top = 0 if where == "top" else height - height // 4
    for _ in range(1500):
        x, y = rng.randrange(width), rng.randrange(top, top + height // 4)
        colour = (rng.randrange(256), rng.randrange(120, 256), rng.randrange(256))
        draw.rectangle((x, y, x + 6, y + 6), fill=colour)
    centre_y = top + height // 8
    draw.rectangle((width // 2 - 20, centre_y - 20, width // 2 + 20, centre_y + 20), fill=MARK)
    return png(image)


@pytest.mark.parametrize("where", ["top", "bottom"])
def test_entropy_crop_finds_the_busy_subject(where: str) -> None:
    original = busy_corner((640, 640), where)
    assert mark_share(crop(original, 960, 320, "entropy", "webp")) > 0.01
    assert mark_share(crop(original, 960, 320, "center", "webp")) == 0
    with Image.open(io.BytesIO(original)) as image:
        x, y = entropy_focus(image, 3.0)
    assert x == 0.5 and (y < 0.3 if where == "top" else y > 0.7)


def test_entropy_of_a_flat_image_is_the_centre() -> None:
    assert entropy_focus(Image.new("RGB", (300, 100), SKY), 1.0) == pytest.approx(
        (0.5, 0.5), abs=0.01
    )
    # Nothing to crop: the focus cannot matter.
    assert entropy_focus(Image.new("RGB", (300, 100)), 3.0) == (0.5, 0.5)
