"""Responsive renditions: widths x formats from one original, with srcset and <picture>.

- :func:`rendition_specs` lists the extra files a spec's ``variants`` asks for
  (same aspect ratio as the image, never wider than it);
- :class:`PreparedImage` decodes the original once, places the focal-point crop
  once, and encodes every output of the image from that, plus the small
  preview the placeholders and colours are computed from;
- :func:`srcsets` and :func:`picture_html` turn the published outputs into the
  strings a page needs.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType

from PIL import Image

from mediagen.imaging.codec import (
    CONTENT_TYPES,
    OutputSpec,
    ProcessedImage,
    Provenance,
    decode_original,
    render_output,
)
from mediagen.imaging.crops import Box, cover_box, focus_point

PREVIEW_LONG_SIDE = 64  # the copy placeholders and colour facts are computed from
DESCRIBE_LONG_SIDE = 1024  # what a describing model is shown (enough, and few tokens)
# <source> order: the browser takes the first type it supports, so smallest files first.
SOURCE_ORDER = ("avif", "webp", "jpeg", "png")
# The <img> fallback: the most widely supported format the image has.
FALLBACK_ORDER = ("jpeg", "png", "webp", "avif")


def rendition_height(width: int, base_width: int, base_height: int) -> int:
    return max(1, round(width * base_height / base_width))


def rendition_specs(
    base_width: int,
    base_height: int,
    widths: Iterable[int],
    formats: Iterable[str],
    quality: int,
) -> list[OutputSpec]:
    """Every (width, format) rendition, widest first per format; wider than the base: skipped."""
    kept = sorted({w for w in widths if w <= base_width}, reverse=True)
    return [
        OutputSpec(w, rendition_height(w, base_width, base_height), fmt, quality)
        for fmt in formats
        for w in kept
    ]


@dataclass(frozen=True)
class PublishedFile:
    """What srcset and <picture> need of one published output."""

    url: str
    width: int
    height: int
    format: str


def _srcset_url(url: str) -> str:
    # A srcset candidate ends at whitespace and candidates are split at commas.
    return url.replace(" ", "%20").replace(",", "%2C")


def srcsets(files: Sequence[PublishedFile]) -> dict[str, str]:
    """Per format, ``"url 320w, url 640w, ..."`` (narrowest first; one entry per width)."""
    out: dict[str, str] = {}
    for fmt in dict.fromkeys(f.format for f in files):
        by_width = {f.width: f for f in files if f.format == fmt}
        out[fmt] = ", ".join(f"{_srcset_url(by_width[w].url)} {w}w" for w in sorted(by_width))
    return out


def picture_html(files: Sequence[PublishedFile], alt: str = "", sizes: str = "100vw") -> str:
    """A ready ``<picture>``: one ``<source>`` per modern format, an ``<img>`` fallback.

    The ``<img>`` carries width and height (the page reserves the space: no layout
    shift), lazy loading and async decoding.
    """
    if not files:
        return ""
    sets = srcsets(files)
    fallback = next(f for f in FALLBACK_ORDER if f in sets)
    widest = max((f for f in files if f.format == fallback), key=lambda f: f.width)
    attr = lambda value: html.escape(value, quote=True)  # noqa: E731
    lines = ["<picture>"]
    for fmt in SOURCE_ORDER:
        if fmt in sets and fmt != fallback:
            lines.append(
                f'  <source type="{CONTENT_TYPES[fmt]}" srcset="{attr(sets[fmt])}" '
                f'sizes="{attr(sizes)}">'
            )
    lines.append(
        f'  <img src="{attr(widest.url)}" srcset="{attr(sets[fallback])}" '
        f'sizes="{attr(sizes)}" width="{widest.width}" height="{widest.height}" '
        f'alt="{attr(alt)}" loading="lazy" decoding="async">'
    )
    lines.append("</picture>")
    return "\n".join(lines)


class PreparedImage:
    """An original decoded once, with its focal-point crop placed for the image's aspect.

    Every output of the image shares the aspect ratio, so one crop box (in source
    pixels) serves them all, and only the final resize differs per output.
    """

    def __init__(self, original: bytes, width: int, height: int, focal: str = "center") -> None:
        self.width, self.height = width, height
        self.image = decode_original(original, width, height)
        try:
            self.focus = focus_point(focal, self.image, width, height)
            self.box: Box = cover_box(
                self.image.width, self.image.height, width, height, self.focus
            )
        except BaseException:
            self.image.close()
            raise

    def __enter__(self) -> PreparedImage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.image.close()

    def _scaled(self, long_side: int) -> Image.Image:
        """The crop, at most ``long_side`` px long, same aspect as the outputs."""
        scale = min(1.0, long_side / max(self.width, self.height))
        size = (max(1, round(self.width * scale)), max(1, round(self.height * scale)))
        return self.image.resize(size, Image.Resampling.BOX, box=self.box, reducing_gap=2.0)

    def preview(self) -> Image.Image:
        """A ~64 px copy of the published picture: placeholders and colours use it."""
        return self._scaled(PREVIEW_LONG_SIDE)

    def describe_jpeg(self) -> bytes:
        """The published picture as a JPEG of at most 1024 px, for a describing model."""
        with self._scaled(DESCRIBE_LONG_SIDE) as small:
            rgb = small.convert("RGB") if small.mode != "RGB" else small
            buffer = io.BytesIO()
            rgb.save(buffer, "JPEG", quality=85)
            if rgb is not small:
                rgb.close()
        return buffer.getvalue()

    def render(
        self, output: OutputSpec, provenance: Provenance, alt_text: str = ""
    ) -> ProcessedImage:
        """One output file (exact size, format, provenance and alt text in XMP)."""
        return render_output(self.image, output, provenance, self.box, alt_text)
