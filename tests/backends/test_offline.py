"""The offline renderer, judged by its pixels: deterministic, on-palette, composed."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image, ImageChops, ImageStat

import mediagen.backends.offline as offline
from mediagen.backends import get_backend_class
from mediagen.backends.base import GenerationRequest, GenerationResult
from mediagen.backends.offline import OfflineBackend, parse_hex
from mediagen.errors import PermanentError
from mediagen.settings import Settings
from mediagen.spec.vocabulary import THEMES, Theme

RGB = tuple[int, int, int]
MODERN = THEMES[Theme.MODERN].palette
# Far from every colour of the modern palette, so "nearest colour" is unambiguous.
BRAND = ("#FF6600", "#22C55E")


def make_request(
    prompt: str = "a calm lake at dawn",
    width: int = 1024,
    height: int = 1024,
    theme: str = "modern",
    palette: tuple[str, ...] = MODERN,
    brand_colors: tuple[str, ...] = (),
    seed: int | None = None,
    model: str | None = None,
    image_id: str = "",
) -> GenerationRequest:
    return GenerationRequest(
        prompt=prompt,
        width=width,
        height=height,
        quality="standard",
        backend_image_size="1K",
        theme=theme,
        palette=palette,
        brand_colors=brand_colors,
        seed=seed,
        model=model,
        image_id=image_id,
    )


@pytest.fixture
def backend() -> OfflineBackend:
    return OfflineBackend(Settings(_env_file=None))


def decode(result: GenerationResult) -> Image.Image:
    with Image.open(io.BytesIO(result.data)) as image:
        return image.convert("RGB")


def sample(image: Image.Image, size: int = 64) -> list[RGB]:
    """An evenly spread sample of pixels (nearest-neighbour keeps colours exact)."""
    raw = image.convert("RGB").resize((size, size), Image.Resampling.NEAREST).tobytes()
    return [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)]


def share_near(pixels: list[RGB], colours: list[RGB], distance: float) -> float:
    return sum(min(math.dist(p, c) for c in colours) <= distance for p in pixels) / len(pixels)


def nearest_share(pixels: list[RGB], wanted: list[RGB], others: list[RGB]) -> float:
    """Share of pixels whose nearest reference colour is one of ``wanted``."""
    refs = [(c, True) for c in wanted] + [(c, False) for c in others]
    return sum(min(refs, key=lambda r: math.dist(p, r[0]))[1] for p in pixels) / len(pixels)


def test_registry_resolves_the_offline_backend() -> None:
    cls = get_backend_class("offline")
    assert cls is OfflineBackend
    assert (cls.name, cls.default_model) == ("offline", "offline-procedural-v1")


def test_result_is_a_png_marked_offline_and_not_ai(backend: OfflineBackend) -> None:
    result = backend.generate(make_request())
    assert result.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert result.mime_type == "image/png"
    assert (result.backend, result.model) == ("offline", "offline-procedural-v1")
    assert result.ai_generated is False
    assert (result.usage, result.cost_usd) == ({}, 0.0)
    assert result.metadata == {
        "offline": "true",
        "renderer": "mediagen procedural placeholder (not AI)",
    }


def test_model_from_the_request_is_reported(backend: OfflineBackend) -> None:
    assert backend.generate(make_request(model="my-model")).model == "my-model"


def test_module_says_it_is_placeholder_art_not_ai() -> None:
    doc = offline.__doc__ or ""
    assert "placeholder" in doc and "not AI" in doc


def test_same_request_gives_identical_bytes(backend: OfflineBackend) -> None:
    request = make_request(brand_colors=BRAND, seed=7)
    first = backend.generate(request).data
    assert backend.generate(request).data == first
    assert OfflineBackend(Settings(_env_file=None)).generate(request).data == first


def test_image_id_and_model_do_not_change_the_picture(backend: OfflineBackend) -> None:
    base = backend.generate(make_request()).data
    assert backend.generate(make_request(image_id="hero-1")).data == base
    assert backend.generate(make_request(model="other")).data == base


@pytest.mark.parametrize("theme", [str(t) for t in Theme])
def test_different_prompts_give_visibly_different_images(
    backend: OfflineBackend, theme: str
) -> None:
    palette = THEMES[Theme(theme)].palette
    one = decode(backend.generate(make_request("a fox", 512, 512, theme, palette)))
    two = decode(backend.generate(make_request("a fox!", 512, 512, theme, palette)))
    difference = ImageStat.Stat(ImageChops.difference(one, two).convert("L")).mean[0]
    assert difference > 10  # mean absolute difference on a 0-255 scale


def test_seed_changes_the_picture(backend: OfflineBackend) -> None:
    assert (
        backend.generate(make_request(seed=1)).data != backend.generate(make_request(seed=2)).data
    )


@pytest.mark.parametrize(
    ("width", "height"),
    [(1024, 1024), (1920, 1080), (1080, 1920), (1920, 640), (1200, 630), (320, 320), (8192, 16)],
)
def test_aspect_ratio_follows_the_request(backend: OfflineBackend, width: int, height: int) -> None:
    image = decode(backend.generate(make_request(width=width, height=height)))
    assert abs((image.width / image.height) / (width / height) - 1) < 0.01
    assert image.width <= width and image.height <= height  # never upscaled


@pytest.mark.parametrize(("width", "height"), [(4096, 4096), (1920, 1080), (2160, 3840)])
def test_renders_at_a_modest_size(backend: OfflineBackend, width: int, height: int) -> None:
    image = decode(backend.generate(make_request(width=width, height=height)))
    assert max(image.size) == 1024


@pytest.mark.parametrize("theme", [str(t) for t in Theme])
def test_colours_come_from_the_palette(backend: OfflineBackend, theme: str) -> None:
    palette = THEMES[Theme(theme)].palette
    for prompt, (width, height) in [("one", (1024, 1024)), ("two", (1920, 1080))]:
        image = decode(backend.generate(make_request(prompt, width, height, theme, palette)))
        # Gradients, glows and shadows blend, but most pixels stay near a palette colour.
        assert share_near(sample(image), [parse_hex(c) for c in palette], 60) > 0.6


def test_an_empty_palette_falls_back_to_the_theme(backend: OfflineBackend) -> None:
    playful = [parse_hex(c) for c in THEMES[Theme.PLAYFUL].palette]
    image = decode(backend.generate(make_request(theme="playful", palette=())))
    assert share_near(sample(image), playful, 60) > 0.6


@pytest.mark.parametrize("brand", [BRAND, BRAND[:1]])
@pytest.mark.parametrize(("width", "height"), [(1024, 1024), (1200, 630), (1080, 1920)])
def test_brand_colours_dominate(
    backend: OfflineBackend, brand: tuple[str, ...], width: int, height: int
) -> None:
    brand_rgb, palette_rgb = [parse_hex(c) for c in brand], [parse_hex(c) for c in MODERN]
    for prompt in ("launch day", "quarterly report", "summer sale"):
        image = decode(backend.generate(make_request(prompt, width, height, brand_colors=brand)))
        assert nearest_share(sample(image), brand_rgb, palette_rgb) > 0.5
        # The most common colour after quantising is a brand colour too.
        with image.quantize(colors=8) as quantised:
            palette = quantised.getpalette() or []
            _, top = max(quantised.getcolors() or [])
            top_rgb = (palette[3 * top], palette[3 * top + 1], palette[3 * top + 2])
        assert nearest_share([top_rgb], brand_rgb, palette_rgb) == 1.0


def test_without_brand_colours_the_brand_share_is_small(backend: OfflineBackend) -> None:
    brand_rgb, palette_rgb = [parse_hex(c) for c in BRAND], [parse_hex(c) for c in MODERN]
    image = decode(backend.generate(make_request("launch day")))
    assert nearest_share(sample(image), brand_rgb, palette_rgb) < 0.1


def test_it_is_designed_art_not_a_flat_fill(backend: OfflineBackend) -> None:
    image = decode(backend.generate(make_request()))
    assert len(image.getcolors(maxcolors=1 << 24) or []) > 500  # smooth gradients
    assert ImageStat.Stat(image.convert("L")).stddev[0] > 20  # real contrast
    # Several palette colours each cover a visible part of the picture: composed shapes.
    pixels, palette = sample(image), [parse_hex(c) for c in MODERN]
    visible = [
        c for c in palette if nearest_share(pixels, [c], [o for o in palette if o != c]) > 0.02
    ]
    assert len(visible) >= 3


def test_a_bad_hex_colour_is_a_permanent_error(backend: OfflineBackend) -> None:
    with pytest.raises(PermanentError, match="#RRGGBB"):
        backend.generate(make_request(brand_colors=("#12345G",)))
    with pytest.raises(PermanentError):
        backend.generate(make_request(palette=("#1234",)))


@pytest.mark.timeout(20)
def test_rendering_a_large_image_does_not_hang(backend: OfflineBackend) -> None:
    # Speed is measured in bench/, never asserted here: the timeout only catches a
    # pathological slowdown (~0.1 s on a quiet machine; 200x that under any load).
    result = backend.generate(make_request(width=1024, height=1024))
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.size == (1024, 1024)
