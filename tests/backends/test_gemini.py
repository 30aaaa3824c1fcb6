"""The gemini backend through the real google-genai SDK, against the local fake Gemini server."""

from __future__ import annotations

import io
import itertools
import threading
import time

import pytest
from PIL import Image

from mediagen.backends.gemini.backend import GeminiBackend, nearest_aspect_ratio
from mediagen.engine import ratelimit
from mediagen.engine.guard import StopFlag
from mediagen.engine.ratelimit import RateLimit
from mediagen.engine.run import Run
from mediagen.errors import (
    AuthError,
    BlockedError,
    ConfigurationError,
    ModelUnavailableError,
    PermanentError,
    SpecError,
    TransientError,
)
from mediagen.plan.jobs import expand_spec
from mediagen.settings import Settings
from mediagen.spec.models import parse_spec
from mediagen.testing import FakeGeminiServer, Fault
from tests.support.gemini import TEST_KEY, make_request

FLASH = "gemini-3.1-flash-image"  # the default image model
PRO = "gemini-3-pro-image"


@pytest.fixture
def backend(gemini_env: FakeGeminiServer) -> GeminiBackend:
    client = GeminiBackend(Settings(), Run(Settings()))
    yield client
    client.close()


def test_happy_path_wire_format_image_usage_and_cost(backend, gemini_server):
    result = backend.generate(make_request(width=1200, height=630))

    (sent,) = gemini_server.requests
    assert sent.path == f"/v1beta/models/{FLASH}:generateContent"
    assert sent.api_key == TEST_KEY
    assert sent.body["generationConfig"]["responseModalities"] == ["IMAGE"]
    # 1200x630 is nearest 16:9; the quality level's 2K goes as imageSize.
    assert sent.image_config == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert sent.prompt == "a piggy bank on a desk"
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.format == "PNG" and image.width > image.height
    assert result.model == FLASH and result.backend == "gemini" and result.ai_generated
    assert result.usage["image_tokens"] == 1680 and result.usage["prompt_tokens"] > 0
    # $0.50 input, $60 per 1M image tokens, thinking billed as text output at $3.
    thinking = result.usage["thoughts_tokens"]
    assert thinking > 0
    expected = result.usage["prompt_tokens"] * 0.50 / 1e6 + 1680 * 60 / 1e6 + thinking * 3 / 1e6
    assert result.cost_usd == pytest.approx(expected)
    assert result.attempts == ({"model": FLASH, "outcome": "ok", "reason": ""},)
    # The estimate counts ~4 characters a token and typical thinking: close, not exact.
    assert GeminiBackend.estimate_cost(make_request(), Settings()) == pytest.approx(
        expected, rel=0.01
    )


def test_pro_model_gets_the_quality_levels_image_size(backend, gemini_server):
    result = backend.generate(make_request(width=1080, height=1920, image_size="4K", model=PRO))
    assert gemini_server.requests[0].image_config == {"aspectRatio": "9:16", "imageSize": "4K"}
    thinking = result.usage["thoughts_tokens"]
    assert result.usage["image_tokens"] == 2000 and 0.6 * 225 <= thinking <= 1.4 * 225
    assert result.cost_usd == pytest.approx(
        result.usage["prompt_tokens"] * 2 / 1e6 + 0.24 + thinking * 12 / 1e6
    )


def test_nearest_aspect_ratio() -> None:
    assert nearest_aspect_ratio(1024, 1024) == "1:1"
    assert nearest_aspect_ratio(1920, 640) == "21:9"  # 3:1 banner: the widest supported
    assert nearest_aspect_ratio(1080, 1350) == "4:5"
    assert nearest_aspect_ratio(333, 77) == "21:9"


def test_thought_marked_image_after_text_is_taken(backend, gemini_server):
    gemini_server.script(Fault.thought_image(text_first=True))
    result = backend.generate(make_request())
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.format == "PNG"
    assert len(gemini_server.requests) == 1


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault.prompt_blocked("PROHIBITED_CONTENT", "prompt refused"), "PROHIBITED_CONTENT"),
        (Fault.finish("IMAGE_SAFETY", "unsafe picture"), "IMAGE_SAFETY"),
        (Fault.finish("NO_IMAGE"), "NO_IMAGE"),
        (Fault.finish("IMAGE_OTHER", "could not draw"), "IMAGE_OTHER"),
    ],
)
def test_safety_outcomes_are_blocked_and_never_retried(backend, gemini_server, fault, reason):
    gemini_server.script(fault)
    with pytest.raises(BlockedError) as info:
        backend.generate(make_request(fallback=(PRO,)))
    assert info.value.reason == reason
    assert info.value.detail == fault.message
    assert len(gemini_server.requests) == 1  # no retry, and no fallback on a safety block


def test_text_only_answer_is_a_clear_permanent_error(backend, gemini_server):
    gemini_server.script(Fault.text_only("I would rather describe it."))
    with pytest.raises(PermanentError, match=r"text and no image.*rather describe"):
        backend.generate(make_request())
    assert len(gemini_server.requests) == 1


def test_unknown_finish_reason_does_not_crash(backend, gemini_server):
    gemini_server.script(Fault.finish("SOMETHING_NEW", "new in v2"))
    with pytest.raises(PermanentError, match="SOMETHING_NEW: new in v2"):
        backend.generate(make_request())
    assert len(gemini_server.requests) == 1


def test_429_storm_honours_retry_info_then_succeeds(backend, gemini_server):
    gemini_server.script(Fault.rate_limited(retry_delay=0.3), times=2)
    backend.generate(make_request())

    first, second, third = gemini_server.requests
    assert [r.status for r in gemini_server.requests] == [429, 429, 200]
    assert second.started - first.finished >= 0.3  # the server's delay, not our 0.02 s backoff
    assert third.started - second.finished >= 0.3


class Answers(Run):
    """The run, counting the answers the backend reported (Run.answered)."""

    answers = 0

    def answered(self) -> None:
        self.answers += 1
        super().answered()


def test_the_run_hears_of_each_successful_answer_as_it_arrives(gemini_env, gemini_server):
    # The run gives the call's slot to the next image then, not after parsing the answer.
    run = Answers(Settings())
    backend = GeminiBackend(Settings(), run)
    try:
        gemini_server.script(Fault.rate_limited(retry_delay=0.05), times=2)
        with run.backend_slot():
            backend.generate(make_request())
            heard = run.answers  # before the block's end gives back what is still held
    finally:
        backend.close()
    assert [r.status for r in gemini_server.requests] == [429, 429, 200]
    assert heard == 1  # the 429s were retried under the same slot


def test_retry_after_header_is_honoured_on_503(backend, gemini_server):
    gemini_server.script(Fault.server_error(503, retry_after=0.4))
    backend.generate(make_request())
    first, second = gemini_server.requests
    assert first.status == 503 and second.status == 200
    assert second.started - first.finished >= 0.4


def test_server_errors_are_bounded_by_max_attempts(gemini_env, gemini_server, monkeypatch):
    monkeypatch.setenv("MEDIAGEN_GEMINI_MAX_ATTEMPTS", "3")
    gemini_server.script(Fault.server_error(500), times=None)
    with pytest.raises(TransientError, match="500 INTERNAL"):
        GeminiBackend(Settings(), Run(Settings())).generate(make_request())
    assert len(gemini_server.requests) == 3


def test_a_delay_longer_than_the_wait_budget_gives_up_at_once(
    gemini_env, gemini_server, monkeypatch
):
    gemini_server.script(Fault.rate_limited(retry_delay=30), times=None)  # max wait is 5 s
    sleeps: list[float] = []
    run = Run(Settings())
    monkeypatch.setattr(run, "sleep", sleeps.append)  # count waits, don't take them
    with pytest.raises(TransientError) as info:
        GeminiBackend(Settings(), run).generate(make_request())
    assert sleeps == []  # gave up without waiting
    assert info.value.retry_after == 30
    assert len(gemini_server.requests) == 1


def test_timeouts_are_retried(gemini_env, gemini_server, monkeypatch):
    monkeypatch.setenv("MEDIAGEN_GEMINI_TIMEOUT", "0.3")
    gemini_server.script(Fault.slow(1.0))
    result = GeminiBackend(Settings(), Run(Settings())).generate(make_request())
    assert result.data and len(gemini_server.requests) == 2


def test_connection_refused_is_transient(gemini_env, monkeypatch):
    gone = FakeGeminiServer()
    url = gone.base_url
    gone.stop()  # nothing listens there any more
    monkeypatch.setenv("MEDIAGEN_GEMINI_BASE_URL", url)
    monkeypatch.setenv("MEDIAGEN_GEMINI_MAX_ATTEMPTS", "2")
    with pytest.raises(TransientError, match="ConnectError"):
        GeminiBackend(Settings(), Run(Settings())).generate(make_request())


def test_bad_request_is_not_retried(backend, gemini_server):
    gemini_server.script(Fault.error(400, "Unsupported aspect ratio"))
    with pytest.raises(PermanentError, match="400 INVALID_ARGUMENT") as info:
        backend.generate(make_request(fallback=(PRO,)))
    assert not isinstance(info.value, AuthError)
    assert len(gemini_server.requests) == 1


@pytest.mark.parametrize("fault", [Fault.bad_key(400), Fault.bad_key(401), Fault.bad_key(403)])
def test_bad_key_answers_are_auth_errors_without_the_key(backend, gemini_server, fault):
    gemini_server.script(fault)
    with pytest.raises(AuthError) as info:
        backend.generate(make_request(fallback=(PRO,)))
    assert len(gemini_server.requests) == 1
    assert TEST_KEY not in str(info.value) and TEST_KEY not in repr(info.value)


def test_fallback_on_model_not_found(backend, gemini_server):
    gemini_server.script(Fault.model_not_found(), model="gemini-9-image")
    result = backend.generate(make_request(model="gemini-9-image", fallback=(FLASH,)))
    assert result.model == FLASH and result.metadata["fallback_from"] == "gemini-9-image"
    assert [r.model for r in gemini_server.requests] == ["gemini-9-image", FLASH]


def test_fallback_after_retries_on_capacity_errors(gemini_env, gemini_server, monkeypatch):
    monkeypatch.setenv("MEDIAGEN_GEMINI_MAX_ATTEMPTS", "2")
    gemini_server.script(Fault.rate_limited(retry_delay=0.05), times=None, model=PRO)
    backend = GeminiBackend(Settings(), Run(Settings()))
    result = backend.generate(make_request(model=PRO, fallback=(FLASH,)))
    assert result.model == FLASH
    assert [r.model for r in gemini_server.requests] == [PRO, PRO, FLASH]


def test_last_model_of_the_chain_failing_raises(backend, gemini_server):
    gemini_server.script(Fault.model_not_found(), times=None)
    with pytest.raises(ModelUnavailableError, match="404"):
        backend.generate(make_request(model=PRO, fallback=(FLASH,)))
    assert len(gemini_server.requests) == 2


def _run_concurrently(backend: GeminiBackend, count: int) -> None:
    threads = [
        threading.Thread(target=backend.generate, args=(make_request(f"image {i}"),))
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)  # a did-not-hang bound; the tests count requests


def test_requests_per_minute_are_paced(gemini_env, gemini_server, monkeypatch):
    run = Run(Settings(), rate_limits={FLASH: RateLimit(requests_per_minute=300)})  # 1 / 0.2 s
    # The limiter's own schedule: the clock it read and the wait it then took, per
    # request. Any clock read outside the limiter (arrival at the server, a timestamp
    # after the slot) also carries thread scheduling, which a loaded machine stretches
    # for one request and not the next: gaps seen there can be shorter than the pace.
    clock_read = threading.local()
    starts: list[float] = []
    real_sleep = StopFlag.sleep

    class Clock:
        @staticmethod
        def monotonic() -> float:
            clock_read.now = time.monotonic()
            return clock_read.now

    def sleep(flag: StopFlag, seconds: float) -> None:
        starts.append(clock_read.now + seconds)
        real_sleep(flag, seconds)  # the requests really wait: the server sees them paced

    monkeypatch.setattr(ratelimit, "time", Clock)
    monkeypatch.setattr(StopFlag, "sleep", sleep)
    _run_concurrently(GeminiBackend(Settings(), run), 6)
    assert len(gemini_server.requests) == 6 and len(starts) == 6
    gaps = [b - a for a, b in itertools.pairwise(sorted(starts))]
    assert min(gaps) >= 0.2 - 1e-6  # never faster than the limit, whatever the thread count


def test_max_concurrency_per_model(gemini_env, gemini_server, monkeypatch):
    monkeypatch.setenv("MEDIAGEN_RATE_LIMITS", '{"*": {"max_concurrency": 2}}')
    gemini_server.script(Fault.slow(0.2), times=None)
    settings = Settings()
    _run_concurrently(GeminiBackend(settings, Run(settings)), 6)
    assert len(gemini_server.requests) == 6
    assert gemini_server.max_in_flight == 2


def test_spec_rate_limits_win_over_settings() -> None:
    spec_limits = {FLASH: RateLimit(max_concurrency=1)}
    settings_limits = {"*": RateLimit(requests_per_minute=10, max_concurrency=4)}
    limit = ratelimit.resolve_limit(FLASH, spec_limits, settings_limits)
    assert limit == RateLimit(requests_per_minute=10, max_concurrency=1)


def test_no_key_is_a_configuration_error(workspace, monkeypatch):
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY"):
        GeminiBackend.check_configuration(Settings())
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY"):
        GeminiBackend(Settings(), Run(Settings()))


def test_imagen_is_rejected_when_the_spec_is_expanded(gemini_env):
    spec = parse_spec(
        {
            "name": "imagen",
            "images": [{"id": "a", "prompt": "x", "model": ["imagen-4.0-generate-001", FLASH]}],
        }
    )
    with pytest.raises(SpecError, match=r"shut down on 2026-08-17; use 'gemini-3.1-flash-image'"):
        expand_spec(spec, Settings())


def test_pricing_can_be_overridden_in_settings(gemini_env, monkeypatch):
    monkeypatch.setenv(
        "MEDIAGEN_GEMINI_PRICING",
        '{"gemini-3.1-flash-image": {"input_per_million": 0, "output_image_per_million": 10,'
        ' "image_tokens": {"2K": 1000}, "thinking_tokens": 0}}',
    )
    assert GeminiBackend.estimate_cost(make_request(), Settings()) == pytest.approx(0.01)
