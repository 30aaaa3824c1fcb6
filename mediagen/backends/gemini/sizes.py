"""The aspect ratio and image size a Gemini request asks for, and the size it is billed at.

A model takes a set of aspect ratios and (for most) an ``imageSize``; the
catalogue says which (:mod:`mediagen.backends.gemini.catalogue`). Models it
does not know get the common ten ratios and the quality level's size.
"""

from __future__ import annotations

import math

from mediagen.backends.base import GenerationRequest
from mediagen.backends.gemini import catalogue


def aspect_ratios_of(model: str) -> tuple[str, ...]:
    """The aspect ratios ``model`` takes (the common ten for a model the catalogue lacks)."""
    info = catalogue.lookup(model)
    return info.aspect_ratios if info is not None and info.aspect_ratios else catalogue.BASE_RATIOS


def nearest_aspect_ratio(
    width: int, height: int, ratios: tuple[str, ...] = catalogue.BASE_RATIOS
) -> str:
    """The supported aspect ratio closest to width:height (compared as log ratios)."""
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(math.log(w / h) - target)

    return min(ratios, key=distance)


def image_size_for(model: str, request: GenerationRequest) -> str | None:
    """The imageSize to send: None for models that take none (one fixed size).

    The quality level's size, except that a 1K request for a picture no larger
    than 512 px asks for "512" from models that make it (about a third cheaper,
    still sharper than the target).
    """
    info = catalogue.lookup(model)
    if info is not None and not info.image_size_param:
        return None
    size = request.backend_image_size
    if (
        info is not None
        and size == "1K"
        and "512" in info.sizes
        and max(request.width, request.height) <= 512
    ):
        return "512"
    return size


def priced_size(model: str, request: GenerationRequest) -> str:
    """The size an image is billed at (the model's only size when it takes no imageSize)."""
    size = image_size_for(model, request)
    if size is not None:
        return size
    info = catalogue.lookup(model)
    return info.sizes[0] if info is not None and info.sizes else "1K"
