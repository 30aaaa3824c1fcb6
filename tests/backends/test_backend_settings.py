"""A backend's own settings: read from the environment and ``.env`` under the names users
know, options given in code on top, per ``Settings`` instance (two clients, two keys),
one-line errors naming the variable, and never a key in an error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediagen.backends.gemini.backend import GeminiBackend
from mediagen.backends.gemini.settings import GeminiConfig, GeminiSettings
from mediagen.cli.app import app
from mediagen.client.config import ClientConfig
from mediagen.errors import ConfigurationError
from mediagen.settings import Settings, get_settings
from mediagen.testing import FakeGeminiServer
from tests.support.gemini import make_request

KEY_A, KEY_B = "AIzaFAKE-client-a-key-01234", "AIzaFAKE-client-b-key-56789"


def own(settings: Settings) -> GeminiSettings:
    return GeminiBackend.own_settings(settings)


def test_the_vendor_names_and_the_mediagen_names_are_read(workspace, monkeypatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "from-google-name")
    monkeypatch.setenv("MEDIAGEN_GEMINI_TIMEOUT", "7.5")
    monkeypatch.setenv("MEDIAGEN_GEMINI_DESCRIBE_MODEL", "gemini-x-text")
    monkeypatch.setenv("MEDIAGEN_GEMINI_PRICING", '{"m": {"input_per_million": 3}}')
    read = own(get_settings())
    assert read.api_key is not None and read.api_key.get_secret_value() == "from-google-name"
    assert (read.timeout, read.describe_model) == (7.5, "gemini-x-text")
    assert read.pricing["m"].input_per_million == 3
    monkeypatch.setenv("GEMINI_API_KEY", "from-gemini-name")  # the first name wins
    assert own(get_settings()).api_key.get_secret_value() == "from-gemini-name"  # type: ignore[union-attr]
    assert "gemini_api_key" not in Settings.model_fields  # the core holds no provider field


def test_dotenv_is_read_unless_the_settings_were_told_not_to(workspace: Path) -> None:
    (workspace / ".env").write_text("GEMINI_API_KEY=from-dotenv-file\nMEDIAGEN_GEMINI_MAX_WAIT=3\n")
    read = own(Settings())
    assert read.api_key is not None and read.api_key.get_secret_value() == "from-dotenv-file"
    assert read.max_wait == 3
    isolated = own(Settings(_env_file=None))
    assert isolated.api_key is None and isolated.max_wait == 90.0


def test_options_in_code_win_and_stay_with_their_settings(workspace, monkeypatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "from-environment")
    base = get_settings()
    a = base.with_backend_options("gemini", {"api_key": KEY_A, "timeout": 3})
    b = base.with_backend_options("gemini", {"api_key": KEY_B})
    assert own(a).api_key.get_secret_value() == KEY_A and own(a).timeout == 3  # type: ignore[union-attr]
    assert own(b).api_key.get_secret_value() == KEY_B and own(b).timeout == 120  # type: ignore[union-attr]
    assert own(base).api_key.get_secret_value() == "from-environment"  # type: ignore[union-attr]
    assert own(a) is own(a)  # built once per settings
    assert os.environ["GEMINI_API_KEY"] == "from-environment"  # nobody wrote the environment


def test_a_bad_value_is_one_line_naming_the_variable(workspace, monkeypatch) -> None:
    monkeypatch.setenv("MEDIAGEN_GEMINI_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match=r"^bad setting: MEDIAGEN_GEMINI_TIMEOUT: "):
        GeminiBackend.check_configuration(get_settings())
    monkeypatch.delenv("MEDIAGEN_GEMINI_TIMEOUT")
    monkeypatch.setenv("MEDIAGEN_GEMINI_PRICING", "{not json")
    with pytest.raises(ConfigurationError, match="MEDIAGEN_GEMINI_PRICING: not valid JSON"):
        GeminiBackend.check_configuration(get_settings())
    monkeypatch.delenv("MEDIAGEN_GEMINI_PRICING")
    monkeypatch.setenv("MEDIAGEN_GEMINI_BASE_URL", f"ftp://{KEY_A}")
    with pytest.raises(ConfigurationError, match="MEDIAGEN_GEMINI_BASE_URL") as info:
        GeminiBackend.check_configuration(get_settings())
    assert "\n" not in str(info.value)


def test_a_key_of_the_wrong_shape_is_not_echoed(workspace) -> None:
    bad = get_settings().with_backend_options("gemini", {"api_key": ["AIzaSECRET-in-a-list"]})
    with pytest.raises(ConfigurationError) as info:
        GeminiBackend.check_configuration(bad)
    assert "GEMINI_API_KEY" in str(info.value) and "AIzaSECRET" not in str(info.value)


def test_two_clients_with_different_keys_coexist(workspace) -> None:
    """Each client's key reaches its own server through the real SDK; the env is untouched."""
    with (
        FakeGeminiServer(api_key=KEY_A, image_side=64, max_side=128) as server_a,
        FakeGeminiServer(api_key=KEY_B, image_side=64, max_side=128) as server_b,
    ):
        configs = [
            ClientConfig(gemini=GeminiConfig(api_key=KEY_A, base_url=server_a.base_url)),
            ClientConfig(gemini=GeminiConfig(api_key=KEY_B, base_url=server_b.base_url)),
        ]
        made = [GeminiBackend(config.settings()) for config in configs]
        try:
            for backend in (*made, *reversed(made)):
                assert backend.generate(make_request(width=64, height=64)).data
        finally:
            for backend in made:
                backend.close()
    assert [r.api_key for r in server_a.requests] == [KEY_A, KEY_A]
    assert [r.api_key for r in server_b.requests] == [KEY_B, KEY_B]
    assert not {"GEMINI_API_KEY", "GOOGLE_API_KEY", "MEDIAGEN_GEMINI_API_KEY"} & set(os.environ)


def test_the_client_config_asks_its_backend_group_what_is_missing(workspace) -> None:
    config = ClientConfig(backend="gemini", gemini=GeminiConfig())
    assert any("GEMINI_API_KEY is not set" in p for p in config.problems())
    keyed = ClientConfig(backend="gemini", gemini=GeminiConfig(api_key=KEY_A))
    assert not any("GEMINI_API_KEY" in p for p in keyed.problems())
    assert keyed.backend_configs() == {"gemini": keyed.gemini}


def test_a_bad_setting_of_the_chosen_backend_stops_validate(workspace, monkeypatch) -> None:
    (workspace / "s.yaml").write_text("name: s\nimages:\n  - id: a\n    prompt: a jar\n")
    monkeypatch.setenv("GEMINI_API_KEY", KEY_A)
    monkeypatch.setenv("MEDIAGEN_GEMINI_TIMEOUT", "forever")
    monkeypatch.setenv("MEDIAGEN_BACKEND", "gemini")
    result = CliRunner().invoke(app, ["validate", "s.yaml"])
    assert result.exit_code == 2, result.output
    assert "bad setting: MEDIAGEN_GEMINI_TIMEOUT: " in result.output
    assert "Traceback" not in result.output and KEY_A not in result.output
    # A backend the spec does not use is not read at all (its settings are its own).
    monkeypatch.setenv("MEDIAGEN_BACKEND", "offline")
    offline = CliRunner().invoke(app, ["validate", "s.yaml"])
    assert offline.exit_code == 0, offline.output


def test_from_options_builds_an_instance_with_its_own_key(workspace) -> None:
    with FakeGeminiServer(api_key=KEY_B, image_side=64, max_side=128) as server:
        backend = GeminiBackend.from_options(
            get_settings(), {"api_key": KEY_B, "base_url": server.base_url}
        )
        try:
            backend.generate(make_request(width=64, height=64))
        finally:
            backend.close()
    assert [r.api_key for r in server.requests] == [KEY_B]
    with pytest.raises(ConfigurationError, match="needs an API key"):
        GeminiBackend(get_settings())  # the options stayed with that instance
