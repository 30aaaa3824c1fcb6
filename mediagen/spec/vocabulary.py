"""Named sizes, quality levels and themes, with what each one means.

These are the vocabulary of a spec. The tables are the single source of truth:
the spec's JSON Schema, the README and the offline renderer all read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MIN_SIDE = 16
MAX_SIDE = 8192


class SizePreset(StrEnum):
    """Seven named output sizes; ``custom`` means explicit width/height."""

    THUMBNAIL = "thumbnail"
    STANDARD = "standard"
    SOCIAL_SQUARE = "social_square"
    SOCIAL_LANDSCAPE = "social_landscape"
    STORY = "story"
    BANNER = "banner"
    HERO = "hero"
    CUSTOM = "custom"


# (width, height, what it is for)
SIZE_PRESETS: dict[SizePreset, tuple[int, int, str]] = {
    SizePreset.THUMBNAIL: (320, 320, "list and card thumbnails"),
    SizePreset.STANDARD: (1024, 1024, "default square image, e.g. a goal picture"),
    SizePreset.SOCIAL_SQUARE: (1080, 1080, "Instagram / social feed square"),
    SizePreset.SOCIAL_LANDSCAPE: (1200, 630, "Open Graph / link preview card"),
    SizePreset.STORY: (1080, 1920, "story / portrait 9:16"),
    SizePreset.BANNER: (1920, 640, "3:1 marketing or page banner"),
    SizePreset.HERO: (1920, 1080, "hero image 16:9"),
}


class Quality(StrEnum):
    """Three quality levels: encoder quality and how big the backend renders."""

    FAST = "fast"
    STANDARD = "standard"
    HIGH = "high"


@dataclass(frozen=True)
class QualityLevel:
    encoder_quality: int  # JPEG/WebP/AVIF quality, 1-100
    backend_image_size: str  # Gemini's image_size: 1K, 2K or 4K
    description: str


QUALITY_LEVELS: dict[Quality, QualityLevel] = {
    Quality.FAST: QualityLevel(70, "1K", "drafts and thumbnails: small files, cheapest render"),
    Quality.STANDARD: QualityLevel(85, "2K", "everyday web images"),
    Quality.HIGH: QualityLevel(95, "4K", "print, hero and banner images"),
}


class Theme(StrEnum):
    """Eight visual styles."""

    MODERN = "modern"
    MINIMALIST = "minimalist"
    CORPORATE = "corporate"
    PLAYFUL = "playful"
    VINTAGE = "vintage"
    FUTURISTIC = "futuristic"
    ILLUSTRATION = "illustration"
    INFOGRAPHIC = "infographic"


@dataclass(frozen=True)
class ThemeStyle:
    description: str  # goes into the prompt
    palette: tuple[str, ...]  # hex colours; the offline renderer paints with them


THEMES: dict[Theme, ThemeStyle] = {
    Theme.MODERN: ThemeStyle(
        "modern, clean design with bold shapes, smooth gradients and confident colour",
        ("#0F172A", "#2563EB", "#38BDF8", "#F472B6", "#F8FAFC"),
    ),
    Theme.MINIMALIST: ThemeStyle(
        "minimalist composition, generous negative space, few elements, muted tones",
        ("#F5F5F4", "#D6D3D1", "#A8A29E", "#44403C", "#1C1917"),
    ),
    Theme.CORPORATE: ThemeStyle(
        "professional corporate style, trustworthy blues and greys, polished and sober",
        ("#0B2545", "#13315C", "#134074", "#8DA9C4", "#EEF4ED"),
    ),
    Theme.PLAYFUL: ThemeStyle(
        "playful and friendly, rounded shapes, bright cheerful colours",
        ("#FF6B6B", "#FFD93D", "#6BCB77", "#4D96FF", "#FFF5E4"),
    ),
    Theme.VINTAGE: ThemeStyle(
        "vintage retro look, warm faded colours, film grain, mid-century poster feel",
        ("#F4E1C1", "#D9A066", "#A0522D", "#6B4226", "#2F4F4F"),
    ),
    Theme.FUTURISTIC: ThemeStyle(
        "futuristic, neon glow on dark backgrounds, sleek high-tech surfaces",
        ("#05010F", "#3A0CA3", "#7209B7", "#F72585", "#4CC9F0"),
    ),
    Theme.ILLUSTRATION: ThemeStyle(
        "flat vector illustration, friendly characters and objects, clear outlines",
        ("#264653", "#2A9D8F", "#E9C46A", "#F4A261", "#E76F51"),
    ),
    Theme.INFOGRAPHIC: ThemeStyle(
        "clean infographic style, charts, icons and data shapes, high legibility",
        ("#FFFFFF", "#1D3557", "#457B9D", "#A8DADC", "#E63946"),
    ),
}


def preset_size(preset: SizePreset) -> tuple[int, int]:
    """Pixel size of a named preset (not ``custom``)."""
    width, height, _ = SIZE_PRESETS[preset]
    return width, height
