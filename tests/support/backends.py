"""Test backends: the real offline renderer plus call counting and scripted faults.

Markers in a prompt script the outcome:
``[[blocked]]`` → BlockedError, ``[[fail]]`` → PermanentError,
``[[flaky]]`` → TransientError on the first two calls for that prompt,
``[[paint #RRGGBB]]`` → a flat image of that colour (known colours for colour tests).
"""

from __future__ import annotations

import io
import re
import threading
from collections import Counter
from typing import ClassVar

from PIL import Image

from mediagen.backends.base import GenerationRequest, GenerationResult
from mediagen.backends.offline import OfflineBackend, render_size
from mediagen.errors import BlockedError, PermanentError, TransientError


class CountingBackend(OfflineBackend):
    name = "counting"
    # prompt → number of generate() calls: a class attribute, every instance counts into it.
    calls: ClassVar[Counter[str]] = Counter()
    describe_calls: ClassVar[Counter[str]] = Counter()  # prompt → number of describe() calls
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.calls.clear()
            cls.describe_calls.clear()

    @classmethod
    def total(cls) -> int:
        return sum(cls.calls.values())

    def generate(self, request: GenerationRequest) -> GenerationResult:
        counts = type(self).calls
        with self._lock:
            counts[request.prompt] += 1
            attempt = counts[request.prompt]
        if "[[blocked]]" in request.prompt:
            raise BlockedError("IMAGE_SAFETY", "scripted block")
        if "[[fail]]" in request.prompt:
            raise PermanentError("scripted permanent failure")
        if "[[flaky]]" in request.prompt and attempt <= 2:
            raise TransientError(f"scripted transient failure #{attempt}")
        if paint := re.search(r"\[\[paint (#[0-9A-Fa-f]{6})\]\]", request.prompt):
            buffer = io.BytesIO()
            size = render_size(request.width, request.height)
            Image.new("RGB", size, paint.group(1)).save(buffer, "PNG")
            return GenerationResult(buffer.getvalue(), "image/png", self.name, "paint", False)
        return super().generate(request)

    def describe(
        self, image: bytes, mime_type: str, purpose: str, request: GenerationRequest
    ) -> str:
        with self._lock:
            self.describe_calls[request.prompt] += 1
        return super().describe(image, mime_type, purpose, request)


class SolidBackend(CountingBackend):
    """One flat colour per image (its first brand colour), so a screenshot can find it.

    Costs one cent per image, so costs show wherever they are reported.
    """

    name = "solid"
    default_model = "solid-1"

    def generate(self, request: GenerationRequest) -> GenerationResult:
        import io

        from PIL import Image

        super().generate(request)  # markers, call counting
        colour = request.brand_colors[0] if request.brand_colors else "#808080"
        buffer = io.BytesIO()
        Image.new("RGB", (request.width, request.height), colour).save(buffer, format="PNG")
        return GenerationResult(
            data=buffer.getvalue(),
            mime_type="image/png",
            backend=self.name,
            model=request.model or self.default_model,
            ai_generated=False,
            cost_usd=0.01,
        )


FAKES: dict[str, type[CountingBackend]] = {"counting": CountingBackend, "solid": SolidBackend}


def register_fakes() -> None:
    """Register the test backends through the public call, as a plugin would (idempotent)."""
    from mediagen.backends import register_implementation

    for name, cls in FAKES.items():
        register_implementation(name, cls)
