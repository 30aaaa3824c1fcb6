"""Test backends: the real offline renderer plus call counting and scripted faults.

Markers in a prompt script the outcome:
``[[blocked]]`` → BlockedError, ``[[fail]]`` → PermanentError,
``[[flaky]]`` → TransientError on the first two calls for that prompt.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import ClassVar

from mediagen.backends.base import GenerationRequest, GenerationResult
from mediagen.backends.offline import OfflineBackend
from mediagen.errors import BlockedError, PermanentError, TransientError


class CountingBackend(OfflineBackend):
    name = "counting"
    calls: ClassVar[Counter[str]] = Counter()  # prompt → number of generate() calls
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.calls.clear()

    @classmethod
    def total(cls) -> int:
        return sum(cls.calls.values())

    def generate(self, request: GenerationRequest) -> GenerationResult:
        with self._lock:
            self.calls[request.prompt] += 1
            attempt = self.calls[request.prompt]
        if "[[blocked]]" in request.prompt:
            raise BlockedError("IMAGE_SAFETY", "scripted block")
        if "[[fail]]" in request.prompt:
            raise PermanentError("scripted permanent failure")
        if "[[flaky]]" in request.prompt and attempt <= 2:
            raise TransientError(f"scripted transient failure #{attempt}")
        return super().generate(request)


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
