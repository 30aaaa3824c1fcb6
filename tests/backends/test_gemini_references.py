"""The Gemini backend sends references as labelled inline parts and bills their tokens.

Through the real google-genai SDK to the local Gemini server.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from mediagen.backends.base import ReferenceImage
from mediagen.backends.gemini import catalogue
from mediagen.backends.gemini.backend import GeminiBackend
from mediagen.backends.gemini.references import label
from mediagen.errors import PermanentError
from mediagen.settings import get_settings
from mediagen.testing import FakeGeminiServer
from tests.support.gemini import make_request


def reference(colour: bytes, role: str) -> ReferenceImage:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), tuple(colour)).save(buffer, format="PNG")
    data = buffer.getvalue()
    return ReferenceImage(hashlib.sha256(data).hexdigest(), role, "image/png", "file:/x", (), data)


def test_references_are_inline_parts_after_their_labels_and_are_billed(
    gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    refs = (reference(b"\xc8\x00\x00", "logo"), reference(b"\x00\x00\xc8", ""))
    backend = GeminiBackend(get_settings())
    try:
        plain = backend.generate(make_request(model="gemini-3.1-flash-image"))
        result = backend.generate(
            replace(make_request(model="gemini-3.1-flash-image"), references=refs)
        )
    finally:
        backend.close()
    without, sent = gemini_env.image_requests
    assert without.inline_data == []
    assert [data for _, data in sent.inline_data] == [r.data for r in refs]
    parts = sent.body["contents"][0]["parts"]
    texts = [p.get("text") for p in parts]
    assert texts == [make_request().prompt, label(1, "logo"), None, label(2, ""), None]
    assert label(1, "logo").startswith("Reference 1 (logo): reproduce this logo")
    # What the answer says it cost: promptTokenCount (two pictures of 1,120) at $0.50/1M.
    extra = result.usage["prompt_tokens"] - plain.usage["prompt_tokens"]
    assert extra >= 2 * catalogue.INPUT_IMAGE_TOKENS
    image, thinking = result.usage["image_tokens"], result.usage.get("thoughts_tokens", 0)
    expected = (result.usage["prompt_tokens"] * 0.50 + image * 60 + thinking * 3.00) / 1e6
    assert result.cost_usd == pytest.approx(expected, abs=1e-8)


def test_a_request_without_loaded_bytes_is_refused_before_sending(
    gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    empty = replace(reference(b"\x00\x00\x00", "style"), data=b"")
    backend = GeminiBackend(get_settings())
    try:
        with pytest.raises(PermanentError, match="no bytes loaded"):
            backend.generate(replace(make_request(), references=(empty,)))
    finally:
        backend.close()
    assert gemini_env.requests == []


def test_the_catalogue_says_how_many_each_current_model_takes() -> None:
    for model in ("gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-3.1-flash-lite-image"):
        assert GeminiBackend.max_reference_images(model) == 14
    assert GeminiBackend.max_reference_images("some-future-model") == 14
