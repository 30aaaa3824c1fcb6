"""``delivery: flex`` on the gemini backend: the real SDK sends the Flex tier over HTTP to
the local server, the answer is billed at the flex price, flex gets its own timeout and
retry bounds, and models without flex are refused before any request."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mediagen.backends.gemini import catalogue, pricing
from mediagen.backends.gemini.backend import GeminiBackend
from mediagen.engine.run import Run
from mediagen.errors import BlockedError, SpecError, TransientError
from mediagen.plan.jobs import expand_spec
from mediagen.settings import Settings
from mediagen.spec.models import parse_spec
from mediagen.testing import FakeGeminiServer, Fault
from tests.support.gemini import make_request

FLASH = "gemini-3.1-flash-image"
LITE = "gemini-3.1-flash-lite-image"


@pytest.fixture
def backend(gemini_env: FakeGeminiServer) -> GeminiBackend:
    client = GeminiBackend(Settings(), Run(Settings()))
    yield client
    client.close()


def flex_request(**kwargs: object):
    return dataclasses.replace(make_request(**kwargs), delivery="flex")


def standard_cost(usage: dict[str, int]) -> float:
    return pricing.cost_usd(FLASH, usage)


def test_flex_sends_the_service_tier_and_records_half_the_price(backend, gemini_server):
    result = backend.generate(flex_request())

    (sent,) = gemini_server.requests
    assert sent.service_tier == "flex"  # what the SDK put on the wire
    assert sent.body["serviceTier"] == "flex"  # top level of the body, as the REST API takes it
    assert result.metadata["delivery"] == "flex"
    assert result.usage["image_tokens"] == 1680
    assert result.cost_usd == pytest.approx(standard_cost(result.usage) * 0.5)
    assert result.cost_usd > 0


def test_a_sync_request_names_no_tier_and_pays_the_standard_price(backend, gemini_server):
    result = backend.generate(make_request())
    (sent,) = gemini_server.requests
    assert sent.service_tier == "" and "serviceTier" not in sent.body
    assert result.metadata["delivery"] == "sync"
    assert result.cost_usd == pytest.approx(standard_cost(result.usage))


def test_an_answer_served_at_the_standard_tier_is_billed_at_the_standard_price(
    backend, gemini_server
):
    # The answer says how it was served: that decides the price, not what was asked.
    served = {
        "promptTokenCount": 10,
        "candidatesTokenCount": 1120,
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
        "serviceTier": "STANDARD",
    }
    gemini_server.script(Fault("image", usage=served))
    result = backend.generate(flex_request())
    assert result.metadata["delivery"] == "sync"
    assert result.cost_usd == pytest.approx(10 * 0.5 / 1e6 + 1120 * 60 / 1e6)


def test_a_blocked_flex_answer_is_billed_at_the_flex_price(backend, gemini_server):
    gemini_server.script(Fault.finish("IMAGE_SAFETY", "unsafe"))
    with pytest.raises(BlockedError) as info:
        backend.generate(flex_request())
    usage = info.value.usage
    assert usage and info.value.cost_usd == pytest.approx(standard_cost(usage) * 0.5)


def test_flex_has_its_own_longer_timeout(gemini_env, gemini_server, monkeypatch):
    # A 2 s answer: past the sync timeout (1 s), within the flex one (30 s).
    monkeypatch.setenv("MEDIAGEN_GEMINI_TIMEOUT", "1")
    monkeypatch.setenv("MEDIAGEN_GEMINI_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("MEDIAGEN_GEMINI_FLEX_TIMEOUT", "30")
    gemini_server.script(Fault.slow(2.0), times=2)
    client = GeminiBackend(Settings(), Run(Settings()))
    try:
        with pytest.raises(TransientError):
            client.generate(make_request())  # sync: timed out
        result = client.generate(flex_request())  # flex: waited for it
    finally:
        client.close()
    assert result.metadata["delivery"] == "flex"
    assert [r.service_tier for r in gemini_server.requests] == ["", "flex"]


def test_flex_retries_a_shed_request_with_its_own_bounds(gemini_env, gemini_server, monkeypatch):
    # Sync gives up at once (max_wait 0); flex keeps asking within its own window.
    monkeypatch.setenv("MEDIAGEN_GEMINI_MAX_WAIT", "0")
    monkeypatch.setenv("MEDIAGEN_GEMINI_FLEX_MAX_WAIT", "30")
    monkeypatch.setenv("MEDIAGEN_GEMINI_FLEX_RETRY_BASE_DELAY", "0.01")
    client = GeminiBackend(Settings(), Run(Settings()))
    try:
        gemini_server.script(Fault.server_error(503), times=2)
        with pytest.raises(TransientError):
            client.generate(make_request())
        assert len(gemini_server.requests) == 1
        gemini_server.reset()
        gemini_server.script(Fault.server_error(503), times=2)
        result = client.generate(flex_request())
    finally:
        client.close()
    assert [r.status for r in gemini_server.requests] == [503, 503, 200]
    assert result.metadata["delivery"] == "flex"


def test_the_local_server_refuses_flex_for_a_model_without_it(gemini_server):
    # What the real API would do if it were sent: the backend never sends it (below).
    status, body, *_ = gemini_server.answer(
        LITE, {"contents": [], "serviceTier": "flex"}, gemini_server.api_key
    )
    assert status == 400 and "flex" in json.dumps(body)


def test_validate_refuses_flex_on_the_lite_image_model_naming_the_image(gemini_env, gemini_server):
    spec = parse_spec(
        {
            "name": "flexy",
            "backend": "gemini",
            "defaults": {"delivery": "flex"},
            "images": [
                {"id": "ok", "prompt": "a coin"},
                {"id": "lite-one", "prompt": "a jar", "model": LITE},
                {"id": "chained", "prompt": "a jar", "model": [FLASH, LITE]},
                {"id": "lite-sync", "prompt": "a jar", "model": LITE, "delivery": "sync"},
            ],
        }
    )
    with pytest.raises(SpecError) as info:
        expand_spec(spec, Settings())
    problems = info.value.problems
    assert len(problems) == 2, problems
    assert problems[0].startswith("images[1] (lite-one): model 'gemini-3.1-flash-lite-image'")
    assert "Flex tier" in problems[0] and "delivery: sync" in problems[0]
    assert problems[1].startswith("images[2] (chained):")
    assert gemini_server.requests == []  # refused before any request


def test_the_catalogue_says_which_models_take_batch_and_flex() -> None:
    assert catalogue.lookup(FLASH).flex and catalogue.lookup(FLASH).batch
    assert catalogue.lookup("gemini-3-pro-image").flex
    lite = catalogue.lookup(LITE)
    assert lite.batch and not lite.flex
    assert catalogue.delivery_problem(LITE, "flex") is not None
    assert catalogue.delivery_problem(LITE, "batch") is None
    assert catalogue.delivery_problem("some-new-model", "flex") is None  # Google decides
    assert catalogue.delivery_problem("imagen-4.0-generate-001", "batch") is not None


def test_estimates_and_catalogue_prices_are_half_for_batch_and_flex() -> None:
    settings = Settings(_env_file=None)
    sync = GeminiBackend.estimate_cost(make_request(), settings)
    flex = GeminiBackend.estimate_cost(flex_request(), settings)
    batch = GeminiBackend.estimate_cost(
        dataclasses.replace(make_request(), delivery="batch"), settings
    )
    assert flex == pytest.approx(sync / 2) and batch == pytest.approx(sync / 2)
    [row] = [r for r in GeminiBackend.catalogue(settings).records if r["id"] == FLASH]
    assert row["deliveries"] == ["sync", "batch", "flex"]
    assert row["flex_usd_per_image"]["1K"] == pytest.approx(1120 * 60 / 1e6 / 2, abs=1e-6)
    [lite] = [r for r in GeminiBackend.catalogue(settings).records if r["id"] == LITE]
    assert lite["deliveries"] == ["sync", "batch"] and lite["flex_usd_per_image"] == {}


def test_a_price_correction_can_change_the_flex_factor_alone(monkeypatch) -> None:
    monkeypatch.setenv("MEDIAGEN_GEMINI_PRICING", json.dumps({FLASH: {"flex_factor": 0.75}}))
    settings = Settings(_env_file=None)
    sync = GeminiBackend.estimate_cost(make_request(), settings)
    assert GeminiBackend.estimate_cost(flex_request(), settings) == pytest.approx(sync * 0.75)
    batch = dataclasses.replace(make_request(), delivery="batch")
    assert GeminiBackend.estimate_cost(batch, settings) == pytest.approx(sync * 0.5)


def test_offline_refuses_flex_on_a_model_without_it_as_production_would() -> None:
    # No key, offline renderer: the spec still fails where it would fail with Gemini.
    spec = parse_spec(
        {
            "name": "offline-flex",
            "backend": "offline",
            "images": [{"id": "lite", "prompt": "a jar", "model": LITE, "delivery": "flex"}],
        }
    )
    with pytest.raises(SpecError) as info:
        expand_spec(spec, Settings(_env_file=None))
    assert "images[0] (lite)" in info.value.problems[0]
    ok = parse_spec({**spec.model_dump(), "images": [{"id": "x", "prompt": "a jar",
                                                      "delivery": "flex"}]})  # fmt: skip
    [job] = expand_spec(ok, Settings(_env_file=None))
    assert job.delivery == "flex" and job.backend == "offline"
