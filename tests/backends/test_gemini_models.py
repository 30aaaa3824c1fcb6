"""Model facts on the wire, through the real google-genai SDK and the local Gemini server:
retired models answer 404 and the chain goes on, 512 and the extreme aspect ratios,
fixed-size models get no imageSize, paid answers without an image carry their cost,
and HTML error pages are summarised."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mediagen.backends.gemini.backend import GeminiBackend
from mediagen.engine.run import Run
from mediagen.errors import BlockedError, ModelUnavailableError, TransientError
from mediagen.settings import Settings
from mediagen.testing import FakeGeminiServer, Fault
from tests.support.gemini import make_request

FLASH, PRO, LITE = "gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-3.1-flash-lite-image"
OLD = "gemini-2.5-flash-image"  # the default until now: shut down 2026-10-02


@pytest.fixture
def backend(gemini_env: FakeGeminiServer) -> GeminiBackend:
    client = GeminiBackend(Settings(), Run(Settings()))
    yield client
    client.close()


def test_a_retired_model_is_reported_as_retired_and_the_chain_goes_on(backend, gemini_server):
    result = backend.generate(make_request(model=OLD, fallback=(FLASH,)))

    first, second = gemini_server.requests
    assert (first.model, first.status, second.model, second.status) == (OLD, 404, FLASH, 200)
    assert result.model == FLASH
    retired, ok = result.attempts
    assert (retired["model"], retired["outcome"]) == (OLD, "retired")
    assert "shut down 2026-10-02" in retired["reason"] and repr(FLASH) in retired["reason"]
    assert (ok["model"], ok["outcome"]) == (FLASH, "ok")


def test_a_chain_of_retired_models_fails_naming_the_last_one(backend, gemini_server):
    with pytest.raises(ModelUnavailableError, match="retired") as info:
        backend.generate(make_request(model=OLD, fallback=("gemini-3-pro-image-preview",)))
    attempts = info.value.attempts  # type: ignore[attr-defined]
    assert [a["model"] for a in attempts] == [OLD, "gemini-3-pro-image-preview"]
    assert {a["outcome"] for a in attempts} == {"retired"}
    assert "gemini-3-pro-image-preview" in str(info.value)
    assert len(gemini_server.requests) == 2  # a 404 is not retried


def test_an_unknown_404_is_unavailable_not_retired(gemini_env):
    with FakeGeminiServer(api_key=None, retired={PRO}) as server:
        gemini_env.reset()
        settings = Settings().with_backend_options("gemini", {"base_url": server.base_url})
        client = GeminiBackend(settings, Run(Settings()))
        try:
            result = client.generate(make_request(model=PRO, fallback=(FLASH,)))
        finally:
            client.close()
    assert [a["outcome"] for a in result.attempts] == ["unavailable", "ok"]


def test_small_fast_images_are_asked_at_512(backend, gemini_server):
    result = backend.generate(make_request(width=320, height=320, image_size="1K"))
    (sent,) = gemini_server.requests
    assert sent.image_config == {"aspectRatio": "1:1", "imageSize": "512"}
    assert result.usage["image_tokens"] == 747
    with Image.open(io.BytesIO(result.data)) as image:  # half the 1K side (128 px here)
        assert image.size == (64, 64)


def test_extreme_aspect_ratios_go_to_the_model_that_has_them(backend, gemini_server):
    backend.generate(make_request(width=1920, height=240, image_size="1K"))
    backend.generate(make_request(width=1920, height=240, image_size="1K", model=PRO))
    flash, pro = gemini_server.requests
    assert flash.image_config["aspectRatio"] == "8:1" and flash.status == 200
    assert pro.image_config["aspectRatio"] == "21:9" and pro.status == 200


def test_a_fixed_size_model_gets_no_image_size(backend, gemini_server):
    result = backend.generate(make_request(image_size="4K", model=LITE))
    (sent,) = gemini_server.requests
    assert "imageSize" not in sent.image_config and sent.status == 200
    assert result.usage["image_tokens"] == 1120
    assert result.cost_usd == pytest.approx(result.usage["prompt_tokens"] * 0.25e-6 + 0.0336)


def test_the_server_refuses_what_the_model_does_not_take(gemini_server):
    from mediagen.testing.gemini_wire import check_image_config

    assert "imageSize" in (check_image_config(LITE, _body(imageSize="1K")) or "")
    assert "512" in (check_image_config(PRO, _body(imageSize="512")) or "")
    assert "8:1" in (check_image_config(PRO, _body(aspectRatio="8:1")) or "")
    assert check_image_config(FLASH, _body(imageSize="512", aspectRatio="1:8")) is None


def _body(**image_config: str) -> dict[str, object]:
    return {"generationConfig": {"imageConfig": image_config}}


def test_a_blocked_answer_with_usage_carries_its_cost(backend, gemini_server):
    gemini_server.script(Fault.finish("IMAGE_SAFETY", "unsafe"))
    with pytest.raises(BlockedError) as info:
        backend.generate(make_request(image_size="1K"))
    error = info.value
    usage = error.usage  # type: ignore[attr-defined]
    assert usage["image_tokens"] == 1120 and usage["thoughts_tokens"] > 0
    expected = usage["prompt_tokens"] * 0.5e-6 + 1120 * 60e-6 + usage["thoughts_tokens"] * 3e-6
    assert error.cost_usd == pytest.approx(expected)  # type: ignore[attr-defined]
    assert [(a["model"], a["outcome"]) for a in error.attempts] == [(FLASH, "blocked")]  # type: ignore[attr-defined]


def test_a_prompt_block_is_charged_its_prompt_only(backend, gemini_server):
    gemini_server.script(Fault.prompt_blocked())
    with pytest.raises(BlockedError) as info:
        backend.generate(make_request())
    usage = info.value.usage  # type: ignore[attr-defined]
    assert set(usage) == {"prompt_tokens", "total_tokens"}
    assert info.value.cost_usd == pytest.approx(usage["prompt_tokens"] * 0.5e-6)  # type: ignore[attr-defined]


def test_html_error_pages_are_summarised(gemini_env, gemini_server, monkeypatch):
    monkeypatch.setenv("MEDIAGEN_GEMINI_MAX_ATTEMPTS", "2")
    gemini_server.script(Fault.html_error(502, "502 Bad Gateway"), times=None)
    client = GeminiBackend(Settings(), Run(Settings()))
    try:
        with pytest.raises(TransientError) as info:
            client.generate(make_request())
    finally:
        client.close()
    message = str(info.value)
    assert "502" in message and "'502 Bad Gateway'" in message and "HTML error page" in message
    assert "<" not in message and len(message) < 400  # not the 2 kB page
    assert len(gemini_server.requests) == 2  # a 502 is retried


def test_a_request_that_timed_out_is_noted_its_cost_unknown(backend, gemini_server):
    gemini_server.script(Fault.slow(3.0))  # the client gives up after 2 s (gemini_env)
    result = backend.generate(make_request())
    assert [a["outcome"] for a in result.attempts] == ["timeout", "ok"]
    assert len(gemini_server.requests) == 2
