"""Fixtures for Gemini tests: the local fake Gemini server and an environment pointing at it.

Every Gemini test goes through the real google-genai SDK over HTTP to
:class:`mediagen.testing.FakeGeminiServer` on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mediagen.backends.base import GenerationRequest
from mediagen.spec.vocabulary import THEMES, Theme
from mediagen.testing import FakeGeminiServer

# A recognisable fake key: tests assert it never shows up where it must not.
TEST_KEY = "AIzaFAKE-test-key-7c1d9e0b5a"


@pytest.fixture
def gemini_server() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(api_key=TEST_KEY, image_side=128, max_side=256) as server:
        yield server


@pytest.fixture
def gemini_env(
    workspace: Path, gemini_server: FakeGeminiServer, monkeypatch: pytest.MonkeyPatch
) -> FakeGeminiServer:
    """The workspace, with the gemini backend pointed at the fake server (small delays)."""
    point_gemini_at(monkeypatch, gemini_server.base_url, timeout=2)
    return gemini_server


def point_gemini_at(monkeypatch: pytest.MonkeyPatch, base_url: str, *, timeout: float) -> None:
    """The gemini backend, with the test key, sent to ``base_url`` with short waits."""
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("MEDIAGEN_BACKEND", "gemini")
    monkeypatch.setenv("MEDIAGEN_GEMINI_BASE_URL", base_url)
    monkeypatch.setenv("MEDIAGEN_GEMINI_TIMEOUT", str(timeout))
    monkeypatch.setenv("MEDIAGEN_GEMINI_MAX_WAIT", "5")
    monkeypatch.setenv("MEDIAGEN_GEMINI_RETRY_BASE_DELAY", "0.02")


def make_request(
    prompt: str = "a piggy bank on a desk",
    width: int = 1200,
    height: int = 630,
    *,
    image_size: str = "2K",
    model: str | None = None,
    fallback: tuple[str, ...] = (),
) -> GenerationRequest:
    return GenerationRequest(
        prompt=prompt,
        width=width,
        height=height,
        quality="standard",
        backend_image_size=image_size,
        theme="modern",
        palette=THEMES[Theme.MODERN].palette,
        model=model,
        image_id="test-image",
        fallback_models=fallback,
    )
