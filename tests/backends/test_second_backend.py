"""A second keyed backend, registered at runtime, is served by the core as the built-in
one is: its key need and its missing prices are reported by preflight, 'auto' picks it
when its key is set, its key is redacted, its retry bound and catalogue are asked for:
all without a line of core code naming it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from typer.testing import CliRunner

from mediagen import backends
from mediagen.backends.base import GenerationRequest, ModelCatalogue
from mediagen.backends.offline import OfflineBackend
from mediagen.cli.app import app
from mediagen.errors import ConfigurationError
from mediagen.plan import preflight
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import expand_spec
from mediagen.settings import Settings, get_settings
from mediagen.spec.models import parse_spec

KEY = "kv-FAKE-second-backend-key-42"
PRICED = {"kv-pixel-1": 0.02}


class KeyvaultSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MEDIAGEN_KEYVAULT_", extra="ignore", populate_by_name=True
    )

    api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("KEYVAULT_API_KEY", "MEDIAGEN_KEYVAULT_API_KEY")
    )
    max_wait: float = 240.0


class KeyvaultBackend(OfflineBackend):
    """Renders offline, but declares what a paid, keyed provider declares."""

    name = "keyvault"
    default_model = "kv-pixel-1"
    settings_model: ClassVar[type[BaseSettings]] = KeyvaultSettings
    needs_key: ClassVar[bool] = True
    key_env_vars: ClassVar[tuple[str, ...]] = ("KEYVAULT_API_KEY",)
    pricing_help: ClassVar[str] = "set MEDIAGEN_KEYVAULT_PRICES"

    @classmethod
    def has_key(cls, settings: Settings) -> bool:
        return cls.own_settings(settings).api_key is not None

    @classmethod
    def check_configuration(cls, settings: Settings) -> None:
        if not cls.has_key(settings):
            raise ConfigurationError(f"backend 'keyvault' needs {cls.key_env_vars[0]}")

    @classmethod
    def secrets(cls, settings: Settings) -> list[str]:
        key = cls.own_settings(settings).api_key
        return [key.get_secret_value()] if key is not None else []

    @classmethod
    def unpriced_models(
        cls, request: GenerationRequest, settings: Settings, *, describes: bool
    ) -> set[str]:
        return {m for m in (request.model or cls.default_model,) if m not in PRICED}

    @classmethod
    def retry_window(cls, settings: Settings) -> float:
        return cls.own_settings(settings).max_wait

    @classmethod
    def catalogue(cls, settings: Settings) -> ModelCatalogue:
        record: dict[str, Any] = {"id": "kv-pixel-1", "kind": "image", "status": "ga"}
        return ModelCatalogue("Keyvault models (facts checked 2026-01-01)", "2026-01-01", [record])


@pytest.fixture
def keyvault(workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[KeyvaultBackend]]:
    monkeypatch.delenv("KEYVAULT_API_KEY", raising=False)
    saved = dict(backends.BUILTIN_BACKENDS)
    backends.register_implementation("keyvault", KeyvaultBackend)
    yield KeyvaultBackend
    backends.BUILTIN_BACKENDS.clear()
    backends.BUILTIN_BACKENDS.update(saved)


def _plan(model: str | None = None, budget: float | None = None) -> tuple[Any, Any, Settings]:
    image: dict[str, Any] = {"id": "a", "prompt": "a lighthouse", "size": "thumbnail"}
    if model:
        image["model"] = model
    data: dict[str, Any] = {"name": "kv", "backend": "keyvault", "images": [image]}
    if budget is not None:
        data["budget_usd"] = budget
    spec = parse_spec(data)
    settings = get_settings()
    return spec, make_plan(expand_spec(spec, settings), None, settings), settings


def test_preflight_reports_the_key_the_backend_declares(keyvault, monkeypatch) -> None:
    spec, plan, settings = _plan()
    with pytest.raises(ConfigurationError, match="backend 'keyvault' needs KEYVAULT_API_KEY"):
        preflight.check_run(spec, plan, settings)
    monkeypatch.setenv("KEYVAULT_API_KEY", KEY)
    preflight.check_run(spec, plan, get_settings())  # keyed: fine


def test_a_budget_needs_the_prices_the_backend_lacks(keyvault, monkeypatch) -> None:
    monkeypatch.setenv("KEYVAULT_API_KEY", KEY)
    spec, plan, settings = _plan(model="kv-pixel-9", budget=1.0)
    message = (
        "budget_usd is set but no price is known for 'kv-pixel-9': set MEDIAGEN_KEYVAULT_PRICES "
        "so the budget can be enforced"
    )
    with pytest.raises(ConfigurationError, match=message):
        preflight.check_run(spec, plan, settings)
    spec, plan, settings = _plan(model="kv-pixel-1", budget=1.0)
    preflight.check_run(spec, plan, settings)  # priced: fine


def test_auto_picks_it_when_its_key_is_set(keyvault, monkeypatch) -> None:
    monkeypatch.setenv("MEDIAGEN_BACKEND", "auto")
    assert backends.resolve_backend_name(None, get_settings()) == "offline"  # no key anywhere
    monkeypatch.setenv("KEYVAULT_API_KEY", KEY)
    assert backends.resolve_backend_name(None, get_settings()) == "keyvault"


def test_its_key_is_redacted_and_its_retry_bound_counts(keyvault, monkeypatch) -> None:
    monkeypatch.setenv("KEYVAULT_API_KEY", KEY)
    monkeypatch.setenv("MEDIAGEN_GEMINI_FLEX_MAX_WAIT", "90")  # gemini's longest: its flex tier
    assert KEY in backends.configured_secrets(get_settings())
    assert backends.retry_window(get_settings()) == 240.0
    options = get_settings().with_backend_options("keyvault", {"api_key": "kv-other-key-77"})
    assert "kv-other-key-77" in backends.configured_secrets(options)


def test_mediagen_models_shows_its_catalogue_too(keyvault, caplog) -> None:
    caplog.set_level(logging.WARNING)
    table = CliRunner().invoke(app, ["models"], env={"COLUMNS": "240"})
    assert table.exit_code == 0, table.output
    assert "Keyvault models (facts checked 2026-01-01)" in table.output
    assert "Gemini models (facts checked" in table.output  # the built-in one is still there
    data = json.loads(CliRunner().invoke(app, ["models", "--json"]).output)
    mine = [m for m in data["models"] if m["backend"] == "keyvault"]
    assert [m["id"] for m in mine] == ["kv-pixel-1"] and data["checked"] == "2026-01-01"


def test_a_malformed_backend_setting_does_not_stop_redaction(keyvault, monkeypatch) -> None:
    monkeypatch.setenv("KEYVAULT_API_KEY", KEY)
    monkeypatch.setenv("MEDIAGEN_GEMINI_TIMEOUT", "forever")  # the built-in one cannot load
    assert backends.configured_secrets(get_settings()) == [KEY]
