"""Is a backend's answer a usable image? Checked before it becomes the cached original.

The original in the bucket is the durable cache: once stored, no later run asks
the backend again. So an answer is decoded and checked *first*, and one that
fails is never stored; the image fails with a short reason and the next run
(or retry) asks again. Refused, in the order checked:

- more than ``MEDIAGEN_MAX_ANSWER_BYTES`` bytes (default 64 MiB), or none;
- not a raster format mediagen decodes (PNG, JPEG, WebP, AVIF): SVG, HTML,
  random bytes;
- more than ``MEDIAGEN_MAX_IMAGE_PIXELS`` pixels (default 50 M: Gemini's
  largest 4K answers are ~17 M), read from the header, before any pixel is
  decoded, so a 40000x40000 or a 169-megapixel PNG of a few KB costs nothing;
- pixels that do not decode: truncated or corrupt data, a text-chunk bomb
  (Pillow's own caps on PNG text chunks), decoded under the pixel budget.

Images over the cap are refused, not downscaled: PNG cannot be decoded at a
reduced scale, and a backend that answers 169 Mpx for a 4K request is broken.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from mediagen.errors import BadAnswerError
from mediagen.imaging import pixel_budget
from mediagen.reasons import short_reason
from mediagen.settings import Settings, get_settings
from mediagen.spec import formats

# Pillow format name → the content type stored with the original.
MIME_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # a JPEG with extra pictures (phones): its first is the image
    "WEBP": "image/webp",
    "AVIF": "image/avif",
}
# content type → file extension of the stored original (from the one formats table)
EXTENSIONS = {formats.CONTENT_TYPES[name]: formats.EXTENSIONS[name] for name in formats.FORMATS}


@dataclass(frozen=True)
class CheckedImage:
    """What the header says of a usable image."""

    width: int
    height: int
    mime_type: str

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.mime_type]


def inspect(data: bytes, settings: Settings | None = None) -> CheckedImage:
    """Size and type from the header, or :class:`BadAnswerError`; decodes no pixel."""
    settings = settings or get_settings()
    if not data:
        raise BadAnswerError("the answer holds no image data")
    if len(data) > settings.max_answer_bytes:
        raise BadAnswerError(
            f"the image is {_mb(len(data))}, over the {_mb(settings.max_answer_bytes)} cap "
            "(MEDIAGEN_MAX_ANSWER_BYTES)"
        )
    if data.lstrip()[:1] == b"<":
        raise BadAnswerError("the answer is markup (SVG, XML or HTML), not a raster image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our cap decides
            with Image.open(io.BytesIO(data)) as image:
                width, height, kind = image.width, image.height, image.format or ""
    except Image.DecompressionBombError:
        raise BadAnswerError(
            f"the image is larger than Pillow's limit, over the {_mpx(settings.max_image_pixels)} "
            "cap (MEDIAGEN_MAX_IMAGE_PIXELS)"
        ) from None
    except Exception as exc:  # any failure on untrusted bytes means "not an image"
        raise BadAnswerError(f"the answer is not a readable image ({_why(exc)})") from None
    if kind not in MIME_TYPES:
        raise BadAnswerError(f"the answer is {kind or 'an unknown format'}, not PNG/JPEG/WebP/AVIF")
    if width < 1 or height < 1 or width * height > settings.max_image_pixels:
        raise BadAnswerError(
            f"the image is {width}x{height} ({_mpx(width * height)}), over the "
            f"{_mpx(settings.max_image_pixels)} cap (MEDIAGEN_MAX_IMAGE_PIXELS)"
        )
    return CheckedImage(width, height, MIME_TYPES[kind])


def check_answer(data: bytes, settings: Settings | None = None) -> CheckedImage:
    """:func:`inspect`, then decode every pixel (under the pixel budget) to prove they are there."""
    checked = inspect(data, settings)
    with pixel_budget.hold(checked.pixels, settings.pixel_budget if settings else None):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as image:
                    if image.format in ("JPEG", "MPO"):
                        # The whole stream is still read (truncation shows), at 1/8 the pixels.
                        image.draft(image.mode, (image.width // 8, image.height // 8))
                    image.load()
        except Exception as exc:
            raise BadAnswerError(f"the image does not decode ({_why(exc)})") from None
    return checked


def _why(exc: BaseException) -> str:
    return short_reason(exc)[:200]


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _mpx(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} Mpx"


__all__ = ["CheckedImage", "check_answer", "inspect"]
