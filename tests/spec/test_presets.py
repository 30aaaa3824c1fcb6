"""The vocabulary of a spec: sizes, quality levels and themes."""

from __future__ import annotations

import re

import pytest

from mediagen.spec.vocabulary import (
    MAX_SIDE,
    MIN_SIDE,
    QUALITY_LEVELS,
    SIZE_PRESETS,
    THEMES,
    Quality,
    SizePreset,
    Theme,
    preset_size,
)

HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


def test_seven_named_sizes_plus_custom() -> None:
    assert [s.value for s in SizePreset] == [
        "thumbnail",
        "standard",
        "social_square",
        "social_landscape",
        "story",
        "banner",
        "hero",
        "custom",
    ]
    assert set(SIZE_PRESETS) == set(SizePreset) - {SizePreset.CUSTOM}


@pytest.mark.parametrize(
    ("preset", "size"),
    [
        (SizePreset.THUMBNAIL, (320, 320)),
        (SizePreset.STANDARD, (1024, 1024)),
        (SizePreset.SOCIAL_SQUARE, (1080, 1080)),
        (SizePreset.SOCIAL_LANDSCAPE, (1200, 630)),
        (SizePreset.STORY, (1080, 1920)),
        (SizePreset.BANNER, (1920, 640)),
        (SizePreset.HERO, (1920, 1080)),
    ],
)
def test_preset_pixel_sizes(preset: SizePreset, size: tuple[int, int]) -> None:
    assert preset_size(preset) == size
    width, height, purpose = SIZE_PRESETS[preset]
    assert MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE
    assert purpose


def test_custom_has_no_pixel_size() -> None:
    with pytest.raises(KeyError):
        preset_size(SizePreset.CUSTOM)


def test_three_qualities_map_to_backend_sizes_and_rising_encoder_quality() -> None:
    assert list(Quality) == [Quality.FAST, Quality.STANDARD, Quality.HIGH]
    levels = [QUALITY_LEVELS[q] for q in Quality]
    assert [level.backend_image_size for level in levels] == ["1K", "2K", "4K"]
    encoder = [level.encoder_quality for level in levels]
    assert encoder == sorted(set(encoder))  # strictly increasing
    assert all(1 <= q <= 100 for q in encoder)
    assert all(level.description for level in levels)


def test_eight_themes_each_described_with_a_palette() -> None:
    assert [t.value for t in Theme] == [
        "modern",
        "minimalist",
        "corporate",
        "playful",
        "vintage",
        "futuristic",
        "illustration",
        "infographic",
    ]
    assert set(THEMES) == set(Theme)
    for theme, style in THEMES.items():
        assert len(style.description) > 20, theme
        assert len(style.palette) >= 3, theme
        assert all(HEX.match(colour) for colour in style.palette), theme
        assert len(set(style.palette)) == len(style.palette), theme


def test_theme_descriptions_differ() -> None:
    descriptions = [style.description for style in THEMES.values()]
    assert len(set(descriptions)) == len(descriptions)
