"""The backend registry: built-ins, lazy import with install hints, entry-point plugins."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mediagen import backends
from mediagen.backends.offline import OfflineBackend
from mediagen.errors import ConfigurationError
from mediagen.settings import Settings


def test_builtin_offline_resolves_lazily() -> None:
    assert backends.get_backend_class("offline") is OfflineBackend


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown backend 'nope'.*offline"):
        backends.get_backend_class("nope")


def test_missing_dependency_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(backends.BUILTIN_BACKENDS, "ghost", "not_installed_pkg.mod:Ghost")
    monkeypatch.setitem(backends.INSTALL_HINTS, "ghost", "pip install ghost-backend")
    with pytest.raises(ConfigurationError, match="pip install ghost-backend") as info:
        backends.get_backend_class("ghost")
    assert isinstance(info.value.__cause__, ImportError)


def test_plugins_come_in_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "demo_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{backends.ENTRY_POINT_GROUP}]\ndemo = tests.support.backends:CountingBackend\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert backends.available_backends()["demo"] == "tests.support.backends:CountingBackend"
    assert backends.get_backend_class("demo").__name__ == "CountingBackend"
    assert "tests.support.backends" in sys.modules


def test_a_plugin_that_is_not_a_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(backends.BUILTIN_BACKENDS, "wrong", "pathlib:Path")
    with pytest.raises(ConfigurationError, match="not a Backend subclass"):
        backends.get_backend_class("wrong")


def test_auto_picks_offline_without_a_key_and_gemini_with_one() -> None:
    assert (
        backends.resolve_backend_name(None, Settings(backend="auto", _env_file=None)) == "offline"
    )
    keyed = Settings(backend="auto", _env_file=None).with_backend_options(
        "gemini", {"api_key": "k"}
    )
    assert backends.resolve_backend_name(None, keyed) == "gemini"
    assert backends.resolve_backend_name("offline", keyed) == "offline"
