"""The generate-media flow with the gemini backend: real Prefect engine, real google-genai SDK,
the local fake Gemini server on 127.0.0.1, a local bucket."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from flows.run import run_flow
from mediagen.errors import BudgetExceededError, ConfigurationError
from mediagen.testing import Fault
from tests.support.gemini import TEST_KEY
from tests.support.prefect_records import server_side

pytestmark = pytest.mark.usefixtures("prefect_server")

FLASH = "gemini-3.1-flash-image"
PRO = "gemini-3-pro-image"
# A 2K image and the model's thinking (see gemini_catalogue); prompts add a little.
FLASH_IMAGE_USD = 1680 * 60.0 / 1e6 + 150 * 3.0 / 1e6


def spec(images: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "gem", "backend": "gemini", "images": images, **extra}


def images(count: int, **options: Any) -> list[dict[str, Any]]:
    return [{"id": f"img-{i}", "prompt": f"savings goal number {i}", "size": "thumbnail",
             **options} for i in range(count)]  # fmt: skip


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {record.levelname} {text}")


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every log record of mediagen, Prefect and the SDK (all propagate to the root logger)."""
    handler = _Collect()
    root = logging.getLogger()
    verbose = [logging.getLogger(n) for n in ("mediagen", "prefect", "google_genai")]
    levels = [lg.level for lg in verbose]
    root.addHandler(handler)
    for lg in verbose:
        lg.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    for lg, level in zip(verbose, levels, strict=True):
        lg.setLevel(level)


def bucket_file(workspace: Path, key: str) -> Path:
    return workspace / "bucket" / key


def test_outcomes_usage_cost_and_no_key_anywhere(gemini_env, workspace, logs, capfd):
    gemini = gemini_env
    gemini.script(Fault.prompt_blocked("PROHIBITED_CONTENT", "not allowed"), match="[[deny]]")
    gemini.script(Fault.finish("IMAGE_SAFETY", "unsafe picture"), match="[[unsafe]]")
    gemini.script(Fault.text_only("words only"), match="[[text]]")
    gemini.script(Fault.thought_image(), match="[[thought]]")
    manifest = run_flow(spec([
        {"id": "ok", "prompt": "a jar of coins", "size": "social_landscape", "formats": ["webp"]},
        {"id": "thought", "prompt": "a house [[thought]]", "size": "thumbnail"},
        {"id": "deny", "prompt": "x [[deny]]"},
        {"id": "unsafe", "prompt": "y [[unsafe]]"},
        {"id": "text", "prompt": "z [[text]]"},
    ]))  # fmt: skip

    entries = manifest.images
    ok = entries["ok"]
    assert ok.status == "ok" and ok.model == FLASH and ok.backend == "gemini" and ok.ai_generated
    with Image.open(bucket_file(workspace, ok.key)) as image:
        assert image.size == (1200, 630) and image.format == "WEBP"  # exact size in processing
    assert ok.usage["image_tokens"] == 1680
    assert ok.cost_usd == pytest.approx(FLASH_IMAGE_USD, rel=0.01)
    assert entries["thought"].status == "ok"
    # Answers without an image were paid for too: an IMAGE_SAFETY refusal reports its image
    # tokens, a prompt block its prompt, a text-only answer its text. Each is charged once.
    assert entries["unsafe"].cost_usd > FLASH_IMAGE_USD * 0.9
    assert 0 < entries["deny"].cost_usd < 0.001 and 0 < entries["text"].cost_usd < 0.001
    paid = sum(e.cost_usd for e in entries.values())
    assert manifest.cost_usd == pytest.approx(paid) == manifest.total_cost_usd
    assert manifest.unknown_cost == []
    assert (entries["deny"].status, entries["deny"].blocked_reason) == (
        "blocked",
        "PROHIBITED_CONTENT",
    )
    assert entries["deny"].blocked_message == "not allowed"
    assert (entries["unsafe"].status, entries["unsafe"].blocked_reason) == (
        "blocked",
        "IMAGE_SAFETY",
    )
    assert entries["unsafe"].blocked_message == "unsafe picture"
    assert entries["text"].status == "failed" and "text and no image" in entries["text"].error
    for marker in ("[[deny]]", "[[unsafe]]", "[[text]]"):
        assert len(gemini.requests_for(marker)) == 1  # never retried

    # The key went to the server in its header, and nowhere else.
    assert {r.api_key for r in gemini.requests} == {TEST_KEY}
    seen = server_side(manifest)
    out, err = capfd.readouterr()
    stored = [p for p in (workspace / "bucket").rglob("*") if p.is_file()]
    places = {
        "manifest": bucket_file(workspace, "gem/manifest.json").read_text(),
        "bucket": "".join(p.read_bytes().decode("latin-1") for p in stored),
        "local logs": "\n".join(logs),
        "output": out + err,
        **{k: "\n".join(v) if isinstance(v, list) else v for k, v in seen.items()},
    }
    assert seen["artifacts"] and seen["logs"]
    for where, text in places.items():
        assert TEST_KEY not in text, where


def test_429_storm_is_ridden_out_with_the_servers_delays(gemini_env):
    gemini_env.script(Fault.rate_limited(retry_delay=0.4), times=8)
    manifest = run_flow(spec(images(6)), concurrency=6)

    assert manifest.counts["ok"] == 6
    assert sum(r.status == 429 for r in gemini_env.requests) == 8
    for i in range(6):
        tries = gemini_env.requests_for(f"number {i}.")
        for before, after in itertools.pairwise(tries):
            assert before.status == 429
            assert after.started - before.finished >= 0.4  # RetryInfo honoured
        assert tries[-1].status == 200


def test_bad_key_aborts_the_run_fast_with_one_message(gemini_env, monkeypatch, logs):
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-wrong-key-0000")
    manifest = run_flow(spec(images(24)), concurrency=4)

    # "Fast" is a count, not a stopwatch (a loaded machine stretches any time): only the
    # calls already in flight reached the server, and no retry of the refused key.
    assert len(gemini_env.requests) <= 4
    assert manifest.run_aborted and "API_KEY_INVALID" in manifest.run_aborted
    assert manifest.counts["failed"] == 24
    errors = [line for line in logs if " ERROR " in line]
    assert sum("Run aborted" in line for line in errors) == 1
    assert not [line for line in errors if line.split(" ", 2)[-1].startswith("Image ")]
    assert "AIza-wrong-key-0000" not in "\n".join(logs) + manifest.model_dump_json()


def test_budget_refuses_to_start_when_the_estimate_is_over(gemini_env, workspace):
    with pytest.raises(BudgetExceededError, match="exceeds budget_usd"):
        run_flow(spec(images(3), budget_usd=0.05))
    assert gemini_env.requests == []
    assert not bucket_file(workspace, "gem/manifest.json").exists()


def test_budget_stops_new_generations_and_publishes_what_was_paid(gemini_env, workspace):
    # The plan is priced on the first model; the chain makes every image cost the pro price.
    gemini_env.script(Fault.server_error(503), model=FLASH, times=None)
    chain = {"model": [FLASH, PRO], "quality": "fast"}  # flash 512 px, pro 1K
    manifest = run_flow(spec(images(5, **chain), budget_usd=0.3), concurrency=1)

    statuses = [e.status for e in manifest.images.values()]
    assert statuses.count("ok") == 2 and statuses.count("skipped") == 3
    assert len([r for r in gemini_env.requests if r.status == 200]) == 2
    assert manifest.cost_usd <= 0.3 and manifest.budget_usd == 0.3
    for entry in manifest.images.values():
        if entry.status == "ok":
            assert entry.model == PRO and bucket_file(workspace, entry.key).is_file()
        else:
            assert "budget_usd" in entry.error
    again = run_flow(spec(images(5, **chain), budget_usd=0.3), concurrency=1)
    assert again.counts["plan_retry"] == 3  # skipped images are made by a later run


def test_explicit_gemini_without_key_fails_before_any_work(gemini_env, workspace, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY"):
        run_flow(spec(images(2)))
    assert gemini_env.requests == []
    # Nothing written: the spec's lease, taken before planning, is freed again.
    assert not [p for p in (workspace / "bucket").rglob("*") if p.is_file()]


def test_rate_limit_and_global_concurrency_limit_named_after_the_model(gemini_env):
    from prefect import get_client

    limits = {PRO: {"requests_per_minute": 300}}  # one request per 0.2 s
    manifest = run_flow(spec(images(4, model=PRO), rate_limits=limits), concurrency=4)

    assert manifest.counts["ok"] == 4
    starts = sorted(r.started for r in gemini_env.requests)
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.18
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(PRO)
    assert limit.limit == 1 and limit.slot_decay_per_second == pytest.approx(5.0)


def test_fallback_chain_records_the_model_that_made_the_image(gemini_env):
    gemini_env.script(Fault.model_not_found(), model=PRO, times=None)
    manifest = run_flow(spec([{"id": "a", "prompt": "a bike", "model": [PRO, FLASH]}]))
    assert manifest.images["a"].status == "ok" and manifest.images["a"].model == FLASH
    assert [r.model for r in gemini_env.requests] == [PRO, FLASH]
    attempts = [(a.model, a.outcome) for a in manifest.images["a"].attempts]
    assert attempts == [(PRO, "unavailable"), (FLASH, "ok")]
    assert "404" in manifest.images["a"].attempts[0].reason


def test_key_from_a_prefect_secret_block(gemini_env, monkeypatch):
    from prefect.blocks.system import Secret

    Secret(value=TEST_KEY).save("mediagen-test-gemini-key", overwrite=True)
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.delenv("MEDIAGEN_BACKEND")  # auto: a named secret counts as a key
    monkeypatch.setenv("MEDIAGEN_GEMINI_API_KEY_BLOCK", "mediagen-test-gemini-key")
    s = spec([{"id": "a", "prompt": "a bike"}])
    del s["backend"]
    manifest = run_flow(s)
    assert manifest.images["a"].status == "ok" and manifest.images["a"].backend == "gemini"
    assert [r.api_key for r in gemini_env.requests] == [TEST_KEY]
    assert TEST_KEY not in manifest.model_dump_json()
