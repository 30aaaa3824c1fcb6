"""Colour science: CIELAB, CIEDE2000, dominant colours, brand fit, on known pixels."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from mediagen.imaging.colors import (
    ColorShare,
    brand_fit_score,
    delta_e_2000,
    dominant_colors,
    hex_to_rgb,
    srgb_to_lab,
)

# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula": test data pairs.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0),
    ((50.0, 2.5, 0.0), (50.0, 0.0, -2.5), 4.3065),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (61.0, -5.0, 29.0), 22.8977),
    ((50.0, 2.5, 0.0), (56.0, -27.0, -3.0), 31.9030),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]
TEAL, SAFFRON, MIDNIGHT = "#0A7B83", "#F2A541", "#1B1B3A"


def test_ciede2000_matches_the_published_test_data() -> None:
    lab1 = np.array([a for a, _, _ in SHARMA])
    lab2 = np.array([b for _, b, _ in SHARMA])
    got = np.diag(delta_e_2000(lab1, lab2))
    assert got == pytest.approx([e for _, _, e in SHARMA], abs=1e-4)
    # Symmetric, and zero for identical colours.
    assert np.diag(delta_e_2000(lab2, lab1)) == pytest.approx(got, abs=1e-9)
    assert delta_e_2000(lab1, lab1).diagonal() == pytest.approx(0, abs=1e-9)


def test_srgb_to_lab_reference_colours() -> None:
    white, red, black = srgb_to_lab(np.array([[255, 255, 255], [255, 0, 0], [0, 0, 0]]))
    assert white == pytest.approx([100, 0, 0], abs=1e-3)
    assert red == pytest.approx([53.2408, 80.0925, 67.2032], abs=1e-3)
    assert black == pytest.approx([0, 0, 0], abs=1e-6)


def blocks(parts: list[tuple[str, float]], size: tuple[int, int] = (64, 40)) -> Image.Image:
    """Vertical bands of colour covering the given shares of the width."""
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    x = 0
    for hex_, share in parts:
        width = round(share * size[0])
        draw.rectangle((x, 0, x + width - 1, size[1]), fill=hex_)
        x += width
    return image


def test_dominant_colours_of_flat_bands_are_exact() -> None:
    image = blocks([("#D62828", 0.5), ("#003049", 0.25), ("#FCBF49", 0.25)])
    assert dominant_colors(image) == [
        ColorShare("#D62828", 0.5),
        ColorShare("#003049", 0.25),  # equal shares: ordered by hex
        ColorShare("#FCBF49", 0.25),
    ]


def test_dominant_colours_merge_anti_aliasing_and_noise() -> None:
    # 70 % green, 30 % purple, blurred edges and a little noise: still two colours
    # (the blurred seam, ~1 % of the pixels, is not a dominant colour).
    image = blocks([("#2A9D8F", 0.7), ("#6A4C93", 0.3)], (200, 100)).filter(
        ImageFilter.GaussianBlur(1.5)
    )
    noisy = np.asarray(image, dtype=np.int16)
    noisy = noisy + np.random.default_rng(7).integers(-3, 4, noisy.shape)
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    colours = dominant_colors(image)
    assert len(colours) == 2
    (first, p1), (second, p2) = [(c.hex, c.proportion) for c in colours]
    lab = srgb_to_lab(np.array([hex_to_rgb(h) for h in (first, second, "#2A9D8F", "#6A4C93")]))
    assert delta_e_2000(lab[:2], lab[2:]).diagonal() == pytest.approx([0, 0], abs=3)
    assert p1 == pytest.approx(0.7, abs=0.03) and p2 == pytest.approx(0.3, abs=0.03)
    assert 0.97 <= p1 + p2 <= 1


def test_transparent_pixels_count_as_white() -> None:
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (0, 0, 5, 10))
    assert dominant_colors(image) == [ColorShare("#C80000", 0.5), ColorShare("#FFFFFF", 0.5)]


def speckled(base: str, accents: list[str], share: float, seed: int) -> Image.Image:
    """``base`` everywhere, ``share`` of the pixels replaced by random accent colours."""
    rng = random.Random(seed)
    image = Image.new("RGB", (64, 64), base)
    pixels = image.load()
    for x in range(64):
        for y in range(64):
            if rng.random() < share:
                pixels[x, y] = hex_to_rgb(rng.choice(accents))
    return image


def test_brand_fit_ranks_on_brand_above_off_brand() -> None:
    brand = [TEAL, SAFFRON, MIDNIGHT]
    on_brand = speckled("#0C7D85", [SAFFRON, "#1D1D3C"], 0.3, 1)  # near-teal, brand accents
    mixed = speckled("#0A7B83", ["#E63946", "#F1FAEE"], 0.6, 2)  # 40 % brand
    off_brand = speckled("#E63946", ["#7209B7", "#FFD93D"], 0.4, 3)  # reds, purples, yellows
    scores = [brand_fit_score(im, brand) for im in (on_brand, mixed, off_brand)]
    assert scores[0] == 1.0
    assert scores[1] == pytest.approx(0.4, abs=0.05)
    assert scores[2] == 0.0
    assert scores[0] > scores[1] > scores[2]


def test_brand_fit_threshold_is_a_perceptual_distance() -> None:
    # A slightly lighter teal is within ΔE00 10 of the brand teal; a blue is not.
    lighter = Image.new("RGB", (8, 8), "#1A8A92")
    blue = Image.new("RGB", (8, 8), "#2563EB")
    lab = srgb_to_lab(np.array([hex_to_rgb(h) for h in ("#1A8A92", "#2563EB", TEAL)]))
    distances = delta_e_2000(lab[:2], lab[2:])[:, 0]
    assert distances[0] < 10 < distances[1]
    assert brand_fit_score(lighter, [TEAL], 10) == 1.0
    assert brand_fit_score(blue, [TEAL], 10) == 0.0
    assert brand_fit_score(lighter, [TEAL], distances[0] - 0.1) == 0.0
    with pytest.raises(ValueError):
        brand_fit_score(blue, [])
