"""Alt text from the gemini backend: the real google-genai SDK against the local fake server."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mediagen.backends.gemini.backend import GeminiBackend
from mediagen.engine.run import Run
from mediagen.errors import AuthError, BlockedError, ConfigurationError, PermanentError
from mediagen.plan import preflight
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import expand_spec
from mediagen.settings import Settings
from mediagen.spec import alt_text
from mediagen.spec.models import parse_spec
from mediagen.testing import FakeGeminiServer, Fault
from mediagen.testing.gemini_wire import INPUT_IMAGE_TOKENS, is_text_request, prompt_tokens
from tests.support.gemini import TEST_KEY, make_request

TEXT = "gemini-3.1-flash-lite"  # the default alt-text model
PURPOSE = "list and card thumbnails; the image was made for: a jar of coins"


def jpeg(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "#0A7B83").save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def backend(gemini_env: FakeGeminiServer) -> GeminiBackend:
    client = GeminiBackend(Settings(), Run(Settings()))
    yield client
    client.close()


def test_describe_wire_format_text_usage_and_cost(backend, gemini_server):
    image = jpeg()
    described = backend.describe_with_usage(image, "image/jpeg", PURPOSE, make_request())

    (sent,) = gemini_server.requests
    assert sent.path == f"/v1beta/models/{TEXT}:generateContent" and sent.is_text
    assert sent.body["generationConfig"] == {"responseModalities": ["TEXT"]}  # no imageConfig
    assert sent.inline_data == [("image/jpeg", image)]  # the picture itself, then the ask
    assert sent.prompt == alt_text.describe_prompt(PURPOSE)
    assert described.text == "Picture for list and card thumbnails: a jar of coins"
    assert described.model == TEXT == backend.describe_model
    input_tokens = prompt_tokens(sent.prompt) + INPUT_IMAGE_TOKENS
    output_tokens = len(described.text) // 4
    assert described.usage["prompt_tokens"] == input_tokens
    assert described.usage["candidates_tokens"] == output_tokens
    # gemini-3.1-flash-lite: $0.25 per 1M input tokens (text and images), $1.50 per 1M output.
    assert described.cost_usd == pytest.approx(input_tokens * 0.25e-6 + output_tokens * 1.5e-6)
    assert 0 < described.cost_usd < backend.estimate_describe_cost() < 0.01
    assert backend.describe(image, "image/jpeg", PURPOSE, make_request()) == described.text


def test_describe_model_setting_and_scripted_answers(gemini_env, monkeypatch):
    monkeypatch.setenv("MEDIAGEN_GEMINI_DESCRIBE_MODEL", "gemini-3.5-flash-lite")
    with FakeGeminiServer(api_key=TEST_KEY, text_answer=lambda p: f"{len(p)} chars") as server:
        monkeypatch.setenv("MEDIAGEN_GEMINI_BASE_URL", server.base_url)
        backend = GeminiBackend(Settings(), Run(Settings()))
        try:
            text = backend.describe(jpeg(), "image/jpeg", PURPOSE, make_request())
        finally:
            backend.close()
    assert backend.describe_model == "gemini-3.5-flash-lite"
    (sent,) = server.requests
    assert sent.model == "gemini-3.5-flash-lite" and text == f"{len(sent.prompt)} chars"


def test_describe_retries_429_honouring_the_servers_delay(backend, gemini_server):
    gemini_server.script(Fault.rate_limited(retry_delay=0.3), modality="text")
    gemini_server.script(Fault.server_error(503), modality="image")  # not for text calls
    backend.describe(jpeg(), "image/jpeg", PURPOSE, make_request())
    first, second = gemini_server.requests
    assert [first.status, second.status] == [429, 200]
    assert second.started - first.finished >= 0.3


@pytest.mark.parametrize(
    "fault",
    [Fault.prompt_blocked("PROHIBITED_CONTENT", "refused"), Fault.finish("SAFETY", "unsafe")],
)
def test_a_refused_description_is_blocked_and_not_retried(backend, gemini_server, fault):
    gemini_server.script(fault, modality="text")
    with pytest.raises(BlockedError) as info:
        backend.describe(jpeg(), "image/jpeg", PURPOSE, make_request())
    assert info.value.reason == fault.reason and info.value.detail == fault.message
    assert len(gemini_server.requests) == 1


def test_describe_errors_are_translated_like_images(backend, gemini_server):
    gemini_server.script(Fault.bad_key(), modality="text")
    with pytest.raises(AuthError) as info:
        backend.describe(jpeg(), "image/jpeg", PURPOSE, make_request())
    assert TEST_KEY not in str(info.value)
    gemini_server.script(Fault.error(400, "Unsupported MIME type"), modality="text")
    with pytest.raises(PermanentError, match="400 INVALID_ARGUMENT"):
        backend.describe(jpeg(), "image/jpeg", PURPOSE, make_request())
    assert len(gemini_server.requests) == 2  # neither retried


def test_the_fake_server_tells_text_requests_from_image_requests() -> None:
    assert is_text_request(TEXT, {})
    assert is_text_request("gemini-3.1-flash-image", {"generationConfig": {
        "responseModalities": ["TEXT"]}})  # fmt: skip
    assert not is_text_request("gemini-3.1-flash-image", {})
    assert not is_text_request(TEXT, {"generationConfig": {
        "responseModalities": ["IMAGE"]}})  # fmt: skip


def test_a_budget_needs_a_price_for_the_alt_text_model(gemini_env, monkeypatch):
    monkeypatch.setenv("MEDIAGEN_GEMINI_DESCRIBE_MODEL", "gemini-9-text")
    spec = parse_spec({"name": "b", "backend": "gemini", "budget_usd": 1.0, "images": [
        {"id": "a", "prompt": "a jar", "size": "thumbnail", "alt_text": "auto"}]})  # fmt: skip
    settings = Settings()
    plan = make_plan(expand_spec(spec, settings), None, settings)
    with pytest.raises(ConfigurationError, match="gemini-9-text"):
        preflight.check_run(spec, plan, settings)
    monkeypatch.setenv("MEDIAGEN_GEMINI_PRICING", '{"gemini-9-text": {"input_per_million": 1}}')
    preflight.check_run(spec, plan, Settings())  # priced: fine
