"""Alt text with the gemini backend, end to end: the real Prefect engine, the real google-genai
SDK, the local fake Gemini server on 127.0.0.1 and a local bucket."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from flows.run import run_flow
from mediagen.backends.gemini import pricing
from mediagen.imaging.codec import read_alt_text
from mediagen.manifest.model import ImageEntry, Manifest
from mediagen.spec import alt_text
from mediagen.testing import Fault
from tests.support.gemini import TEST_KEY
from tests.support.web_outputs import HUMAN_ALT, exiftool

pytestmark = pytest.mark.usefixtures("prefect_server")

TEXT_MODEL = "gemini-3.1-flash-lite"
VARIANTS = {"widths": [64], "formats": ["jpeg", "webp", "avif"]}


def spec(images: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "alt", "backend": "gemini", "images": images}


def image(image_id: str, prompt: str, **options: Any) -> dict[str, Any]:
    return {"id": image_id, "prompt": prompt, "size": "thumbnail", "formats": ["png"],
            "variants": VARIANTS, **options}  # fmt: skip


def files(workspace: Path, entry: ImageEntry) -> list[Path]:
    return [workspace / "bucket" / o.key for o in entry.outputs]


def alt_records(workspace: Path) -> list[dict[str, Any]]:
    """The cached alt-text answers beside the originals."""
    found = (workspace / "bucket" / "alt" / "_originals").glob("*.alt-*.json")
    return [json.loads(p.read_text()) for p in found]


def assert_alt_in_every_file(workspace: Path, manifest: Manifest) -> None:
    """Each file's XMP holds the entry's alt text (or none): read by mediagen and by exiftool."""
    paths = {p.name: (p, e) for e in manifest.images.values() for p in files(workspace, e)}
    assert {p.suffix for p, _ in paths.values()} == {".png", ".jpg", ".webp", ".avif"}
    read = exiftool([p for p, _ in paths.values()])
    for name, (path, entry) in paths.items():
        assert read_alt_text(path.read_bytes()) == (entry.alt_text or ""), name
        assert read[name].get("AltTextAccessibility", "") == (entry.alt_text or ""), name


def test_auto_alt_text_comes_from_the_server_and_human_text_is_kept(gemini_env, workspace):
    gemini = gemini_env
    manifest = run_flow(spec([
        image("auto", "A jar of coins on a sunny windowsill", alt_text="auto"),
        image("human", "A piggy bank", alt_text=HUMAN_ALT),
        image("none", "A plain picture"),
    ]))  # fmt: skip
    auto, human, none = (manifest.images[i] for i in ("auto", "human", "none"))
    assert [e.status for e in (auto, human, none)] == ["ok"] * 3

    # One text call, for the auto image only: the published picture and its purpose.
    (ask,) = gemini.text_requests
    assert len(gemini.image_requests) == 3
    assert ask.model == TEXT_MODEL and ask.api_key == TEST_KEY
    assert ask.body["generationConfig"]["responseModalities"] == ["TEXT"]
    assert "It is used as: list and card thumbnails" in ask.prompt
    assert "A jar of coins on a sunny windowsill" in ask.prompt
    ((mime, data),) = ask.inline_data
    with Image.open(io.BytesIO(data)) as sent:
        assert mime == "image/jpeg" and sent.format == "JPEG" and sent.size == (320, 320)

    expected = "Picture for list and card thumbnails: A jar of coins on a sunny windowsill"
    assert gemini.text_for(ask.prompt) == expected
    assert (auto.alt_text, auto.alt_text_source) == (expected, "auto")
    assert (human.alt_text, human.alt_text_source) == (HUMAN_ALT, "human")
    assert (none.alt_text, none.alt_text_source) == (None, None)
    assert_alt_in_every_file(workspace, manifest)

    # The text call's price is part of the image's cost, and of the run's.
    (record,) = alt_records(workspace)
    assert record["describe_model"] == TEXT_MODEL and record["source"] == "auto"
    describe_usd = pricing.cost_usd(TEXT_MODEL, record["usage"])
    assert record["usage"]["prompt_tokens"] > 258  # the picture is counted as input
    assert auto.alt_text_cost_usd == pytest.approx(describe_usd) and describe_usd > 0
    image_usd = pricing.cost_usd(auto.model, auto.usage)
    assert auto.cost_usd == pytest.approx(image_usd + describe_usd)
    assert human.alt_text_cost_usd == 0
    assert human.cost_usd == pytest.approx(pricing.cost_usd(human.model, human.usage))
    assert manifest.cost_usd == pytest.approx(sum(e.cost_usd for e in manifest.images.values()))


def test_adding_a_rendition_asks_nothing_again(gemini_env, workspace):
    gemini = gemini_env
    first = [image("auto", "A house fund jar", alt_text="auto")]
    before = run_flow(spec(first)).images["auto"]
    assert len(gemini.text_requests) == 1 and len(gemini.image_requests) == 1
    asked = len(gemini.requests)

    wider = [{**first[0], "variants": {**VARIANTS, "widths": [64, 128]}}]
    manifest = run_flow(spec(wider))

    assert len(gemini.requests) == asked  # no image call and no text call
    entry = manifest.images["auto"]
    assert manifest.counts["plan_changed"] == 1 and len(entry.outputs) == 1 + 2 * 3
    assert (entry.alt_text, entry.alt_text_source) == (before.alt_text, "auto")
    # Nothing was paid this run; the image still says what it cost, and who paid.
    assert manifest.cost_usd == 0 and manifest.total_cost_usd == pytest.approx(before.cost_usd)
    assert entry.cost_usd == pytest.approx(before.cost_usd) and entry.cost_usd > 0
    assert entry.alt_text_cost_usd == pytest.approx(before.alt_text_cost_usd)
    assert entry.cost_run_id == before.run_id != manifest.run_id
    assert_alt_in_every_file(workspace, manifest)  # the new 128 px files too


def test_a_refused_description_falls_back_without_failing_the_image(gemini_env, workspace):
    gemini = gemini_env
    gemini.script(Fault.prompt_blocked("PROHIBITED_CONTENT"), modality="text", match="[[a]]")
    gemini.script(Fault.finish("SAFETY", "unsafe"), modality="text", match="[[b]]")
    images = [
        image("a", "A vault door. [[a]]", alt_text="auto"),
        image("b", "A stack of bills. [[b]]", alt_text="auto"),
    ]
    manifest = run_flow(spec(images))

    assert manifest.counts["ok"] == 2 and manifest.counts["blocked"] == 0
    for image_id, marker in (("a", "[[a]]"), ("b", "[[b]]")):
        entry = manifest.images[image_id]
        assert entry.status == "ok" and entry.blocked_reason is None
        assert entry.alt_text == alt_text.from_prompt(entry.prompt)
        assert entry.alt_text_source == "fallback" and entry.alt_text_cost_usd == 0
        texts = [r for r in gemini.requests_for(marker) if r.is_text]
        assert [r.outcome for r in texts] == [
            "block PROHIBITED_CONTENT" if image_id == "a" else "finish SAFETY"
        ]  # refused once, never retried
    assert_alt_in_every_file(workspace, manifest)

    # The refusal is remembered with the image: a new rendition does not ask again.
    asked = len(gemini.requests)
    wider = [{**i, "variants": {**VARIANTS, "widths": [64, 128]}} for i in images]
    again = run_flow(spec(wider))
    assert len(gemini.requests) == asked
    assert {e.alt_text_source for e in again.images.values()} == {"fallback"}


def test_a_bad_key_on_the_text_call_aborts_the_run(gemini_env, workspace):
    gemini_env.script(Fault.bad_key(), modality="text")
    manifest = run_flow(spec([image("auto", "A coin", alt_text="auto")]))

    # The image was made and paid for: it is published with the fallback text and the
    # reason; the run stops all the same (no further call would be accepted).
    entry = manifest.images["auto"]
    assert entry.status == "ok" and entry.alt_text_source == "fallback"
    assert "API_KEY_INVALID" in (entry.alt_text_error or "")
    assert manifest.run_aborted and "API_KEY_INVALID" in manifest.run_aborted
    assert len(gemini_env.text_requests) == 1  # not retried by the backend or by Prefect
    assert TEST_KEY not in manifest.model_dump_json()


def test_alt_text_past_the_budget_falls_back_and_is_asked_later(gemini_env, workspace):
    # One fast 512 flash image (~$0.0453) fits $0.046; its alt-text call (~$0.0012) does not.
    one = image("auto", "A coin", alt_text="auto", quality="fast")
    limited = {**spec([one]), "budget_usd": 0.046}
    entry = run_flow(limited).images["auto"]

    assert entry.status == "ok" and gemini_env.text_requests == []
    assert (entry.alt_text, entry.alt_text_source) == (alt_text.from_prompt("A coin"), "fallback")
    assert alt_records(workspace) == []  # not remembered: not a verdict on the image

    wider = {**limited, "budget_usd": 1.0}
    wider["images"][0]["variants"] = {**VARIANTS, "widths": [64, 128]}
    again = run_flow(wider).images["auto"]
    assert len(gemini_env.text_requests) == 1 and len(gemini_env.image_requests) == 1
    assert again.alt_text_source == "auto" and again.alt_text_cost_usd > 0
