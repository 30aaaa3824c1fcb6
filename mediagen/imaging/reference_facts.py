"""What a reference image is: its type, whether it decodes, and its dominant colours.

A reference (spec ``references``) is read when the spec is planned; this
checks its bytes the way an answer is checked (header first, under the pixel
cap, then every pixel decoded under the pixel budget) and takes its palette
from a small preview, so the offline renderer can follow it and the plan
stays cheap however large the picture.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from mediagen.errors import BadAnswerError
from mediagen.imaging.answer_check import check_answer
from mediagen.imaging.colors import dominant_colors

# What the Gemini API takes as inline image data and mediagen decodes (HEIC/HEIF
# need a Pillow plugin mediagen does not install).
ACCEPTED = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP"}
_PREVIEW = 64  # px on the long side: enough for a palette, as for an image's facts


@dataclass(frozen=True)
class ReferenceFacts:
    mime_type: str
    width: int
    height: int
    colors: tuple[str, ...]  # dominant colours, largest share first


def reference_facts(data: bytes) -> ReferenceFacts:
    """The facts of a reference, or ``ValueError`` saying why it is not a usable image."""
    try:
        checked = check_answer(data)
    except BadAnswerError as exc:
        reason = str(exc).replace("the answer is ", "").replace("the answer ", "it ")
        raise ValueError(f"is not a usable image: {reason}") from None
    if checked.mime_type not in ACCEPTED:
        raise ValueError(f"is {checked.mime_type}; references must be PNG, JPEG or WebP")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked above
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (_PREVIEW * 2, _PREVIEW * 2))  # JPEG: decode small
            preview = image.copy()
    preview.thumbnail((_PREVIEW, _PREVIEW))
    colors = tuple(c.hex for c in dominant_colors(preview))
    return ReferenceFacts(checked.mime_type, checked.width, checked.height, colors)


__all__ = ["ACCEPTED", "ReferenceFacts", "reference_facts"]
