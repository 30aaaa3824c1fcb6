"""Defaults that exist, alt text that never fails a paid image, and costs that are true:
the real Prefect engine, the real google-genai SDK, the local Gemini server, a local bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flows.run import run_flow
from mediagen.backends.gemini import catalogue, pricing
from mediagen.backends.gemini.backend import GeminiBackend
from mediagen.backends.gemini.response import usage_of
from mediagen.errors import ModelUnavailableError
from mediagen.settings import Settings
from mediagen.spec import alt_text
from mediagen.testing import FakeGeminiServer, Fault
from tests.support.gemini import make_request

pytestmark = pytest.mark.usefixtures("prefect_server")

OLD_IMAGE, OLD_TEXT = "gemini-2.5-flash-image", "gemini-2.5-flash"


def spec(images: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "costs", "backend": "gemini", "images": images, **extra}


def paid_on_the_server(server: FakeGeminiServer, match: str = "") -> float:
    """What every answer the server sent cost: each model's price × the usage it reported."""
    return sum(
        pricing.cost_usd(r.model, usage_of(r.usage))
        for r in server.requests
        if r.status == 200 and match in r.prompt
    )


def test_a_spec_naming_no_model_publishes_with_auto_alt_text(gemini_env, workspace):
    # The models this project used until now answer 404, as retired models do.
    old = GeminiBackend(Settings())
    try:
        with pytest.raises(ModelUnavailableError):
            old.generate(make_request(model=OLD_IMAGE))
    finally:
        old.close()
    assert gemini_env.is_retired(OLD_IMAGE) and gemini_env.is_retired(OLD_TEXT)
    gemini_env.reset()

    manifest = run_flow(spec([
        {"id": "goal", "prompt": "a jar of coins", "size": "thumbnail", "alt_text": "auto"},
        {"id": "hero", "prompt": "a rocket of coins", "size": "hero", "alt_text": "auto"},
    ]))  # fmt: skip

    assert manifest.counts["ok"] == 2
    for entry in manifest.images.values():
        assert entry.model == catalogue.DEFAULT_IMAGE_MODEL and entry.alt_text_source == "auto"
        assert [(a.model, a.outcome) for a in entry.attempts] == [(entry.model, "ok")]
    assert {r.model for r in gemini_env.image_requests} == {catalogue.DEFAULT_IMAGE_MODEL}
    assert {r.model for r in gemini_env.text_requests} == {catalogue.DEFAULT_TEXT_MODEL}
    assert all(r.status == 200 for r in gemini_env.requests)
    # Every paid answer, images and descriptions, is in the run's cost: once.
    assert manifest.cost_usd == pytest.approx(paid_on_the_server(gemini_env))
    assert manifest.total_cost_usd == manifest.cost_usd
    assert sum(e.cost_usd for e in manifest.images.values()) == pytest.approx(manifest.cost_usd)


def test_a_failed_description_falls_back_and_says_why(gemini_env, workspace):
    gemini_env.script(Fault.error(400, "Unsupported image"), modality="text", times=None)
    manifest = run_flow(spec([{"id": "a", "prompt": "A vault door", "alt_text": "auto"}]))

    entry = manifest.images["a"]
    assert entry.status == "ok" and entry.url  # the paid image is published
    assert (entry.alt_text, entry.alt_text_source) == (
        alt_text.from_prompt(entry.prompt),
        "fallback",
    )
    assert entry.alt_text_error and "400" in entry.alt_text_error
    assert entry.cost_usd == pytest.approx(paid_on_the_server(gemini_env)) and entry.cost_usd > 0
    # Not cached as a verdict: the next processing asks again.
    assert not list((workspace / "bucket" / "costs" / "_originals").glob("*.alt-*.json"))


def test_a_retry_accounts_for_every_run_and_the_blocked_answer(gemini_env, workspace):
    gemini_env.script(Fault.finish("IMAGE_SAFETY", "unsafe"), match="[[b]]")
    images = [
        {"id": "a", "prompt": "a house", "size": "thumbnail"},
        {"id": "b", "prompt": "a car [[b]]", "size": "thumbnail"},
    ]
    first = run_flow(spec(images))
    blocked = first.images["b"]
    assert blocked.status == "blocked" and blocked.cost_usd > 0.04  # image tokens reported
    assert blocked.cost_run_id == first.run_id
    assert [(a.model, a.outcome) for a in blocked.attempts] == [
        (catalogue.DEFAULT_IMAGE_MODEL, "blocked")
    ]
    assert first.cost_usd == pytest.approx(paid_on_the_server(gemini_env))
    paid_first = first.cost_usd

    second = run_flow(spec(images))  # retries b only; a is unchanged
    assert second.counts["plan_retry"] == 1 and second.images["b"].status == "ok"
    assert second.cost_usd == pytest.approx(paid_on_the_server(gemini_env) - paid_first)
    assert second.total_cost_usd == pytest.approx(paid_on_the_server(gemini_env))
    assert second.images["a"].cost_usd == first.images["a"].cost_usd > 0  # who paid: run 1
    assert second.images["a"].cost_run_id == first.run_id


def test_an_original_made_by_an_earlier_run_keeps_its_cost(gemini_env, workspace):
    images = [{"id": "a", "prompt": "a bike", "size": "thumbnail"}]
    first = run_flow(spec(images))
    manifest_path = Path(workspace / "bucket" / "costs" / "manifest.json")
    manifest_path.unlink()  # as if the run had died before its manifest

    again = run_flow(spec(images))
    entry = again.images["a"]
    assert len(gemini_env.image_requests) == 1  # the original was reused
    assert entry.cost_usd == pytest.approx(first.images["a"].cost_usd)
    assert entry.cost_usd > 0
    assert entry.cost_run_id == first.run_id
    assert again.cost_usd == 0 and again.total_cost_usd == pytest.approx(first.cost_usd)


def test_the_plans_estimate_is_within_5_percent_of_what_the_run_pays(gemini_env, workspace):
    from bench.estimate import measure, script

    script(gemini_env)  # a block after the image was made, and a 429 retried
    result = measure()
    assert result.images == 9 and result.actual_usd > 0.5
    statuses = [r.status for r in gemini_env.requests]
    assert 429 in statuses  # the retry happened, and was not billed
    assert abs(result.error) <= 0.05, result
