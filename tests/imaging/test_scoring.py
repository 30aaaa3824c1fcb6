"""The score pick: auto ranks candidates by, measured on pixels of known images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from mediagen.imaging.scoring import WEIGHTS, Score, aspect_fit, best, combine, score_image

TEAL, RED = "#0A7B83", "#D0312D"


def png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def noise(size: tuple[int, int] = (256, 256)) -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8), "RGB")


def test_brand_fit_counts_pixels_near_the_brand_colour() -> None:
    teal = score_image(png(Image.new("RGB", (200, 200), TEAL)), 200, 200, [TEAL])
    red = score_image(png(Image.new("RGB", (200, 200), RED)), 200, 200, [TEAL])
    assert teal.signals["brand"] == 1.0 and red.signals["brand"] == 0.0
    assert teal.total > red.total


def test_sharp_beats_blurred_and_flat_scores_zero() -> None:
    sharp = noise()
    blurred = sharp.filter(ImageFilter.GaussianBlur(4))
    s, b = (score_image(png(i), 256, 256).signals["sharpness"] for i in (sharp, blurred))
    assert s > 0.9 and b < s / 2
    assert score_image(png(Image.new("RGB", (64, 64), RED)), 64, 64).signals["sharpness"] == 0.0
    # a JPEG is decoded at a reduced scale, and still measured
    assert score_image(png(sharp.resize((2048, 2048)), "JPEG"), 512, 512).signals["sharpness"] > 0


def test_aspect_fit_is_the_share_the_cover_crop_keeps() -> None:
    assert aspect_fit(1024, 1024, 1024, 1024) == 1.0
    assert aspect_fit(1024, 1024, 1200, 600) == 0.5
    assert aspect_fit(600, 1200, 1200, 600) == 0.25
    wrong = score_image(png(Image.new("RGB", (200, 200), TEAL)), 400, 200, [TEAL])
    right = score_image(png(Image.new("RGB", (400, 200), TEAL)), 400, 200, [TEAL])
    assert wrong.signals["aspect"] == 0.5 and right.total > wrong.total


def test_the_score_reads_the_part_that_would_be_published() -> None:
    image = Image.new("RGB", (200, 400), TEAL)
    image.paste(Image.new("RGB", (200, 200), RED), (0, 200))  # teal top, red bottom
    top = score_image(png(image), 200, 200, [TEAL], focal="top")
    bottom = score_image(png(image), 200, 200, [TEAL], focal="bottom")
    assert top.signals["brand"] == 1.0 and bottom.signals["brand"] == 0.0


def test_total_is_the_weighted_mean_of_the_signals_present() -> None:
    assert combine({"brand": 1.0, "sharpness": 0.0, "aspect": 0.0}) == WEIGHTS["brand"]
    assert combine({"sharpness": 1.0, "aspect": 0.0}) == pytest.approx(0.625)


def test_best_breaks_ties_to_the_lowest_index() -> None:
    scores = [Score(0.5, {}), Score(0.7, {}), Score(0.7, {})]
    assert best(scores) == 1
    with pytest.raises(ValueError):
        best([])
