"""The Gemini model catalogue: lifecycle judged by date, prices and estimates read from it,
retired models refused by `validate` whatever the environment, and `mediagen models`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mediagen.backends.gemini import catalogue, pricing
from mediagen.backends.gemini.backend import GeminiBackend, image_size_for, nearest_aspect_ratio
from mediagen.cli.app import app
from mediagen.settings import Settings
from tests.support.gemini import make_request

FLASH, PRO, LITE = "gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-3.1-flash-lite-image"


def test_defaults_are_ga_and_have_no_shutdown_before_today() -> None:
    image = catalogue.lookup(catalogue.DEFAULT_IMAGE_MODEL)
    text = catalogue.lookup(catalogue.DEFAULT_TEXT_MODEL)
    assert image is not None and image.kind == "image" and image.status_on() == "ga"
    assert text is not None and text.kind == "text" and text.status_on() == "ga"
    assert GeminiBackend.default_model == catalogue.DEFAULT_IMAGE_MODEL
    assert GeminiBackend.own_settings(Settings()).describe_model == catalogue.DEFAULT_TEXT_MODEL
    # The models this project used until now are past their shutdown dates.
    for old in ("gemini-2.5-flash-image", "gemini-2.5-flash", "gemini-3-pro-image-preview"):
        assert catalogue.lookup(old).status_on(date(2026, 11, 29)) == "retired"  # type: ignore[union-attr]


def test_lifecycle_is_judged_by_date() -> None:
    info = catalogue.lookup("gemini-3.1-flash-lite")
    assert info is not None
    assert info.status_on(date(2027, 5, 6)) == "ga"
    assert info.status_on(date(2027, 5, 7)) == "retired"
    old = catalogue.lifecycle("gemini-2.5-flash-image", date(2026, 9, 1))
    assert old.level == "warning" and "shuts down on 2026-10-02" in old.message
    assert "'gemini-3.1-flash-image'" in old.message  # the replacement is named
    gone = catalogue.lifecycle("gemini-2.5-flash-image", date(2026, 10, 2))
    assert gone.level == "error" and "shut down on 2026-10-02" in gone.message
    assert catalogue.lifecycle("imagen-3.0").level == "error"  # any Imagen id
    assert catalogue.lifecycle("models/gemini-3-pro-image").level == "ok"
    assert catalogue.lifecycle("gemini-9-image").level == "ok"  # unknown: allowed, unpriced


def test_every_record_says_where_its_facts_come_from() -> None:
    for info in catalogue.MODELS:
        assert info.source and info.checked == catalogue.CHECKED, info.id
        if info.kind == "image" and not info.id.startswith("imagen"):
            assert info.sizes and info.aspect_ratios, info.id


def test_prices_per_size_thinking_and_the_512_size() -> None:
    # 3.1 Flash Image: $60 per 1M image tokens; 512 = 747 tokens, 4K = 2520.
    assert pricing.image_price_usd(FLASH, "512") == pytest.approx(0.04482)
    assert pricing.image_price_usd(FLASH, "4K") == pytest.approx(0.1512)
    assert pricing.image_price_usd(FLASH, "4K", batch=True) == pytest.approx(0.0756)
    assert pricing.image_price_usd(PRO, "2K") == pytest.approx(0.1344)
    assert pricing.image_price_usd(LITE, "1K") == pytest.approx(0.0336)
    # An unknown size is priced at the model's dearest size, never at zero.
    assert pricing.image_price_usd(FLASH, "8K") == pytest.approx(0.1512)
    # Thinking tokens are billed as text output, on top of the image.
    usage = {"prompt_tokens": 100, "candidates_tokens": 747, "image_tokens": 747}
    plain = pricing.cost_usd(FLASH, usage)
    thinking = pricing.cost_usd(FLASH, {**usage, "thoughts_tokens": 225})
    assert plain == pytest.approx(100 * 0.5e-6 + 747 * 60e-6)
    assert thinking - plain == pytest.approx(225 * 3e-6)


def test_512_is_asked_for_small_fast_images_on_models_that_make_it() -> None:
    small = make_request(width=320, height=320, image_size="1K")
    assert image_size_for(FLASH, small) == "512"
    assert image_size_for(PRO, small) == "1K"  # no 512 on Pro
    assert image_size_for(LITE, small) is None  # one fixed size: imageSize is a 400
    assert image_size_for(FLASH, make_request(width=1024, height=1024, image_size="1K")) == "1K"
    estimate = GeminiBackend.estimate_cost(small, Settings())
    assert 0.0448 < estimate < 0.046  # priced as a 512 image, not the dearest size


def test_extreme_aspect_ratios_only_where_the_model_has_them() -> None:
    flash = catalogue.lookup(FLASH).aspect_ratios  # type: ignore[union-attr]
    assert nearest_aspect_ratio(1920, 240, flash) == "8:1"
    assert nearest_aspect_ratio(300, 1200, flash) == "1:4"
    assert nearest_aspect_ratio(1920, 240) == "21:9"  # the common ten


def test_a_price_correction_changes_only_the_fields_it_names(monkeypatch) -> None:
    monkeypatch.setenv(
        "MEDIAGEN_GEMINI_PRICING", json.dumps({PRO: {"output_image_per_million": 100}})
    )
    overrides = GeminiBackend.own_settings(Settings()).pricing
    corrected = pricing.price_for(PRO, overrides)
    assert corrected is not None
    assert corrected.output_image_per_million == 100 and corrected.input_per_million == 2.0
    assert corrected.image_tokens == {"1K": 1120, "2K": 1120, "4K": 2000}


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "MEDIAGEN_GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEDIAGEN_BACKEND", "auto")  # offline: no key
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _spec(path: Path, model: object) -> Path:
    spec = {"name": "m", "images": [{"id": "a", "prompt": "a jar", "model": model}]}
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize(
    ("model", "replacement"),
    [
        ("imagen-3.0", "gemini-3.1-flash-image"),
        ("gemini-2.5-flash-image", "gemini-3.1-flash-image"),
        (["gemini-3-pro-image-preview", FLASH], "gemini-3-pro-image"),
    ],
)
def test_validate_refuses_a_retired_model_without_a_key(offline, model, replacement) -> None:
    result = CliRunner().invoke(app, ["validate", str(_spec(offline / "s.yaml", model))])
    assert result.exit_code == 2
    assert "shut down" in result.output and repr(replacement) in result.output
    assert "Traceback" not in result.output


def test_validate_accepts_the_current_models(offline) -> None:
    result = CliRunner().invoke(app, ["validate", str(_spec(offline / "s.yaml", [PRO, FLASH]))])
    assert result.exit_code == 0, result.output


def test_models_lists_the_catalogue_as_a_table_and_as_json(
    offline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediagen.cli import models

    # A fixed width: what rich finds for the terminal depends on how pytest runs (-n 2 or not).
    monkeypatch.setattr(models.console, "width", 240)
    table = CliRunner().invoke(app, ["models"])
    assert table.exit_code == 0
    assert f"{FLASH} (default)" in table.output and "512 0.045" in table.output
    assert "gemini-2.5-flash-image" not in table.output  # shut down: only with --all
    data = json.loads(CliRunner().invoke(app, ["models", "--json"]).output)
    by_id = {m["id"]: m for m in data["models"]}
    assert by_id[FLASH]["usd_per_image"] == {"512": 0.04482, "1K": 0.0672, "2K": 0.1008,
                                              "4K": 0.1512}  # fmt: skip
    assert by_id[FLASH]["batch_usd_per_image"]["1K"] == pytest.approx(0.0336)
    assert by_id["gemini-2.5-flash-image"]["status"] == "retired"
    assert by_id[LITE]["image_size_param"] is False and data["checked"] == catalogue.CHECKED
