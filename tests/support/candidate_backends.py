"""A test backend whose picture depends on the request's seed: candidates of known colours."""

from __future__ import annotations

import io
from typing import ClassVar

from PIL import Image

from mediagen.backends.base import GenerationRequest, GenerationResult
from mediagen.backends.offline import render_size
from tests.support.backends import CountingBackend


class SeedPaintBackend(CountingBackend):
    """A flat image in the colour the test assigned to the request's seed (grey otherwise);
    counts its calls like :class:`CountingBackend` (one cent each, so costs show)."""

    name = "seedpaint"
    colours: ClassVar[dict[int | None, str]] = {}

    def generate(self, request: GenerationRequest) -> GenerationResult:
        with self._lock:
            type(self).calls[request.prompt] += 1
        buffer = io.BytesIO()
        colour = self.colours.get(request.seed, "#808080")
        Image.new("RGB", render_size(request.width, request.height), colour).save(buffer, "PNG")
        return GenerationResult(
            buffer.getvalue(), "image/png", self.name, "paint", False, cost_usd=0.01
        )
