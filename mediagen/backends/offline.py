"""Offline backend: procedural placeholder art for development and CI — not AI.

It needs no network, key or model: it paints abstract art (a smooth gradient,
a soft glow and a few composed shapes with soft shadows) in the request's
colours, so specs, pipelines and tests can run anywhere for free. The result
is marked ``ai_generated=False`` so provenance metadata never claims it is AI.

The same request always gives byte-identical PNG bytes: every random choice
comes from a ``random.Random`` seeded with a SHA-256 of the request's visual
inputs (never ``image_id``, which is only a label).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from PIL import Image, ImageDraw, ImageFilter

from mediagen.backends.base import Backend, GenerationRequest, GenerationResult
from mediagen.errors import PermanentError
from mediagen.spec.alt_text import offline_description
from mediagen.spec.vocabulary import THEMES, Theme

RGB = tuple[int, int, int]
Point = tuple[float, float]
Polygon = tuple[Point, ...]
T = TypeVar("T")

# Rendering small keeps CI fast; imaging resizes to the exact target later.
MAX_LONG_SIDE = 1024
MIN_SHORT_SIDE = 100  # keeps the aspect ratio's rounding error < 0.5% for thin banners
_SUPERSAMPLE = 3  # shape masks are drawn 3x larger, then reduced: antialiasing
_SHADOW_SCALE = 0.25  # shadows are blurry anyway, so draw and blur them small
_GRID = 32  # the background is a smooth function: compute it on a tiny grid
# Circles are 96-gons: within a quarter pixel of round up to a radius of ~1000 px.
_CIRCLE = [math.tau * k / 96 for k in range(96)]

# Per theme: (fewest shapes, most shapes, the kinds of shape it likes)
_RECIPES: dict[Theme, tuple[int, int, tuple[str, ...]]] = {
    Theme.MODERN: (4, 6, ("circle", "ring", "pill", "band")),
    Theme.MINIMALIST: (2, 3, ("circle", "pill", "ring")),
    Theme.CORPORATE: (3, 5, ("band", "card", "bars", "circle")),
    Theme.PLAYFUL: (5, 7, ("circle", "dots", "pill", "ring")),
    Theme.VINTAGE: (3, 5, ("edge", "band", "circle", "ring")),
    Theme.FUTURISTIC: (4, 6, ("ring", "band", "circle", "dots")),
    Theme.ILLUSTRATION: (4, 6, ("circle", "edge", "pill", "dots")),
    Theme.INFOGRAPHIC: (3, 5, ("bars", "ring", "circle", "dots")),
}


class OfflineBackend(Backend):
    """Procedural, deterministic placeholder images; free and offline."""

    name = "offline"
    default_model = "offline-procedural-v1"
    describe_model = "offline-prompt-v1"  # alt text from the prompt, not from pixels

    @classmethod
    def check_request(cls, request: GenerationRequest) -> str | None:
        """A model another installed backend refuses (e.g. one shut down) is refused here too.

        The renderer stands in for the AI backends on a laptop without a key: a spec
        checked there must fail the way it would fail in production.
        """
        from mediagen.backends import request_problem

        return request_problem(request, besides=cls.name)

    def generate(self, request: GenerationRequest) -> GenerationResult:
        with render(request) as image:
            buffer = io.BytesIO()
            # The original is re-encoded by imaging anyway: favour speed over size.
            image.save(buffer, format="PNG", compress_level=1)
        return GenerationResult(
            data=buffer.getvalue(),
            mime_type="image/png",
            backend=self.name,
            model=request.model or self.default_model,
            ai_generated=False,
            usage={},
            cost_usd=0.0,
            metadata={"offline": "true", "renderer": "mediagen procedural placeholder (not AI)"},
        )

    def describe(
        self, image: bytes, mime_type: str, purpose: str, request: GenerationRequest
    ) -> str:
        # Deterministic, from the prompt: the art is abstract, and the text says so.
        return offline_description(request.prompt, request.theme)


@dataclass(frozen=True)
class _Shape:
    """One flat-coloured shape: polygons in frame coordinates."""

    colour: RGB
    polygons: tuple[Polygon, ...]
    behind: bool = False  # drawn before the others (frame-wide bands)

    def bounds(self) -> tuple[float, float, float, float]:
        xs = [x for poly in self.polygons for x, _ in poly]
        ys = [y for poly in self.polygons for _, y in poly]
        return min(xs), min(ys), max(xs), max(ys)


class _Rng(random.Random):
    """Uses only random(), whose stream is stable across Python versions."""

    def between(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def index(self, n: int) -> int:
        return min(n - 1, int(self.random() * n))

    def pick(self, items: Sequence[T]) -> T:
        return items[self.index(len(items))]


def render_size(width: int, height: int) -> tuple[int, int]:
    """Pixel size to paint at: the target's aspect ratio, at most ~1024 px long."""
    scale = min(1.0, max(MAX_LONG_SIDE / max(width, height), MIN_SHORT_SIDE / min(width, height)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def request_seed(request: GenerationRequest) -> int:
    """A stable seed from what the picture depends on (not image_id or model)."""
    r = request
    inputs = [r.prompt, r.width, r.height, r.theme, list(r.palette), list(r.brand_colors), r.seed]
    key = json.dumps(inputs, ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:16], "big")


def parse_hex(value: str) -> RGB:
    """``"#RRGGBB"`` to an RGB tuple."""
    try:
        red, green, blue = bytes.fromhex(value.strip().removeprefix("#"))
    except ValueError as exc:
        raise PermanentError(f"offline backend: {value!r} is not a #RRGGBB colour") from exc
    return red, green, blue


def render(request: GenerationRequest) -> Image.Image:
    """Paint the placeholder for ``request`` as an RGB image (caller closes it)."""
    rng = _Rng(request_seed(request))
    width, height = render_size(request.width, request.height)
    base, shade, glow, inks = _scheme(request, rng)
    image = _background(width, height, base, shade, glow, rng)
    brand = {parse_hex(c) for c in request.brand_colors}
    for shape in _compose(width, height, request.theme, inks, brand, rng):
        _paint(image, shape, _mix(base, (0, 0, 0), 0.65), shadow=True)
        _paint(image, shape, shape.colour)
    return image


def _scheme(request: GenerationRequest, rng: _Rng) -> tuple[RGB, RGB, RGB, list[RGB]]:
    """Background, its gradient partner, glow and shape colours; brand colours lead."""
    brand = [parse_hex(c) for c in request.brand_colors]
    palette = [parse_hex(c) for c in (request.palette or THEMES[_theme(request.theme)].palette)]
    palette = _reference_palette(request) or palette  # references set the look; brand leads
    if brand:
        base, inks = brand[0], brand[1:] * 2 + palette
    else:
        by_luma = sorted(palette, key=_luma)
        base = by_luma[0] if rng.random() < 0.5 else by_luma[-1]
        inks = [c for c in palette if c != base]
        turn = rng.index(len(inks) or 1)  # so the hero's colour varies with the prompt
        inks = inks[turn:] + inks[:turn]
    towards = (255, 255, 255) if _luma(base) < 128 else (0, 0, 0)
    inks = [c for c in inks if math.dist(c, base) >= 48] or [_mix(base, towards, 0.5)]
    glow = rng.pick(inks)
    return base, _mix(base, towards, 0.14), glow, inks


def _reference_palette(request: GenerationRequest) -> list[RGB]:
    """The dominant colours of the references (style references first), or [] without any.

    What an AI model takes from a style reference, most visibly, is its palette:
    the offline renderer paints in it, so a spec's references show offline too."""
    ordered = sorted(request.references, key=lambda r: r.role != "style")  # stable
    colours = list(dict.fromkeys(parse_hex(c) for r in ordered for c in r.colors[:4]))
    if len(colours) == 1:  # one flat colour: a lighter and a darker tone of it to paint with
        colours += [_mix(colours[0], (255, 255, 255), 0.45), _mix(colours[0], (0, 0, 0), 0.45)]
    return colours[:8]


def _background(w: int, h: int, base: RGB, shade: RGB, glow: RGB, rng: _Rng) -> Image.Image:
    """A linear gradient plus a soft radial glow, upscaled from a tiny grid."""
    grid_w, grid_h = max(2, round(_GRID * w / max(w, h))), max(2, round(_GRID * h / max(w, h)))
    angle = rng.random() * math.tau
    dx, dy = math.cos(angle), math.sin(angle)
    gx, gy = rng.between(0.0, 1.0), rng.between(0.0, 1.0)
    reach, strength = rng.between(0.45, 0.8), rng.between(0.2, 0.35)
    pixels = bytearray()
    for j in range(grid_h):
        for i in range(grid_w):
            u, v = i / (grid_w - 1), j / (grid_h - 1)
            t = min(1.0, max(0.0, 0.5 + ((u - 0.5) * dx + (v - 0.5) * dy) / 1.42))
            colour = _mix(base, shade, t * t * (3 - 2 * t))
            falloff = max(0.0, 1.0 - math.hypot(u - gx, v - gy) / reach)
            pixels += bytes(_mix(colour, glow, strength * falloff * falloff))
    small = Image.frombytes("RGB", (grid_w, grid_h), bytes(pixels))
    return small.resize((w, h), Image.Resampling.BICUBIC)


def _compose(
    w: int, h: int, theme: str, inks: list[RGB], brand: set[RGB], rng: _Rng
) -> list[_Shape]:
    """Pick and place shapes: bands behind, one large hero, smaller accents."""
    fewest, most, kinds = _RECIPES[_theme(theme)]
    count, side = fewest + rng.index(most - fewest + 1), min(w, h)
    shapes: list[_Shape] = []
    # The hero sits on a third-point (reads as composed) and is one big form, not a pattern.
    anchors = [(x * w / 3, y * h / 3) for x in (1, 2) for y in (1, 2)]
    heroes = [k for k in kinds if k not in ("dots", "bars", "band")]
    for index in range(count):
        ink = inks[index] if index < len(inks) else rng.pick(inks)
        if index == 0:
            kind, (cx, cy) = rng.pick(heroes), rng.pick(anchors)
            size = side * rng.between(0.3, 0.42)
        else:
            kind, size = rng.pick(kinds), side * rng.between(0.08, 0.2)
            cx, cy = w * rng.between(0.1, 0.9), h * rng.between(0.12, 0.88)
        if brand and ink not in brand:  # other colours stay accents, so the brand dominates
            kind, size = {"band": "pill", "edge": "circle"}.get(kind, kind), size * 0.6
        shapes.extend(_make(kind, ink, cx, cy, size, w, h, rng))
    return sorted(shapes, key=lambda s: not s.behind)  # stable: keeps the hero early


def _make(
    kind: str, ink: RGB, cx: float, cy: float, size: float, w: int, h: int, rng: _Rng
) -> list[_Shape]:
    """One shape of ``kind`` centred near (cx, cy)."""
    if kind == "circle":
        return [_Shape(ink, (_arc(cx, cy, size, _CIRCLE),))]
    if kind == "edge":  # a big disc cut by the top or bottom edge, like a setting sun
        return [_Shape(ink, (_arc(cx, 0.0 if cy < h / 2 else h, size * 1.5, _CIRCLE),))]
    if kind == "ring":  # a thick arc with round caps
        start, sweep = rng.random() * math.tau, math.radians(rng.between(140, 300))
        radius, thick = size * 1.3, size * 1.3 * rng.between(0.14, 0.24)
        angles = [start + sweep * k / 48 for k in range(49)]
        outer = _arc(cx, cy, radius, angles) + _arc(cx, cy, radius - thick, angles[::-1])
        ends = (_arc(cx, cy, radius - thick / 2, [a]) for a in (angles[0], angles[-1]))
        return [_Shape(ink, (outer, *(_arc(*end[0], thick / 2, _CIRCLE) for end in ends)))]
    if kind in ("pill", "card"):
        length, thick = size * 2.4, size * rng.between(0.55, 0.9)
        radius = thick / 2 if kind == "pill" else thick * 0.22
        angle = (0, 90, 30, -30, 45, -45)[rng.index(6)] if kind == "pill" else 0
        return [_Shape(ink, (_rounded_rect(cx, cy, length, thick, radius, angle),))]
    if kind == "band":  # a stripe across the whole frame
        angle = rng.between(15, 40) * (1 if rng.random() < 0.5 else -1)
        band = _rounded_rect(cx, cy, 2 * (w + h), min(w, h) * rng.between(0.12, 0.24), 0, angle)
        return [_Shape(ink, (band,), behind=True)]
    if kind == "dots":
        step, dot = size * 0.45, size * 0.1
        centres = [(cx + i * step, cy + j * step) for i in range(-2, 3) for j in (-1, 0, 1)]
        return [_Shape(ink, tuple(_arc(x, y, dot, _CIRCLE) for x, y in centres))]
    # bars: a tiny bar chart standing on a common baseline
    bar, base = size * 0.45, cy + size
    heights = [size * rng.between(0.6, 2.0) for _ in range(4)]
    bars = tuple(
        _rounded_rect(cx + (i - 1.5) * bar * 1.5, base - hh / 2, bar, hh, bar * 0.25, 0)
        for i, hh in enumerate(heights)
    )
    return [_Shape(ink, bars)]


def _arc(cx: float, cy: float, r: float, angles: list[float]) -> Polygon:
    return tuple((cx + r * math.cos(a), cy + r * math.sin(a)) for a in angles)


def _rounded_rect(cx: float, cy: float, w: float, h: float, r: float, degrees: float) -> Polygon:
    """Outline of a rounded rectangle, rotated about its centre."""
    r = min(r, w / 2, h / 2)
    cos_a, sin_a = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    points = []
    for sx, sy, start in ((1, 1, 0), (-1, 1, 90), (-1, -1, 180), (1, -1, 270)):
        for k in range(9):
            a = math.radians(start + 90 * k / 8)
            x, y = sx * (w / 2 - r) + r * math.cos(a), sy * (h / 2 - r) + r * math.sin(a)
            points.append((cx + x * cos_a - y * sin_a, cy + x * sin_a + y * cos_a))
    return tuple(points)


def _mask(shape: _Shape, origin: Point, scale: float, size: tuple[int, int]) -> Image.Image:
    """The shape's coverage as an "L" image of ``size``, drawn at ``scale``."""
    mask = Image.new("L", size)
    draw = ImageDraw.Draw(mask)
    for poly in shape.polygons:
        draw.polygon([((x - origin[0]) * scale, (y - origin[1]) * scale) for x, y in poly], 255)
    return mask


def _paint(image: Image.Image, shape: _Shape, ink: RGB, *, shadow: bool = False) -> None:
    """Fill the shape, or its soft drop shadow, touching only its bounding box."""
    side = min(image.size)
    dx, dy, blur = (side * 0.012, side * 0.022, side * 0.03) if shadow else (0.0, 0.0, 0.0)
    left, top, right, bottom = shape.bounds()
    x0, y0 = max(0, math.floor(left + dx - 2 * blur)), max(0, math.floor(top + dy - 2 * blur))
    x1 = min(image.width, math.ceil(right + dx + 2 * blur))
    y1 = min(image.height, math.ceil(bottom + dy + 2 * blur))
    if x1 <= x0 or y1 <= y0:
        return
    scale = _SHADOW_SCALE if shadow else _SUPERSAMPLE
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    mask = _mask(shape, (x0 - dx, y0 - dy), scale, size)
    if shadow:  # blurred small and stretched back: a shadow has no detail to lose
        soft = mask.filter(ImageFilter.GaussianBlur(blur * scale))
        mask = soft.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR).point(lambda v: v * 0.32)
    else:  # ImageDraw has no antialiasing: draw large, then average down
        mask = mask.reduce(_SUPERSAMPLE)
    image.paste(ink, (x0, y0, x1, y1), mask)


def _theme(name: str) -> Theme:
    return Theme(name) if name in Theme.__members__.values() else Theme.MODERN


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    red, green, blue = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return red, green, blue


def _luma(c: RGB) -> float:
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
